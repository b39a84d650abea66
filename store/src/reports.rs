//! Reads the reports start from: every case of a period as the reports read it, in one query
//! from the stored folds, and the homes per tenure an admin sets for each year.

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
    threads: [JoinHandle<(Vec<ReportCase>, Vec<String>)>; 2],
    next: usize,
}

impl Decoders {
    fn start() -> Self {
        let start = || {
            let (queue, batches) = mpsc::channel(2);
            (queue, tokio::task::spawn_blocking(move || decode(batches)))
        };
        let ((first, one), (second, other)) = (start(), start());
        Self {
            queues: [first, second],
            threads: [one, other],
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
        let mut cases = Vec::new();
        let mut stale = Vec::new();
        for thread in self.threads {
            let (more, older) = match thread.await {
                Ok(decoded) => decoded,
                // Decoding does not panic; if it ever did, the request fails as it would have.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            cases.extend(more);
            stale.extend(older);
        }
        (cases, stale)
    }
}

/// Decodes every batch it is handed until its queue closes.
fn decode(mut batches: mpsc::Receiver<Vec<(String, String)>>) -> (Vec<ReportCase>, Vec<String>) {
    let mut cases = Vec::new();
    let mut stale = Vec::new();
    while let Some(batch) = batches.blocking_recv() {
        for (id, body) in batch {
            match serde_json::from_str::<ReportRecord>(&body) {
                Ok(record) if record.usable(&id) => cases.push(record.case()),
                _ => stale.push(id),
            }
        }
    }
    (cases, stale)
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

    fn rows(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|n| (format!("case-{n}"), "not a fold".to_string()))
            .collect()
    }

    fn ids(rows: &[(String, String)]) -> Vec<String> {
        rows.iter().map(|(id, _)| id.clone()).collect()
    }

    fn in_order(mut ids: Vec<String>) -> Vec<String> {
        ids.sort_by_key(|id| id[5..].parse::<usize>().unwrap());
        ids
    }

    /// Every row read comes back once, from whichever decoder took its batch: here as the
    /// id of a fold that cannot be read, so that rows of no case suffice. Eight
    /// batches and a part, so that each decoder is handed more than it takes ahead and the
    /// read waits for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_row_read_is_decoded_once() {
        for n in [1, BATCH - 1, BATCH, BATCH + 1, 8 * BATCH + BATCH / 2] {
            let read = rows(n);
            let mut decoders = Decoders::start();
            let stream = futures::stream::iter(read.clone().into_iter().map(Ok::<_, ()>));
            assert_eq!(decoders.take_all(stream).await, Ok(()));
            let (cases, stale) = decoders.finish().await;
            assert!(cases.is_empty());
            assert_eq!(in_order(stale), ids(&read), "{n} rows");
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
        let (_, stale) = decoders.finish().await;
        assert_eq!(in_order(stale), ids(&read));
    }

    #[tokio::test]
    async fn decoders_handed_nothing_give_nothing() {
        let (cases, stale) = Decoders::start().finish().await;
        assert!(cases.is_empty() && stale.is_empty());
    }
}
