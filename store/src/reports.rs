//! Reads the reports start from: every case's view over a period, read in two queries (the
//! folds and their list entries), and the homes per tenure an admin sets for each year.

use std::collections::HashMap;

use casefile_domain::Calendar;
use casefile_projections::case_view::{CaseItem, CaseRecord};
use casefile_projections::reports::{Homes, ReportingYear};
use casefile_projections::CaseView;
use chrono::{NaiveDate, Utc};

use crate::events::LoadError;
use crate::records::entry_from_row;
use crate::{on_pool, on_writer, Store};

/// Cases that had anything to report between `from` and `to`: received on or before `to`
/// and still open, or last leaving the open state, on or after `from`.
const IN_PERIOD: &str = "SELECT id FROM case_summaries \
     WHERE received_on <= $1 AND (ended_on IS NULL OR ended_on >= $2)";

impl Store {
    /// The views, as they stand on `today`, of the cases received or active between `from`
    /// and `to` (inclusive), in no particular order. One query reads the folds and one the
    /// list entries, whatever the number of cases.
    pub async fn case_views_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Result<Vec<CaseView>, LoadError> {
        let (to, from) = (to.to_string(), from.to_string());
        let records_sql = format!("SELECT id, body FROM case_records WHERE id IN ({IN_PERIOD})");
        let items_sql = format!(
            "SELECT case_id, list, body FROM case_items WHERE case_id IN ({IN_PERIOD}) \
             ORDER BY case_id, sequence"
        );
        let records = on_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String)>(&records_sql)
                .bind(&to)
                .bind(&from)
                .fetch_all(pool)
                .await
        })?;
        let items = on_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String, String)>(&items_sql)
                .bind(&to)
                .bind(&from)
                .fetch_all(pool)
                .await
        })?;
        let mut entries: HashMap<String, Vec<CaseItem>> = HashMap::new();
        for (case_id, list, body) in items {
            let item = entry_from_row(&list, &body).map_err(|e| LoadError::Corrupt {
                id: case_id.clone(),
                sequence: 0,
                message: format!("{list} entry: {e}"),
            })?;
            entries.entry(case_id).or_default().push(item);
        }
        let mut views = Vec::with_capacity(records.len());
        for (id, body) in records {
            views.push(match usable(&id, &body) {
                Some(record) => {
                    record.view(calendar, today, entries.remove(&id).unwrap_or_default())
                }
                // A fold of an older format: this one case is folded from its events.
                None => match self.case_view(&id, calendar, today).await? {
                    Some(view) => view,
                    None => continue,
                },
            });
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
                None => match self.case_view(&id, calendar, today).await? {
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

/// The stored fold, if it is of the current format and of this case.
fn usable(id: &str, body: &str) -> Option<CaseRecord> {
    serde_json::from_str::<CaseRecord>(body)
        .ok()
        .filter(|record| record.format == CaseRecord::FORMAT && record.view.id == id)
}
