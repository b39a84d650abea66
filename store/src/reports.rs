//! Reads the reports start from: every case's view over a period, read in one query from the
//! stored folds, and the homes per tenure an admin sets for each year.

use casefile_domain::Calendar;
use casefile_projections::case_view::{CaseRecord, ReportRecord};
use casefile_projections::reports::{Homes, ReportingYear};
use casefile_projections::CaseView;
use chrono::{NaiveDate, Utc};

use crate::events::LoadError;
use crate::records::Lists;
use crate::{on_pool, on_writer, Store};

/// Cases that had anything to report between `from` and `to`: received on or before `to`
/// and still open, or last leaving the open state, on or after `from`.
const IN_PERIOD: &str = "SELECT id FROM case_summaries \
     WHERE received_on <= $1 AND (ended_on IS NULL OR ended_on >= $2)";

impl Store {
    /// The cases received or active between `from` and `to` (inclusive), as the reports
    /// read them on `today`, in no particular order: each case's view from its stored fold
    /// alone (see [`ReportRecord::view`]), without list entries or deadlines, which no report
    /// reads. One query, whatever the number of cases; the folds are decoded on both cores.
    pub async fn report_views_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Result<Vec<CaseView>, LoadError> {
        let (to, from) = (to.to_string(), from.to_string());
        let records_sql = format!("SELECT id, body FROM case_records WHERE id IN ({IN_PERIOD})");
        let records = on_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String)>(&records_sql)
                .bind(&to)
                .bind(&from)
                .fetch_all(pool)
                .await
        })?;
        let (mut views, stale) = decode_for_reports(records, today).await;
        for id in stale {
            // A fold of an older format: this one case is folded from its events.
            if let Some(view) = self.case_view(&id, calendar, today, Lists::All).await? {
                views.push(view);
            }
        }
        Ok(views)
    }

    /// The views of every case, without their list entries (notes, correspondence,
    /// evidence, links): what a list across cases of what each case holds reads from.
    pub async fn case_views_without_items(
        &self,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Result<Vec<CaseView>, LoadError> {
        let sql = "SELECT id, body FROM case_records ORDER BY id";
        let records = on_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String)>(sql)
                .fetch_all(pool)
                .await
        })?;
        let mut views = Vec::with_capacity(records.len());
        for (id, body) in records {
            views.push(match usable(&id, &body) {
                Some(record) => record.view(calendar, today, Vec::new()),
                None => match self.case_view(&id, calendar, today, Lists::All).await? {
                    Some(view) => view,
                    None => continue,
                },
            });
        }
        Ok(views)
    }

    /// The homes per tenure set for `year`, if an admin has set them.
    pub async fn homes(&self, year: ReportingYear) -> Result<Option<Homes>, sqlx::Error> {
        let sql = "SELECT lcra, lcho FROM organisation_homes WHERE year = $1";
        let row = on_pool!(self, |pool| {
            sqlx::query_as::<_, (i64, i64)>(sql)
                .bind(year.to_string())
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(lcra, lcho)| Homes {
            year,
            lcra: u64::try_from(lcra).unwrap_or(0),
            lcho: u64::try_from(lcho).unwrap_or(0),
        }))
    }

    /// Sets the homes per tenure for their year, replacing any set before.
    pub async fn set_homes(&self, homes: &Homes, by: &str) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO organisation_homes (year, lcra, lcho, updated_at, updated_by) \
                   VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (year) DO UPDATE SET lcra = excluded.lcra, lcho = excluded.lcho, \
                   updated_at = excluded.updated_at, updated_by = excluded.updated_by";
        let lcra = i64::try_from(homes.lcra).unwrap_or(i64::MAX);
        let lcho = i64::try_from(homes.lcho).unwrap_or(i64::MAX);
        on_writer!(self, |pool| {
            sqlx::query(sql)
                .bind(homes.year.to_string())
                .bind(lcra)
                .bind(lcho)
                .bind(Utc::now().to_rfc3339())
                .bind(by)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}

/// Each fold's view for the reports, and the ids of the folds that cannot give one. The
/// decoding is most of a report's time, so it is split across two threads off the async
/// workers.
async fn decode_for_reports(
    records: Vec<(String, String)>,
    today: NaiveDate,
) -> (Vec<CaseView>, Vec<String>) {
    fn decode(records: Vec<(String, String)>, today: NaiveDate) -> (Vec<CaseView>, Vec<String>) {
        let mut views = Vec::with_capacity(records.len());
        let mut stale = Vec::new();
        for (id, body) in records {
            match serde_json::from_str::<ReportRecord>(&body) {
                Ok(record) if record.format == CaseRecord::FORMAT && record.id() == id => {
                    views.push(record.view(today));
                }
                _ => stale.push(id),
            }
        }
        (views, stale)
    }
    let mut first = records;
    let second = first.split_off(first.len() / 2);
    let halves =
        [first, second].map(|half| tokio::task::spawn_blocking(move || decode(half, today)));
    let mut views = Vec::new();
    let mut stale = Vec::new();
    for half in halves {
        let (more, older) = match half.await {
            Ok(decoded) => decoded,
            // Decoding does not panic; if it ever did, the request fails as it would have.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        views.extend(more);
        stale.extend(older);
    }
    (views, stale)
}

/// The stored fold, if it is of the current format and of this case.
fn usable(id: &str, body: &str) -> Option<CaseRecord> {
    serde_json::from_str::<CaseRecord>(body)
        .ok()
        .filter(|record| record.format == CaseRecord::FORMAT && record.view.id == id)
}
