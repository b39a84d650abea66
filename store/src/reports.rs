//! Reads the reports start from: every case of a period as the reports read it, in one query
//! from the stored folds, and the homes per tenure an admin sets for each year.

use std::sync::{Arc, Mutex, PoisonError};

use casefile_domain::Calendar;
use casefile_projections::case_view::CaseRecord;
use casefile_projections::reports::{Homes, ReportCase, ReportRecord, ReportingYear};
use casefile_projections::CaseView;
use chrono::{NaiveDate, Utc};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::events::LoadError;
use crate::records::Lists;
use crate::{on_pool, on_writer, Store};

/// Cases that had anything to report between `from` and `to`: received on or before `to`
/// and still open, or last leaving the open state, on or after `from`.
const IN_PERIOD: &str = "SELECT id FROM case_summaries \
     WHERE received_on <= $1 AND (ended_on IS NULL OR ended_on >= $2)";

impl Store {
    /// The cases received or active between `from` and `to` (inclusive), as the reports
    /// read them, in no particular order: each from its stored fold alone (see
    /// [`ReportRecord`]). One query, whatever the number of cases. Its rows are decoded
    /// while it is still being read, in batches handed to two threads off the async
    /// workers: the decoding is most of a report's time, and the database reads meanwhile.
    /// Both threads add their cases to one list, which is not copied into another at the end.
    /// `calendar` and `today` fold the rare case whose stored fold is of an older format.
    pub async fn report_cases_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Result<Vec<ReportCase>, LoadError> {
        let (to, from) = (to.to_string(), from.to_string());
        let records_sql = format!("SELECT id, body FROM case_records WHERE id IN ({IN_PERIOD})");
        let mut decoders = Decoders::start();
        let read = on_pool!(self, |pool| {
            let rows = sqlx::query_as::<_, (String, String)>(&records_sql)
                .bind(&to)
                .bind(&from)
                .fetch(pool);
            decoders.take_all(rows).await
        });
        // Whatever the read did, the decoders are let finish before it is answered.
        let (mut cases, stale) = decoders.finish().await;
        read?;
        for id in stale {
            // A fold of an older format: this one case is folded from its events.
            if let Some(view) = self.case_view(&id, calendar, today, Lists::All).await? {
                cases.push(ReportCase::from(&view));
            }
        }
        Ok(cases)
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

/// Rows a decoder is handed at a time: enough that handing over costs nothing beside the
/// decoding, few enough that a batch is little memory (about 1.3 MB of JSON, at 2.6 KB a
/// case).
const BATCH: usize = 512;

/// Two threads decoding the period's folds into cases, handed batches of rows in turn.
/// Each takes up to two batches waiting, so a read that outpaces the decoding waits for
/// them rather than holding every fold in memory.
struct Decoders {
    queues: [mpsc::Sender<Vec<(String, String)>>; 2],
    threads: [JoinHandle<Vec<String>>; 2],
    /// The cases decoded so far, by either thread.
    cases: Arc<Mutex<Vec<ReportCase>>>,
    next: usize,
}

impl Decoders {
    fn start() -> Self {
        let cases = Arc::new(Mutex::new(Vec::new()));
        let start = || {
            let (queue, batches) = mpsc::channel(2);
            let cases = cases.clone();
            (
                queue,
                tokio::task::spawn_blocking(move || decode(batches, &cases)),
            )
        };
        let ((first, one), (second, other)) = (start(), start());
        Self {
            queues: [first, second],
            threads: [one, other],
            cases,
            next: 0,
        }
    }

    /// Hands every row of `rows` over in batches, until the rows end or one is an error,
    /// which it returns; the rows before it are handed over all the same.
    async fn take_all<E>(
        &mut self,
        mut rows: impl Stream<Item = Result<(String, String), E>> + Unpin,
    ) -> Result<(), E> {
        let mut batch = Vec::with_capacity(BATCH);
        let mut read = Ok(());
        while let Some(row) = rows.next().await {
            match row {
                Ok(row) => batch.push(row),
                Err(e) => {
                    read = Err(e);
                    break;
                }
            }
            if batch.len() == BATCH
                && !self
                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .await
            {
                // A decoder stopped by panicking, which `finish` passes on: reading on is
                // of no use.
                return read;
            }
        }
        self.send(batch).await;
        read
    }

    /// Whether the decoder whose turn it is took `batch`; `false` only if it panicked.
    async fn send(&mut self, batch: Vec<(String, String)>) -> bool {
        if batch.is_empty() {
            return true;
        }
        let taken = self.queues[self.next].send(batch).await.is_ok();
        self.next = 1 - self.next;
        taken
    }

    /// Each fold's case, and the ids of the folds that cannot give one.
    async fn finish(self) -> (Vec<ReportCase>, Vec<String>) {
        drop(self.queues);
        let mut stale = Vec::new();
        for thread in self.threads {
            match thread.await {
                Ok(older) => stale.extend(older),
                // Decoding does not panic; if it ever did, the request fails as it would have.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        (std::mem::take(&mut *lock(&self.cases)), stale)
    }
}

/// Decodes every batch it is handed until its queue closes, adding each batch's cases to
/// `cases`; gives the ids of the folds that could not be read.
fn decode(
    mut batches: mpsc::Receiver<Vec<(String, String)>>,
    cases: &Mutex<Vec<ReportCase>>,
) -> Vec<String> {
    let mut decoded = Vec::with_capacity(BATCH);
    let mut stale = Vec::new();
    while let Some(batch) = batches.blocking_recv() {
        for (id, body) in batch {
            match serde_json::from_str::<ReportRecord>(&body) {
                Ok(record) if record.usable(&id) => decoded.push(record.case()),
                _ => stale.push(id),
            }
        }
        lock(cases).append(&mut decoded);
    }
    stale
}

/// The list behind `cases`. Nothing panics while holding it, and a list of whole cases
/// would be sound even if something did.
fn lock(cases: &Mutex<Vec<ReportCase>>) -> std::sync::MutexGuard<'_, Vec<ReportCase>> {
    cases.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stored fold, if it is of the current format and of this case.
fn usable(id: &str, body: &str) -> Option<CaseRecord> {
    serde_json::from_str::<CaseRecord>(body)
        .ok()
        .filter(|record| record.format == CaseRecord::FORMAT && record.view.id == id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `n` rows, every third a fold of the current format, with as little in it as a
    /// stored fold can have, and the others not folds at all.
    fn rows(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|n| {
                let id = format!("case-{n}");
                let body = if n % 3 == 0 {
                    serde_json::json!({
                        "format": CaseRecord::FORMAT,
                        "view": {
                            "id": id,
                            "reference": format!("CF-{n}"),
                            "procedure": {"id": "chc-2024"},
                            "division": "england-and-wales",
                            "received_on": "2025-04-01",
                            "channel": "email",
                            "extensions": [],
                        },
                        "state": {"status": "open"},
                    })
                    .to_string()
                } else {
                    "not a fold".to_string()
                };
                (id, body)
            })
            .collect()
    }

    /// The ids of the rows that are folds (`true`) or not.
    fn ids(rows: &[(String, String)], folds: bool) -> Vec<String> {
        rows.iter()
            .filter(|(_, body)| body.starts_with('{') == folds)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn in_order(mut ids: Vec<String>) -> Vec<String> {
        ids.sort_by_key(|id| id[5..].parse::<usize>().unwrap());
        ids
    }

    /// Every row read comes back once, from whichever decoder took its batch: as its case,
    /// or as the id of a fold that cannot be read. Eight batches and a part, so that each
    /// decoder is handed more than it takes ahead and the read waits for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_row_read_is_decoded_once() {
        for n in [1, BATCH - 1, BATCH, BATCH + 1, 8 * BATCH + BATCH / 2] {
            let read = rows(n);
            let mut decoders = Decoders::start();
            let stream = futures::stream::iter(read.clone().into_iter().map(Ok::<_, ()>));
            assert_eq!(decoders.take_all(stream).await, Ok(()));
            let (cases, stale) = decoders.finish().await;
            let cases = cases.into_iter().map(|case| case.id).collect();
            assert_eq!(in_order(cases), ids(&read, true), "{n} rows");
            assert_eq!(in_order(stale), ids(&read, false), "{n} rows");
        }
    }

    /// A read that fails gives its error, and the rows read before it are decoded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_read_gives_its_error_after_the_rows_before_it() {
        let read = rows(BATCH + 7);
        let stream = futures::stream::iter(
            read.clone()
                .into_iter()
                .map(Ok)
                .chain([Err("gone"), Ok(("after".into(), "not a fold".into()))]),
        );
        let mut decoders = Decoders::start();
        assert_eq!(decoders.take_all(stream).await, Err("gone"));
        let (cases, stale) = decoders.finish().await;
        let cases = cases.into_iter().map(|case| case.id).collect();
        assert_eq!(in_order(cases), ids(&read, true));
        assert_eq!(in_order(stale), ids(&read, false));
    }

    #[tokio::test]
    async fn decoders_handed_nothing_give_nothing() {
        let (cases, stale) = Decoders::start().finish().await;
        assert!(cases.is_empty() && stale.is_empty());
    }
}
