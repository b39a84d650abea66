//! Every read model from the events: the case folds, list entries, queue rows and open
//! deadlines. The commit writes the same rows from the same functions, so a rebuild of a
//! healthy store changes no row.

use casefile_domain::{uk_date, Calendar, Complaint};
use cqrs_es::Aggregate;

use crate::chain::{canonical, link};
use crate::commit::{derived_rows, write_summary};
use crate::events::{EventRow, LoadError};
use crate::records::{entry_row, fold_rows};
use crate::{on_writer, to_i64, Store};

/// How many events the rebuild reads per query.
const PAGE: i64 = 5_000;

/// Progress of a rebuild, after each case.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub cases: u64,
    pub events: u64,
}

impl Store {
    /// Truncates every read model and folds every case again, in one transaction, so readers
    /// see the old rows until the new ones are all there. `progress` is called after each
    /// case.
    pub async fn rebuild(
        &self,
        calendar: &Calendar,
        mut progress: impl FnMut(Progress),
    ) -> Result<Progress, LoadError> {
        let mut done = Progress::default();
        on_writer!(self, |pool| {
            let mut tx = pool.begin().await?;
            for table in [
                "case_records",
                "case_items",
                "case_summaries",
                "case_deadlines",
            ] {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
            }
            let select = format!(
                "SELECT {} FROM events WHERE aggregate_type = $1 AND (aggregate_id, sequence) > ($2, $3) \
                 ORDER BY aggregate_id, sequence LIMIT $4",
                crate::events::columns(self)
            );
            let mut after = (String::new(), 0_i64);
            let mut case: Vec<EventRow> = Vec::new();
            loop {
                let rows = sqlx::query(&select)
                    .bind(Complaint::TYPE)
                    .bind(&after.0)
                    .bind(after.1)
                    .bind(PAGE)
                    .fetch_all(&mut *tx)
                    .await?;
                let page = rows
                    .iter()
                    .map(EventRow::from_row)
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                let last_page = (page.len() as i64) < PAGE;
                if let Some(last) = page.last() {
                    after = (last.aggregate_id.clone(), last.sequence);
                }
                for row in page {
                    if case
                        .last()
                        .is_some_and(|c| c.aggregate_id != row.aggregate_id)
                    {
                        let rows = std::mem::take(&mut case);
                        write_case(&mut *tx, &rows, calendar).await?;
                        done.cases += 1;
                        done.events += rows.len() as u64;
                        progress(done);
                    }
                    case.push(row);
                }
                if last_page {
                    break;
                }
            }
            if !case.is_empty() {
                write_case(&mut *tx, &case, calendar).await?;
                done.cases += 1;
                done.events += case.len() as u64;
                progress(done);
            }
            tx.commit().await?;
        });
        Ok(done)
    }

    /// Brings a store written by an earlier version up to date at start-up: links events
    /// that predate the hash chain, and folds the cases that have no stored fold (the
    /// migration that reshaped the read models dropped their rows). Does nothing on a store
    /// that needs nothing.
    pub async fn repair(&self, calendar: &Calendar) -> Result<u64, LoadError> {
        let unlinked = "SELECT DISTINCT aggregate_id FROM events WHERE hash IS NULL";
        let unfolded = "SELECT e.aggregate_id FROM events e \
                        LEFT JOIN case_records r ON r.id = e.aggregate_id \
                        WHERE e.sequence = 1 AND e.aggregate_type = 'Complaint' AND r.id IS NULL";
        let mut repaired = 0;
        on_writer!(self, |pool| {
            let ids: Vec<String> = sqlx::query_scalar(unlinked).fetch_all(pool).await?;
            for id in &ids {
                let mut tx = pool.begin().await?;
                let rows = self.case_rows_after(id, 0).await?;
                let mut prev = String::new();
                for row in &rows {
                    let chain = row.chain_row()?;
                    let hash = link(
                        &prev,
                        &canonical(
                            id,
                            chain.sequence,
                            &chain.event_type,
                            &chain.event_version,
                            &chain.payload,
                            &chain.metadata,
                        ),
                    );
                    sqlx::query(
                        "UPDATE events SET prev_hash = $1, hash = $2 \
                         WHERE aggregate_id = $3 AND sequence = $4 AND hash IS NULL",
                    )
                    .bind(&prev)
                    .bind(&hash)
                    .bind(id)
                    .bind(row.sequence)
                    .execute(&mut *tx)
                    .await?;
                    prev = hash;
                }
                tx.commit().await?;
            }
            let ids: Vec<String> = sqlx::query_scalar(unfolded).fetch_all(pool).await?;
            for id in &ids {
                let rows = self.case_rows_after(id, 0).await?;
                let mut tx = pool.begin().await?;
                write_case(&mut *tx, &rows, calendar).await?;
                tx.commit().await?;
                repaired += 1;
            }
        });
        if repaired > 0 {
            tracing::info!(cases = repaired, "folded cases that had no stored fold");
        }
        Ok(repaired)
    }
}

/// Writes the read-model rows of one case folded from all its rows. Deadline states in the
/// queue row's body are as of the day its last event was recorded, as the commit wrote them.
async fn write_case<'c, C>(conn: C, rows: &[EventRow], calendar: &Calendar) -> Result<(), LoadError>
where
    C: sqlx::Acquire<'c>,
    for<'q> <C::Database as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, C::Database>,
    for<'e> &'e mut <C::Database as sqlx::Database>::Connection:
        sqlx::Executor<'e, Database = C::Database>,
    for<'q> String: sqlx::Encode<'q, C::Database> + sqlx::Type<C::Database>,
    for<'q> Option<String>: sqlx::Encode<'q, C::Database> + sqlx::Type<C::Database>,
    for<'q> i64: sqlx::Encode<'q, C::Database> + sqlx::Type<C::Database>,
{
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let id = first.aggregate_id.clone();
    let Some(loaded) = fold_rows(&id, rows)? else {
        return Ok(());
    };
    let last_day = match rows.last() {
        Some(row) => uk_date(row.recorded_at()?),
        None => return Ok(()),
    };
    let items = loaded.refolded_items.clone().unwrap_or_default();
    let view = loaded.record.view(
        calendar,
        last_day,
        items.iter().map(|(_, item)| item.clone()),
    );
    let encode = |e: serde_json::Error| LoadError::Database(sqlx::Error::Encode(Box::new(e)));
    let (summary, steps) = derived_rows(&view).map_err(encode)?;
    let record = serde_json::to_string(&loaded.record).map_err(encode)?;
    let mut conn = conn.acquire().await?;
    sqlx::query(
        "INSERT INTO case_records (id, version, last_hash, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
         last_hash = excluded.last_hash, body = excluded.body",
    )
    .bind(id.clone())
    .bind(to_i64(loaded.record.version()))
    .bind(loaded.last_hash.clone())
    .bind(record)
    .execute(&mut *conn)
    .await?;
    for (sequence, item) in &items {
        let (list, body) = entry_row(item).map_err(encode)?;
        sqlx::query(
            "INSERT INTO case_items (case_id, sequence, list, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id.clone())
        .bind(to_i64(*sequence))
        .bind(list.to_string())
        .bind(body)
        .execute(&mut *conn)
        .await?;
    }
    write_summary(&mut *conn, &summary).await?;
    sqlx::query("DELETE FROM case_deadlines WHERE case_id = $1")
        .bind(id.clone())
        .execute(&mut *conn)
        .await?;
    for step in steps {
        sqlx::query("INSERT INTO case_deadlines (case_id, step, due) VALUES ($1, $2, $3)")
            .bind(id.clone())
            .bind(step.step)
            .bind(step.due.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
