//! Every read model from the events: the case folds, list entries, queue rows and open
//! deadlines. The commit writes the same rows from the same functions, so a rebuild of a
//! healthy store changes no row.

use casefile_domain::{uk_date, Calendar, Complaint};
use cqrs_es::Aggregate;

use crate::chain::{canonical, link};
use crate::commit::{derived_rows, write_summary, DeadlineRow, SummaryRow};
use crate::events::{joined_columns, CaseText, EventRow, LoadError};
use crate::records::{entry_row, fold_rows};
use crate::{on_writer, to_i64, Store};

/// How many cases the rebuild reads per query (about 5,000 events at ten a case).
const PAGE: i64 = 500;

/// Rows per `INSERT`: 19 columns of the queue row times this stays under SQLite's 32,766
/// bound parameters (and PostgreSQL's 65,535).
const ROWS: usize = 1_000;

mod tables;

use tables::Refill;

/// The tables a rebuild empties and fills again.
const READ_MODELS: [&str; 4] = [
    "case_records",
    "case_items",
    "case_summaries",
    "case_deadlines",
];

/// Progress of a rebuild, after each case.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub cases: u64,
    pub events: u64,
}

impl Store {
    /// Empties every read model and folds every case again, in one transaction, so readers
    /// see the old rows until the new ones are all there (how each store empties and
    /// finishes the tables: `rebuild/tables.rs`). `progress` is called after each
    /// case is folded. Each page of events is folded on a blocking thread while the rows of
    /// the page before are written, in multi-row inserts, and the next page is read meanwhile
    /// on a second connection.
    pub async fn rebuild(
        &self,
        calendar: &Calendar,
        mut progress: impl FnMut(Progress),
    ) -> Result<Progress, LoadError> {
        let mut done = Progress::default();
        // Commands wait while a rebuild runs, so it replays every event they committed
        // before it and they write over its rows after it. On SQLite the write lock is taken
        // at `BEGIN`: taken at the first write, after reading, it could not be had once a
        // command had committed meanwhile. On PostgreSQL the read models are locked against
        // writers but not readers: otherwise a case logged meanwhile was both written by
        // its command and replayed here (the rebuild failed on its duplicate key), or
        // changed under the emptied tables.
        let begin = match self {
            Store::Postgres(_) => "BEGIN",
            Store::Sqlite(_) => "BEGIN IMMEDIATE",
        };
        on_writer!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            if matches!(self, Store::Postgres(_)) {
                sqlx::query(&format!(
                    "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                    READ_MODELS.join(", ")
                ))
                .execute(&mut *tx)
                .await?;
                sqlx::query(crate::events::PAGES_IN_INDEX_ORDER)
                    .execute(&mut *tx)
                    .await?;
            }
            let plan = (*tx).empty().await?;
            let mut reader = Reader::begin(self).await?;
            let reads = Reads {
                page: crate::events::case_page_sql(self, &joined_columns(self), PAGE),
                case: format!(
                    "SELECT {} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
                     ORDER BY sequence",
                    crate::events::columns(self)
                ),
            };
            let mut after = String::new();
            // The rows rendered from the previous page, written while this page is folded.
            let mut writing: Option<Batch> = None;
            let mut last_page = false;
            // The next page, read while the batch before is written.
            let mut read_ahead: Option<Vec<Vec<EventRow>>> = None;
            while !last_page {
                let cases = match read_ahead.take() {
                    Some(page) => page,
                    None => reader.cases(&reads, &after).await?,
                };
                last_page = (cases.len() as i64) < PAGE;
                if let Some(last) = cases.last().and_then(|rows| rows.first()) {
                    after.clone_from(&last.aggregate_id);
                }
                let calendar = calendar.clone();
                let rendering = tokio::task::spawn_blocking(move || render_cases(cases, &calendar));
                let write = async {
                    match writing.take() {
                        Some(batch) => batch.insert(&mut *tx, &plan.targets).await,
                        None => Ok(()),
                    }
                };
                if last_page {
                    write.await?;
                } else {
                    let (written, read) = tokio::join!(write, reader.cases(&reads, &after));
                    written?;
                    read_ahead = Some(read?);
                }
                let (batch, sizes) = match rendering.await {
                    Ok(rendered) => rendered?,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                };
                for size in sizes {
                    done.cases += 1;
                    done.events += size;
                    progress(done);
                }
                writing = Some(batch);
            }
            if let Some(batch) = writing {
                batch.insert(&mut *tx, &plan.targets).await?;
            }
            (*tx).finish(plan).await?;
            reader.commit().await?;
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

/// The transaction a rebuild reads events in, beside the one it writes in. The two run at
/// once, on two server processes (PostgreSQL) or two connections' threads (SQLite). On
/// SQLite the reader's snapshot also ends where the rebuild's writes begin, so finding a
/// page does not search the write-ahead log those writes grow (`walFindFrame` was a tenth
/// of a rebuild that read through the writing connection).
enum Reader {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl Reader {
    /// Begun once the writer holds its lock: its snapshot has every command committed
    /// before, and none commits until the rebuild does.
    async fn begin(store: &Store) -> Result<Self, sqlx::Error> {
        Ok(match store {
            Store::Postgres(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?;
                sqlx::query(crate::events::PAGES_IN_INDEX_ORDER)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT 1").execute(&mut *tx).await?;
                Self::Postgres(tx)
            }
            // Its snapshot is taken at its first read, with the write lock held.
            Store::Sqlite(pools) => Self::Sqlite(pools.read.begin().await?),
        })
    }

    async fn cases(&mut self, reads: &Reads, after: &str) -> Result<Vec<Vec<EventRow>>, LoadError> {
        match self {
            Self::Postgres(tx) => read_cases(&mut **tx, reads, after).await,
            Self::Sqlite(tx) => read_cases(&mut **tx, reads, after).await,
        }
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Postgres(tx) => tx.commit().await,
            Self::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// The statements a rebuild reads events with.
struct Reads {
    /// A page of whole cases, one row a case.
    page: String,
    /// One case, a row an event: for a case whose page text does not split.
    case: String,
}

/// The page of whole cases after the case id `after`, each as its event rows in order.
async fn read_cases<C, DB>(
    conn: &mut C,
    reads: &Reads,
    after: &str,
) -> Result<Vec<Vec<EventRow>>, LoadError>
where
    DB: sqlx::Database,
    for<'e> &'e mut C: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
    for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<i64>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<String>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    let page = sqlx::query(&reads.page)
        .bind(Complaint::TYPE)
        .bind(after)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(CaseText::from_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut cases = Vec::with_capacity(page.len());
    for case in page {
        let rows = match case.rows() {
            Some(rows) => rows,
            None => sqlx::query(&reads.case)
                .bind(Complaint::TYPE)
                .bind(case.id.as_str())
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(EventRow::from_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()?,
        };
        cases.push(rows);
    }
    Ok(cases)
}

/// The read-model rows of one case, rendered from all its events: the fold, the list
/// entries, the queue row and the open deadlines.
struct CaseRows {
    id: String,
    version: i64,
    last_hash: String,
    record: String,
    /// `(sequence, list, body)`.
    items: Vec<(i64, &'static str, String)>,
    summary: SummaryRow,
    deadlines: Vec<DeadlineRow>,
}

/// Folds one case from all its rows and renders its read-model rows; `None` for rows that do
/// not start with `Logged`. Deadline states in the queue row's body are as of the day its
/// last event was recorded, as the commit wrote them.
fn render_case(rows: &[EventRow], calendar: &Calendar) -> Result<Option<CaseRows>, LoadError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let id = first.aggregate_id.clone();
    let Some(loaded) = fold_rows(&id, rows)? else {
        return Ok(None);
    };
    let last_day = match rows.last() {
        Some(row) => uk_date(row.recorded_at()?),
        None => return Ok(None),
    };
    let items = loaded.refolded_items.unwrap_or_default();
    let view = loaded.record.view(
        calendar,
        last_day,
        items.iter().map(|(_, item)| item.clone()),
    );
    let encode = |e: serde_json::Error| LoadError::Database(sqlx::Error::Encode(Box::new(e)));
    let (summary, deadlines) = derived_rows(&view, &loaded.record.state).map_err(encode)?;
    let record = serde_json::to_string(&loaded.record).map_err(encode)?;
    let items = items
        .iter()
        .map(|(sequence, item)| {
            let (list, body) = entry_row(item)?;
            Ok((to_i64(*sequence), list, body))
        })
        .collect::<serde_json::Result<Vec<_>>>()
        .map_err(encode)?;
    Ok(Some(CaseRows {
        id,
        version: to_i64(loaded.record.version()),
        last_hash: loaded.last_hash,
        record,
        items,
        summary,
        deadlines,
    }))
}

/// The rows of whole cases, each given as all its event rows, and how many events each had.
/// Folding and rendering is most of a rebuild's work on the client: it runs on a blocking
/// thread while the rows of the page before are written.
fn render_cases(
    cases: Vec<Vec<EventRow>>,
    calendar: &Calendar,
) -> Result<(Batch, Vec<u64>), LoadError> {
    let mut batch = Batch::default();
    let mut sizes = Vec::with_capacity(cases.len());
    for rows in cases {
        batch.extend(render_case(&rows, calendar)?);
        sizes.push(rows.len() as u64);
    }
    Ok((batch, sizes))
}

/// Writes the read-model rows of one case folded from all its rows, over whatever rows it
/// had.
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
    let Some(case) = render_case(rows, calendar)? else {
        return Ok(());
    };
    let mut conn = conn.acquire().await?;
    sqlx::query(
        "INSERT INTO case_records (id, version, last_hash, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
         last_hash = excluded.last_hash, body = excluded.body",
    )
    .bind(case.id.clone())
    .bind(case.version)
    .bind(case.last_hash)
    .bind(case.record)
    .execute(&mut *conn)
    .await?;
    for (sequence, list, body) in case.items {
        sqlx::query(
            "INSERT INTO case_items (case_id, sequence, list, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(case.id.clone())
        .bind(sequence)
        .bind(list.to_string())
        .bind(body)
        .execute(&mut *conn)
        .await?;
    }
    write_summary(&mut *conn, &case.summary).await?;
    sqlx::query("DELETE FROM case_deadlines WHERE case_id = $1")
        .bind(case.id.clone())
        .execute(&mut *conn)
        .await?;
    for d in case.deadlines {
        sqlx::query(
            "INSERT INTO case_deadlines (case_id, step, due, alerted) VALUES ($1, $2, $3, $4)",
        )
        .bind(case.id.clone())
        .bind(d.step)
        .bind(d.due)
        .bind(d.alerted.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The rows of many cases, written to emptied tables a few statements at a time instead of
/// several statements per case: the round trips, not the folding, were most of a rebuild.
#[derive(Default)]
struct Batch {
    records: Vec<Cell>,
    items: Vec<Cell>,
    summaries: Vec<Cell>,
    deadlines: Vec<Cell>,
}

/// One bound value of a row.
enum Cell {
    Text(String),
    Maybe(Option<String>),
    Int(i64),
}

impl Batch {
    fn extend(&mut self, case: Option<CaseRows>) {
        use Cell::*;
        let Some(case) = case else {
            return;
        };
        for (sequence, list, body) in case.items {
            self.items.extend([
                Text(case.id.clone()),
                Int(sequence),
                Text(list.to_string()),
                Text(body),
            ]);
        }
        for d in case.deadlines {
            self.deadlines.extend([
                Text(case.id.clone()),
                Text(d.step),
                Text(d.due),
                Text(d.alerted.to_string()),
            ]);
        }
        let s = case.summary;
        self.summaries.extend([
            Text(s.id),
            Text(s.reference),
            Int(s.version),
            Text(s.procedure),
            Text(s.division),
            Text(s.channel),
            Text(s.status),
            Text(s.stage),
            Maybe(s.owner_id),
            Maybe(s.theme),
            Maybe(s.root_cause),
            Maybe(s.resident_id),
            Text(s.received_on),
            Maybe(s.ended_on),
            Maybe(s.next_due),
            Text(s.due_key),
            Text(s.search),
            Text(s.body),
            Maybe(s.action_due),
        ]);
        self.records.extend([
            Text(case.id),
            Int(case.version),
            Text(case.last_hash),
            Text(case.record),
        ]);
    }

    /// Inserts every row, [`ROWS`] to a statement, into `targets` (the read models' tables
    /// or their stand-ins, in [`READ_MODELS`] order). They were emptied in the same
    /// transaction, so nothing conflicts.
    async fn insert<C, DB>(self, conn: &mut C, targets: &[String]) -> Result<(), sqlx::Error>
    where
        DB: sqlx::Database,
        for<'e> &'e mut C: sqlx::Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
        for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        let tables = [
            ("id, version, last_hash, body", 4, self.records),
            ("case_id, sequence, list, body", 4, self.items),
            (
                "id, reference, version, procedure, division, channel, status, stage, \
                 owner_id, theme, root_cause, resident_id, received_on, ended_on, next_due, \
                 due_key, search, body, action_due",
                19,
                self.summaries,
            ),
            ("case_id, step, due, alerted", 4, self.deadlines),
        ];
        for ((columns, width, cells), target) in tables.into_iter().zip(targets) {
            let table = format!("{target} ({columns})");
            let mut cells = cells.into_iter().peekable();
            while cells.peek().is_some() {
                let chunk: Vec<Cell> = cells.by_ref().take(ROWS * width).collect();
                let sql = insert_sql(&table, width, chunk.len() / width, DB::NAME == "SQLite");
                let mut query = sqlx::query(&sql);
                for cell in chunk {
                    query = match cell {
                        Cell::Text(v) => query.bind(v),
                        Cell::Maybe(v) => query.bind(v),
                        Cell::Int(v) => query.bind(v),
                    };
                }
                query.execute(&mut *conn).await?;
            }
        }
        Ok(())
    }
}

/// `INSERT INTO table VALUES ($1, …), (…), …` for `rows` rows of `width` columns; with
/// `anonymous`, `?` for each value instead: SQLite looks a numbered `$n` up by name, which
/// over thousands of values in one statement cost more than the inserts themselves.
fn insert_sql(table: &str, width: usize, rows: usize, anonymous: bool) -> String {
    let mut sql = format!("INSERT INTO {table} VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            if anonymous {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&(row * width + column + 1).to_string());
            }
        }
        sql.push(')');
    }
    sql
}
