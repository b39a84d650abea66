//! The write path: one command's events, their hash-chain links, the case's fold, list
//! entries, work-queue row and open deadlines, and the `Idempotency-Key` record, committed
//! together or not at all.
//!
//! On PostgreSQL the whole write is one statement (data-modifying CTEs), so it is one round
//! trip and one implicit transaction; the events' primary key `(aggregate_type,
//! aggregate_id, sequence)` is the optimistic-concurrency check. On SQLite it is one
//! transaction on the single writer connection.

use std::collections::HashMap;

use casefile_domain::{uk_date, AlertState, Calendar, Complaint, ComplaintEvent};
use casefile_projections::case_view::{CaseRecord, CaseSummary, OpenStep};
use casefile_projections::{CaseView, RecordedEvent};
use chrono::{DateTime, SubsecRound, Utc};
use cqrs_es::DomainEvent;
use serde_json::Value;

use crate::chain::{canonical, link};
use crate::evidence::EvidenceBlob;
use crate::idempotency::KeyClaim;
use crate::records::{entry_row, view_json, Entries, LoadedCase};
use crate::{to_i64, Store};

/// What a command wants written.
#[derive(Debug, Clone)]
pub struct NewCommit<'a> {
    pub id: &'a str,
    /// The case as the command found it; `None` for a new case.
    pub base: Option<LoadedCase>,
    pub events: Vec<ComplaintEvent>,
    pub metadata: HashMap<String, String>,
    /// For the deadlines of the response and of the queue row.
    pub calendar: &'a Calendar,
    /// Log only: take the next reference serial of this year and write it into `Logged`.
    pub reference_year: Option<i32>,
    /// Record the response under this key in the same transaction.
    pub idempotency: Option<KeyClaim>,
    /// The status the response will carry (stored with the key).
    pub status: u16,
    /// Makes the response from the committed events instead of the case view: for a
    /// command whose answer is what it recorded (a letter), stored under the key as sent.
    pub answer: Option<Answer>,
    /// The response carries the case's lists (notes, correspondence, evidence, links);
    /// when false, `base` was loaded without them and the response leaves them out.
    pub lists: bool,
    /// An uploaded file the events record, stored in the same transaction (once per
    /// hash), so that no file is kept without the evidence that names it. Never with a
    /// log (`reference_year`): a new case has no evidence yet.
    pub file: Option<&'a EvidenceBlob>,
}

/// The response to a commit made from the events it recorded; `None` to answer with the
/// case view.
pub type Answer = fn(&[RecordedEvent]) -> Option<String>;

/// What a commit wrote.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The case as the commit left it, without its unbounded lists (notes, correspondence,
    /// evidence, links): `body` has them.
    pub view: CaseView,
    /// The case view as JSON, lists included unless the commit was asked to leave them
    /// out: the response, serialised once.
    pub body: String,
    pub events: Vec<RecordedEvent>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Another write got to the case first; load it again and re-run the command.
    #[error("another write to this case committed first")]
    Conflict,
    /// Another request with the same `Idempotency-Key` committed first.
    #[error("another request with this Idempotency-Key committed first")]
    KeyTaken,
    #[error("the first event of a case must be `Logged`")]
    NotLogged,
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl CommitError {
    /// A guessed reference serial was refused (see `SQLITE_GUESS_SERIAL`).
    fn is_wrong_guess(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::Database(db))
            if db.message().contains("reference_counters.last"))
    }
}

impl From<sqlx::Error> for CommitError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                let on = db.constraint().unwrap_or_default().to_string() + db.message();
                return if on.contains("idempotency_keys") {
                    Self::KeyTaken
                } else {
                    Self::Conflict
                };
            }
        }
        Self::Database(err)
    }
}

/// The event rows, read-model rows and response of one commit, computed before writing.
struct Prepared {
    recorded_at: DateTime<Utc>,
    sequences: Vec<i64>,
    types: Vec<String>,
    versions: Vec<String>,
    payloads: Vec<String>,
    metadata: String,
    prev_hashes: Vec<String>,
    hashes: Vec<String>,
    record_version: i64,
    last_hash: String,
    record_body: String,
    item_sequences: Vec<i64>,
    item_lists: Vec<String>,
    item_bodies: Vec<String>,
    summary: SummaryRow,
    deadlines: Vec<DeadlineRow>,
    committed: Committed,
}

/// The work-queue row of a case.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    pub id: String,
    pub reference: String,
    pub version: i64,
    pub procedure: String,
    pub division: String,
    pub channel: String,
    pub status: String,
    pub stage: String,
    pub owner_id: Option<String>,
    pub theme: Option<String>,
    pub root_cause: Option<String>,
    pub resident_id: Option<String>,
    pub received_on: String,
    pub ended_on: Option<String>,
    pub next_due: Option<String>,
    /// The earliest due date of a tracked action still open.
    pub action_due: Option<String>,
    pub due_key: String,
    pub search: String,
    pub body: String,
}

/// The sort key of a case with no live deadline: after every date.
pub const NO_DUE: &str = "9999-12-31";

/// Serde's wire name of a unit enum value (`web_form`, `england-and-wales`…).
pub fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl SummaryRow {
    pub fn new(view: &CaseView) -> Result<Self, serde_json::Error> {
        let summary: CaseSummary = view.summary();
        let next_due = summary.next_due.as_ref().map(|d| d.due.to_string());
        let search = [
            summary.reference.as_str(),
            summary.complainant.as_str(),
            view.complainant.address.as_deref().unwrap_or(""),
            view.complainant.postcode.as_deref().unwrap_or(""),
            summary.summary.as_str(),
        ]
        .join(" ")
        .to_lowercase();
        let action_due = view
            .actions
            .iter()
            .filter(|a| a.completed.is_none())
            .filter_map(|a| a.due_on)
            .min()
            .map(|d| d.to_string());
        Ok(Self {
            action_due,
            body: serde_json::to_string(&summary)?,
            id: summary.id,
            reference: summary.reference,
            version: to_i64(summary.version),
            procedure: summary.procedure,
            division: summary.division.as_str().to_string(),
            channel: wire(&summary.channel),
            status: summary.status.to_string(),
            stage: wire(&summary.stage),
            owner_id: summary.owner.map(|o| o.id),
            theme: summary.theme,
            root_cause: summary.root_cause,
            resident_id: summary.resident_id,
            received_on: summary.received_on.to_string(),
            ended_on: summary.ended_on.map(|d| d.to_string()),
            due_key: next_due.clone().unwrap_or_else(|| NO_DUE.to_string()),
            next_due,
            search,
        })
    }
}

/// A row of `case_deadlines`: an open step of an open case, its due date, and the furthest
/// SLA alert raised for that due date (`""`, `due_soon` or `breached`), so that the watchdog
/// reads only the steps it may still have to alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRow {
    pub step: String,
    pub due: String,
    pub alerted: &'static str,
}

/// The rows derived from a case's view and state: its queue row and its open deadlines.
pub fn derived_rows(
    view: &CaseView,
    state: &Complaint,
) -> Result<(SummaryRow, Vec<DeadlineRow>), serde_json::Error> {
    let deadlines = view
        .open_steps()
        .into_iter()
        .map(|OpenStep { step, due }| {
            let raised = |alert: AlertState| {
                state
                    .alerts
                    .iter()
                    .any(|a| a.state == alert && a.due == due && a.step.as_str() == step)
            };
            let alerted = if raised(AlertState::Breached) {
                AlertState::Breached.as_str()
            } else if raised(AlertState::DueSoon) {
                AlertState::DueSoon.as_str()
            } else {
                ""
            };
            DeadlineRow {
                step,
                due: due.to_string(),
                alerted,
            }
        })
        .collect();
    Ok((SummaryRow::new(view)?, deadlines))
}

impl NewCommit<'_> {
    /// Folds the events into the case, links them into the chain and renders every row.
    /// `rows_before` are the case's list entries already stored, for the response.
    fn prepare(
        mut self,
        rows_before: Entries,
        serial: Option<i64>,
    ) -> Result<Prepared, CommitError> {
        if let (Some(serial), Some(year), Some(ComplaintEvent::Logged { reference, .. })) =
            (serial, self.reference_year, self.events.first_mut())
        {
            *reference = format!("CF-{year}-{serial:06}");
        }
        // Microseconds: what both backends keep, so a rebuild folds the same times.
        let recorded_at = Utc::now().trunc_subsecs(6);
        let metadata_value = Value::Object(
            self.metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        let after = self.base.as_ref().map_or(0, LoadedCase::version);
        let (mut record, mut prev, mut items) = match self.base {
            // A refolded case brings its entries along: the table may lack them.
            Some(LoadedCase {
                record,
                last_hash,
                refolded_items: Some(refolded),
                ..
            }) => (Some(record), last_hash, refolded),
            Some(base) => (Some(base.record), base.last_hash, Vec::new()),
            None => (None, String::new(), Vec::new()),
        };
        let refolded = !items.is_empty();
        let mut sequences = Vec::new();
        let mut types = Vec::new();
        let mut versions = Vec::new();
        let mut payloads = Vec::new();
        let mut prev_hashes = Vec::new();
        let mut hashes = Vec::new();
        let mut events = Vec::new();
        for (offset, event) in self.events.into_iter().enumerate() {
            let sequence = after + offset as u64 + 1;
            let payload = serde_json::to_value(&event)?;
            let event_type = event.event_type();
            let event_version = event.event_version();
            let bytes = canonical(
                self.id,
                sequence,
                &event_type,
                &event_version,
                &payload,
                &metadata_value,
            );
            let hash = link(&prev, &bytes);
            let recorded = RecordedEvent {
                aggregate_id: self.id.to_string(),
                sequence,
                event_version: event_version.clone(),
                recorded_at,
                event,
                metadata: self.metadata.clone(),
            };
            match record.as_mut() {
                Some(record) => items.extend(record.apply(&recorded).map(|item| (sequence, item))),
                None => {
                    record =
                        Some(CaseRecord::start(self.id, &recorded).ok_or(CommitError::NotLogged)?)
                }
            }
            sequences.push(to_i64(sequence));
            types.push(event_type);
            versions.push(event_version);
            payloads.push(payload.to_string());
            prev_hashes.push(std::mem::replace(&mut prev, hash.clone()));
            hashes.push(hash);
            events.push(recorded);
        }
        let record = record.ok_or(CommitError::NotLogged)?;
        let item_sequences = items.iter().map(|(s, _)| to_i64(*s)).collect();
        let mut item_lists = Vec::with_capacity(items.len());
        let mut item_bodies = Vec::with_capacity(items.len());
        for (_, item) in &items {
            let (list, body) = entry_row(item)?;
            item_lists.push(list.to_string());
            item_bodies.push(body);
        }
        // The queue row and deadlines need no list; the response gets them verbatim.
        let view = record.view(self.calendar, uk_date(recorded_at), Vec::new());
        let (summary, deadlines) = derived_rows(&view, &record.state)?;
        let before = if refolded { None } else { Some(&rows_before) };
        let entries: Vec<(&str, &str)> = before
            .into_iter()
            .flat_map(Entries::iter)
            .chain(
                item_lists
                    .iter()
                    .zip(&item_bodies)
                    .map(|(l, b)| (l.as_str(), b.as_str())),
            )
            .collect();
        let body = view_json(&view, self.lists.then_some(&entries[..]))?;
        Ok(Prepared {
            recorded_at,
            sequences,
            types,
            versions,
            payloads,
            metadata: metadata_value.to_string(),
            prev_hashes,
            hashes,
            record_version: to_i64(record.version()),
            last_hash: prev,
            record_body: serde_json::to_string(&record)?,
            item_sequences,
            item_lists,
            item_bodies,
            summary,
            deadlines,
            committed: Committed {
                body: self
                    .answer
                    .and_then(|answer| answer(&events))
                    .unwrap_or(body),
                view,
                events,
            },
        })
    }
}

impl From<crate::events::LoadError> for CommitError {
    fn from(err: crate::events::LoadError) -> Self {
        match err {
            crate::events::LoadError::Database(e) => Self::from(e),
            corrupt => Self::Database(sqlx::Error::Decode(Box::new(corrupt))),
        }
    }
}

impl Store {
    /// Writes one command's events and everything derived from them in one transaction.
    #[tracing::instrument(skip_all, fields(case_id = %commit.id, events = commit.events.len()))]
    pub async fn commit(&self, mut commit: NewCommit<'_>) -> Result<Committed, CommitError> {
        let items_before = commit
            .base
            .as_mut()
            .map(|base| std::mem::take(&mut base.entries))
            .unwrap_or_default();
        let id = commit.id.to_string();
        let claim = commit.idempotency.clone();
        let status = commit.status;
        let file = commit.file;
        match self {
            Store::Postgres(pool) => {
                let serial = match commit.reference_year {
                    Some(year) => Some(next_serial_postgres(pool, year).await?),
                    None => None,
                };
                let prepared = commit.prepare(items_before, serial)?;
                match file {
                    None => write_postgres(pool, &id, &prepared, claim.as_ref(), status).await?,
                    Some(file) => {
                        use sqlx::Connection;
                        let mut conn = pool.acquire().await?;
                        let written = async {
                            let mut tx = conn.begin().await?;
                            // The events first: a commit that lost a race to another on
                            // the case fails before the file is sent.
                            write_postgres(&mut *tx, &id, &prepared, claim.as_ref(), status)
                                .await?;
                            crate::evidence::insert_blob(&mut *tx, file).await?;
                            tx.commit().await?;
                            Ok::<_, CommitError>(())
                        }
                        .await;
                        // Written or not, the connection carried the file.
                        crate::evidence::given_back(&mut *conn);
                        written?;
                    }
                }
                Ok(prepared.committed)
            }
            // Boxed: inline, its future made every command's future (on either store) too
            // big for a debug build's worker stack.
            Store::Sqlite(pools) => {
                Box::pin(commit_sqlite(
                    pools,
                    commit,
                    items_before,
                    &id,
                    claim,
                    status,
                ))
                .await
            }
        }
    }
}

/// SQLite's commit on the one writer connection: `BEGIN IMMEDIATE`, the writes and `COMMIT`
/// in one hand-over to the connection's worker thread where it can, since the writer is
/// held across every hand-over. A command on a case is worked out before the writer is
/// taken; a log, whose serial goes into its hashed event, is worked out while it is held.
///
/// A log's serial must be known before its event is hashed. Taken from the store, it costs
/// a hand-over of its own; so the pools remember the last serial this process took, and a
/// log guesses the next one and checks the guess in its script (`SQLITE_GUESS_SERIAL`). Only
/// a write from elsewhere (another process on the same file) makes the guess wrong: the
/// script then fails before writing anything, and the log takes its serial from the store.
async fn commit_sqlite(
    pools: &crate::SqlitePools,
    commit: NewCommit<'_>,
    items_before: Entries,
    id: &str,
    claim: Option<KeyClaim>,
    status: u16,
) -> Result<Committed, CommitError> {
    if let Some(year) = commit.reference_year {
        debug_assert!(commit.file.is_none(), "a log stores no file");
        return log_sqlite(pools, year, commit, id, claim, status).await;
    }
    let file = commit.file;
    let prepared = commit.prepare(items_before, None)?;
    if file.is_none() {
        let binds = SqliteBinds::new(id, &prepared, claim.as_ref(), status, None);
        if pools.writer.enqueue(binds).await {
            return Ok(prepared.committed);
        }
    }
    // Not written with others: alone, so that an error is this commit's own. A file always
    // goes alone: megabytes in a batch would hold up every commit in it.
    let mut conn = pools.write.acquire().await?;
    let claim = claim.as_ref();
    match file {
        None => {
            let script = SQLITE_BEGIN_COMMIT;
            write_or_roll_back(&mut conn, script, id, &prepared, claim, status, None).await?;
        }
        Some(file) => {
            // The events first: a commit that lost a race to another on the case fails
            // before the file is written.
            let script = SQLITE_BEGIN_WRITES;
            write_or_roll_back(&mut conn, script, id, &prepared, claim, status, None).await?;
            let stored = match crate::evidence::insert_blob(&mut *conn, file).await {
                Ok(()) => sqlx::query("COMMIT").execute(&mut *conn).await.map(drop),
                Err(err) => Err(err),
            };
            crate::evidence::given_back(&mut *conn);
            if let Err(err) = stored {
                rollback(&mut conn).await;
                return Err(err.into());
            }
        }
    }
    pools.writer_committed();
    Ok(prepared.committed)
}

/// A log's commit on SQLite: with the guessed serial, else with one taken from the store.
///
/// Logs guess in turn and join the writer's queue in the order they guessed, so a log folds
/// and hashes its case (with the guessed reference) while the logs before it are written,
/// and several logs can be written in one transaction. A guess is the serial after the last
/// one handed out; if the log before is not written, the one after finds the counter short
/// of its guess and takes its serial from the store, as the first log of a process does.
async fn log_sqlite(
    pools: &crate::SqlitePools,
    year: i32,
    commit: NewCommit<'_>,
    id: &str,
    claim: Option<KeyClaim>,
    status: u16,
) -> Result<Committed, CommitError> {
    let claim = claim.as_ref();
    let (turn, last) = loop {
        pools.serials.none_at_store().await;
        let turn = pools.log_turn.lock().await;
        if let Some(last) = pools.serials.last_in(year) {
            break (turn, last);
        }
        if pools.serials.at_store() > 0 {
            // Another log is taking the first serial from the store: guess from it.
            continue;
        }
        let _at_store = pools.serials.taking_from_store();
        drop(turn);
        let conn = pools.write.acquire().await?;
        return Box::pin(log_with_serial_from_store(
            pools, conn, year, commit, id, claim, status,
        ))
        .await;
    };
    let serial = last + 1;
    let prepared = commit.clone().prepare(Entries::default(), Some(serial))?;
    pools.serials.hand_out(year, serial);
    let guess = Guess { year, serial };
    let written = pools
        .writer
        .enqueue(SqliteBinds::new(id, &prepared, claim, status, Some(guess)));
    drop(turn);
    if written.await {
        metrics::counter!("casefile_sqlite_serial_guesses_total", "outcome" => "right")
            .increment(1);
        return Ok(prepared.committed);
    }
    // Not written with others: alone, with the guess, so that an error is this log's own.
    let mut conn = match pools.write.acquire().await {
        Ok(conn) => conn,
        Err(err) => {
            pools.serials.take_back(year, serial);
            return Err(err.into());
        }
    };
    let guess = Guess { year, serial };
    let script = SQLITE_GUESS_SERIAL;
    match write_or_roll_back(&mut conn, script, id, &prepared, claim, status, Some(guess)).await {
        Ok(()) => {
            metrics::counter!("casefile_sqlite_serial_guesses_total", "outcome" => "right")
                .increment(1);
            pools.writer_committed();
            Ok(prepared.committed)
        }
        Err(err) if err.is_wrong_guess() => {
            metrics::counter!("casefile_sqlite_serial_guesses_total", "outcome" => "wrong")
                .increment(1);
            let _at_store = pools.serials.taking_from_store();
            Box::pin(log_with_serial_from_store(
                pools, conn, year, commit, id, claim, status,
            ))
            .await
        }
        Err(err) => {
            pools.serials.take_back(year, serial);
            Err(err)
        }
    }
}

/// A log's commit with its serial taken from the store, on the writer `conn`. The caller
/// counts it as taking its serial from the store ([`crate::Serials::taking_from_store`])
/// until its serial is handed out, and no log guesses meanwhile. (Else, after one wrong
/// guess, logs taking serials from the store and logs guessing go on taking each other's
/// serials.) The turn is held too, and taken with the writer held, never the other way
/// round: a log holding the turn never waits for the writer.
async fn log_with_serial_from_store(
    pools: &crate::SqlitePools,
    mut conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    year: i32,
    commit: NewCommit<'_>,
    id: &str,
    claim: Option<&KeyClaim>,
    status: u16,
) -> Result<Committed, CommitError> {
    let _turn = pools.log_turn.lock().await;
    let serial = sqlx::query_scalar::<_, i64>(
        "BEGIN IMMEDIATE; \
         INSERT INTO reference_counters (year, last) VALUES ($1, 1) \
         ON CONFLICT (year) DO UPDATE SET last = reference_counters.last + 1 \
         RETURNING last",
    )
    .bind(i64::from(year))
    .fetch_one(&mut *conn)
    .await;
    // The transaction is open from here on: the serial was taken inside it.
    let prepared = match serial
        .map_err(CommitError::from)
        .and_then(|serial| Ok((serial, commit.prepare(Entries::default(), Some(serial))?)))
    {
        Ok(prepared) => prepared,
        Err(err) => {
            rollback(&mut conn).await;
            return Err(err);
        }
    };
    let (serial, prepared) = prepared;
    write_or_roll_back(&mut conn, SQLITE_COMMIT, id, &prepared, claim, status, None).await?;
    pools.writer_committed();
    pools.serials.hand_out(year, serial);
    Ok(prepared.committed)
}

/// [`write_sqlite`], with the transaction rolled back if it fails.
async fn write_or_roll_back(
    conn: &mut sqlx::SqliteConnection,
    script: &'static str,
    id: &str,
    prepared: &Prepared,
    claim: Option<&KeyClaim>,
    status: u16,
    guess: Option<Guess>,
) -> Result<(), CommitError> {
    let written = write_sqlite(conn, script, id, prepared, claim, status, guess).await;
    if written.is_err() {
        rollback(conn).await;
    }
    written
}

/// A log's guessed reference serial, checked in its script.
#[derive(Debug, Clone, Copy)]
struct Guess {
    year: i32,
    serial: i64,
}

/// Ends a failed commit's transaction: a script stops at its first error with its
/// transaction open. (A connection left in one is closed on release anyway, see
/// `sqlite_connection_reusable`; this keeps the writer open.)
pub(crate) async fn rollback(conn: &mut sqlx::SqliteConnection) {
    if let Err(err) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
        tracing::debug!(%err, "no transaction to roll back");
    }
}

/// The next reference serial of `year` on PostgreSQL, from a sequence of that year (made on
/// first use, starting after any serial already given): a sequence takes no lock that lasts
/// until commit, so logging complaints does not queue behind one counter row. It is taken
/// only for a command the rules accepted; a commit that then fails leaves the serial unused.
async fn next_serial_postgres(pool: &sqlx::PgPool, year: i32) -> Result<i64, sqlx::Error> {
    let name = format!("reference_serial_{year}");
    let options = pool.connect_options();
    let known = format!(
        "{}:{}/{}/{name}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    );
    let made = MADE_SEQUENCES.get_or_init(Default::default);
    let is_made = made.lock().map(|m| m.contains(&known)).unwrap_or(false);
    if !is_made {
        let start: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(last), 0) + 1 FROM reference_counters WHERE year = $1",
        )
        .bind(i64::from(year))
        .fetch_one(pool)
        .await?;
        // `year` is an integer, so the name is a plain identifier.
        let create = format!("CREATE SEQUENCE IF NOT EXISTS {name} START WITH {start}");
        if let Err(err) = sqlx::query(&create).execute(pool).await {
            // Another instance made it at the same moment: theirs serves.
            tracing::debug!(%err, "reference sequence made elsewhere");
        }
        if let Ok(mut made) = made.lock() {
            made.insert(known);
        }
    }
    sqlx::query_scalar::<_, i64>("SELECT nextval($1::regclass)")
        .bind(&name)
        .fetch_one(pool)
        .await
}

/// The reference sequences this process has made sure exist, per database.
static MADE_SEQUENCES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
    std::sync::OnceLock::new();

const POSTGRES_COMMIT: &str = "\
WITH ev AS (
    INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                        payload, metadata, recorded_at, prev_hash, hash)
    SELECT 'Complaint', $1, t.seq, t.typ, t.ver, t.payload::jsonb, $6::jsonb, $7, t.prev, t.hash
    FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $8::text[], $9::text[])
         AS t(seq, typ, ver, payload, prev, hash)
    RETURNING 1
), rec AS (
    INSERT INTO case_records (id, version, last_hash, body) VALUES ($1, $10, $11, $12)
    ON CONFLICT (id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash,
                                   body = excluded.body
    RETURNING 1
), items AS (
    INSERT INTO case_items (case_id, sequence, list, body)
    SELECT $1, t.seq, t.list, t.body FROM UNNEST($13::bigint[], $14::text[], $39::text[]) AS t(seq, body, list)
    ON CONFLICT DO NOTHING
    RETURNING 1
), summary AS (
    INSERT INTO case_summaries (id, reference, version, procedure, division, channel, status,
        stage, owner_id, theme, root_cause, resident_id, received_on, ended_on, next_due,
        due_key, search, body, action_due)
    VALUES ($1, $15, $10, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30,
            $40)
    ON CONFLICT (id) DO UPDATE SET reference = excluded.reference, version = excluded.version,
        status = excluded.status, stage = excluded.stage, owner_id = excluded.owner_id,
        theme = excluded.theme, root_cause = excluded.root_cause,
        resident_id = excluded.resident_id, ended_on = excluded.ended_on,
        next_due = excluded.next_due, due_key = excluded.due_key, search = excluded.search,
        body = excluded.body, action_due = excluded.action_due
    WHERE case_summaries.version < excluded.version
    RETURNING 1
), gone AS (
    DELETE FROM case_deadlines WHERE case_id = $1 AND NOT (step = ANY($31::text[]))
    RETURNING 1
), due AS (
    INSERT INTO case_deadlines (case_id, step, due, alerted)
    SELECT $1, t.step, t.due, t.alerted
    FROM UNNEST($31::text[], $32::text[], $42::text[]) AS t(step, due, alerted)
    ON CONFLICT (case_id, step) DO UPDATE SET due = excluded.due, alerted = excluded.alerted
    WHERE (case_deadlines.due, case_deadlines.alerted) <> (excluded.due, excluded.alerted)
    RETURNING 1
), idem AS (
    INSERT INTO idempotency_keys (user_id, key, request_hash, status, body, created_at)
    SELECT $33, $34, $35, $36, $37, $38 WHERE $33::text IS NOT NULL
    RETURNING 1
), outbox AS (
    INSERT INTO outbox (case_id, sequence, event_type, payload)
    SELECT $1, t.seq, t.typ, t.payload
    FROM UNNEST($2::bigint[], $3::text[], $5::text[]) AS t(seq, typ, payload)
    WHERE t.typ = ANY($41::text[])
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM ev)";

async fn write_postgres(
    conn: impl sqlx::PgExecutor<'_>,
    id: &str,
    p: &Prepared,
    claim: Option<&KeyClaim>,
    status: u16,
) -> Result<(), CommitError> {
    let s = &p.summary;
    sqlx::query_scalar::<_, i64>(POSTGRES_COMMIT)
        .bind(id)
        .bind(&p.sequences)
        .bind(&p.types)
        .bind(&p.versions)
        .bind(&p.payloads)
        .bind(&p.metadata)
        .bind(p.recorded_at)
        .bind(&p.prev_hashes)
        .bind(&p.hashes)
        .bind(p.record_version)
        .bind(&p.last_hash)
        .bind(&p.record_body)
        .bind(&p.item_sequences)
        .bind(&p.item_bodies)
        .bind(&s.reference)
        .bind(&s.procedure)
        .bind(&s.division)
        .bind(&s.channel)
        .bind(&s.status)
        .bind(&s.stage)
        .bind(&s.owner_id)
        .bind(&s.theme)
        .bind(&s.root_cause)
        .bind(&s.resident_id)
        .bind(&s.received_on)
        .bind(&s.ended_on)
        .bind(&s.next_due)
        .bind(&s.due_key)
        .bind(&s.search)
        .bind(&s.body)
        .bind(
            p.deadlines
                .iter()
                .map(|d| d.step.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            p.deadlines
                .iter()
                .map(|d| d.due.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(claim.map(|c| c.user_id.as_str()))
        .bind(claim.map(|c| c.key.as_str()))
        .bind(claim.map(|c| c.request_hash.as_str()))
        .bind(i64::from(status))
        .bind(&p.committed.body)
        .bind(p.recorded_at.to_rfc3339())
        .bind(&p.item_lists)
        .bind(&s.action_due)
        .bind(crate::outbox::NOTIFIED.map(str::to_string).to_vec())
        .bind(p.deadlines.iter().map(|d| d.alerted).collect::<Vec<_>>())
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// SQLite's commit as one script, so the single writer connection's worker thread runs it
/// in one hand-over instead of a statement each (every hand-over waits for the async side
/// to be scheduled, and the writer is held meanwhile). Parameters are numbered, so each
/// statement takes its own from one list; lists of rows come as JSON arrays.
///
/// The queue row is first updated in its two unindexed columns alone, when no other column
/// changes (a note): SQLite rewrites an index entry whenever one of its columns is in an
/// `UPDATE`'s `SET`, whatever the value, and the row has fourteen indexes. Next, when only
/// the due date moves besides (an acknowledgement, a response), with it: five of the
/// indexes hold it. Otherwise the upsert that follows writes the row whole. Each statement
/// skips a row already at this version. Deadline rows, like PostgreSQL's, are written only
/// where one changes: most commands move none.
macro_rules! sqlite_writes {
    () => {
        "\
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                    payload, metadata, recorded_at, prev_hash, hash, position)
SELECT 'Complaint', $1, e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, $2, $3,
       e.value ->> 4, e.value ->> 5,
       (SELECT COALESCE(MAX(position), 0) FROM events) + e.key + 1
FROM json_each($4) AS e ORDER BY e.key;
INSERT INTO case_records (id, version, last_hash, body) VALUES ($1, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET version = excluded.version, last_hash = excluded.last_hash,
                               body = excluded.body;
INSERT INTO case_items (case_id, sequence, list, body)
SELECT $1, i.value ->> 0, i.value ->> 1, i.value ->> 2 FROM json_each($8) AS i WHERE true
ON CONFLICT DO NOTHING;
UPDATE case_summaries SET version = $5, body = $24
WHERE id = $1 AND version < $5 AND reference IS $9 AND status IS $13 AND stage IS $14
  AND owner_id IS $15 AND theme IS $16 AND root_cause IS $17 AND resident_id IS $18
  AND ended_on IS $20 AND next_due IS $21 AND due_key IS $22 AND search IS $23
  AND action_due IS $25;
UPDATE case_summaries SET version = $5, body = $24, next_due = $21, due_key = $22
WHERE id = $1 AND version < $5 AND reference IS $9 AND status IS $13 AND stage IS $14
  AND owner_id IS $15 AND theme IS $16 AND root_cause IS $17 AND resident_id IS $18
  AND ended_on IS $20 AND search IS $23 AND action_due IS $25;
INSERT INTO case_summaries (id, reference, version, procedure, division, channel, status,
    stage, owner_id, theme, root_cause, resident_id, received_on, ended_on, next_due,
    due_key, search, body, action_due)
VALUES ($1, $9, $5, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
        $25)
ON CONFLICT (id) DO UPDATE SET reference = excluded.reference, version = excluded.version,
    status = excluded.status, stage = excluded.stage, owner_id = excluded.owner_id,
    theme = excluded.theme, root_cause = excluded.root_cause,
    resident_id = excluded.resident_id, ended_on = excluded.ended_on,
    next_due = excluded.next_due, due_key = excluded.due_key, search = excluded.search,
    body = excluded.body, action_due = excluded.action_due
WHERE case_summaries.version < excluded.version;
DELETE FROM case_deadlines WHERE case_id = $1
  AND step NOT IN (SELECT d.value ->> 0 FROM json_each($26) AS d);
INSERT INTO case_deadlines (case_id, step, due, alerted)
SELECT $1, d.value ->> 0, d.value ->> 1, d.value ->> 2 FROM json_each($26) AS d WHERE true
ON CONFLICT (case_id, step) DO UPDATE SET due = excluded.due, alerted = excluded.alerted
WHERE (case_deadlines.due, case_deadlines.alerted) <> (excluded.due, excluded.alerted);
INSERT INTO outbox (case_id, sequence, event_type, payload)
SELECT $1, o.value ->> 0, o.value ->> 1, o.value ->> 2 FROM json_each($27) AS o ORDER BY o.key;
INSERT INTO idempotency_keys (user_id, key, request_hash, status, body, created_at)
SELECT $28, $29, $30, $31, $32, $33 WHERE $28 IS NOT NULL;"
    };
}
/// The writes of a commit whose transaction is open already (a log's: its serial came first).
const SQLITE_COMMIT: &str = concat!(sqlite_writes!(), "\nCOMMIT");
/// One commit's writes, the reference counter's first: with a guessed serial (`$34` of year
/// `$35`), the counter moves to the guess only from the serial before it; otherwise (or with
/// no counter for the year) `last` would be NULL, which its NOT NULL refuses, and the
/// script stops before anything else is written. Without one (both NULL) the counter is
/// left alone. The writer's batches are made of these (`crate::writer`).
macro_rules! sqlite_one_commit {
    () => {
        concat!(
            "INSERT INTO reference_counters (year, last) SELECT $35, NULL\n",
            "WHERE $35 IS NOT NULL\n",
            "  AND NOT EXISTS (SELECT 1 FROM reference_counters WHERE year = $35);\n",
            "UPDATE reference_counters SET last = CASE WHEN last = $34 - 1 THEN $34 END WHERE year = $35;\n",
            sqlite_writes!()
        )
    };
}
pub(crate) const SQLITE_ONE_COMMIT: &str = sqlite_one_commit!();
/// A log's writes with a guessed serial, in a transaction of their own.
const SQLITE_GUESS_SERIAL: &str = concat!("BEGIN IMMEDIATE;\n", sqlite_one_commit!(), "\nCOMMIT");
/// The writes of a commit, in a transaction left open for the file it stores.
const SQLITE_BEGIN_WRITES: &str = concat!("BEGIN IMMEDIATE;\n", sqlite_writes!());
/// The writes of a commit, in a transaction of their own.
const SQLITE_BEGIN_COMMIT: &str = concat!("BEGIN IMMEDIATE;\n", sqlite_writes!(), "\nCOMMIT");

async fn write_sqlite(
    conn: &mut sqlx::SqliteConnection,
    script: &'static str,
    id: &str,
    p: &Prepared,
    claim: Option<&KeyClaim>,
    status: u16,
    guess: Option<Guess>,
) -> Result<(), CommitError> {
    let binds = SqliteBinds::new(id, p, claim, status, guess);
    let query = binds.bind(sqlx::query(script));
    let query = match &binds.guess {
        Some(_) => binds.bind_guess(query),
        None => query,
    };
    query.execute(&mut *conn).await?;
    Ok(())
}

/// The values a SQLite commit script binds, owned, so that a commit can wait in the
/// writer's queue (`crate::writer`): `$1` to `$33`, and the guessed serial and its year as
/// `$34` and `$35`.
#[derive(Debug)]
pub(crate) struct SqliteBinds {
    pub(crate) id: String,
    metadata: String,
    recorded_at: String,
    events: String,
    record_version: i64,
    last_hash: String,
    record_body: String,
    items: String,
    summary: SummaryRow,
    deadlines: String,
    outbox: String,
    claim: Option<KeyClaim>,
    status: i64,
    body: String,
    recorded_at_rfc3339: String,
    guess: Option<Guess>,
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

impl SqliteBinds {
    /// How many parameters one commit's writes take.
    pub(crate) const PARAMETERS: usize = 35;

    fn new(
        id: &str,
        p: &Prepared,
        claim: Option<&KeyClaim>,
        status: u16,
        guess: Option<Guess>,
    ) -> Self {
        use serde_json::json;
        let mut events = Vec::with_capacity(p.sequences.len());
        let mut outbox = Vec::new();
        for i in 0..p.sequences.len() {
            events.push(json!([
                p.sequences[i],
                p.types[i],
                p.versions[i],
                p.payloads[i],
                p.prev_hashes[i],
                p.hashes[i]
            ]));
            if crate::outbox::NOTIFIED.contains(&p.types[i].as_str()) {
                outbox.push(json!([p.sequences[i], p.types[i], p.payloads[i]]));
            }
        }
        let items: Vec<Value> = p
            .item_sequences
            .iter()
            .zip(&p.item_lists)
            .zip(&p.item_bodies)
            .map(|((sequence, list), body)| json!([sequence, list, body]))
            .collect();
        let deadlines: Vec<Value> = p
            .deadlines
            .iter()
            .map(|d| json!([d.step, d.due, d.alerted]))
            .collect();
        Self {
            id: id.to_string(),
            metadata: p.metadata.clone(),
            recorded_at: p
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            events: Value::Array(events).to_string(),
            record_version: p.record_version,
            last_hash: p.last_hash.clone(),
            record_body: p.record_body.clone(),
            items: Value::Array(items).to_string(),
            summary: p.summary.clone(),
            deadlines: Value::Array(deadlines).to_string(),
            outbox: Value::Array(outbox).to_string(),
            claim: claim.cloned(),
            status: i64::from(status),
            // Stored only under an `Idempotency-Key`; a long case's answer is not copied
            // for nothing.
            body: claim.map(|_| p.committed.body.clone()).unwrap_or_default(),
            recorded_at_rfc3339: p.recorded_at.to_rfc3339(),
            guess,
        }
    }

    /// Binds `$1` to `$33`.
    fn bind<'q>(&'q self, query: SqliteQuery<'q>) -> SqliteQuery<'q> {
        let s = &self.summary;
        let claim = self.claim.as_ref();
        query
            .bind(&self.id)
            .bind(&self.metadata)
            .bind(&self.recorded_at)
            .bind(&self.events)
            .bind(self.record_version)
            .bind(&self.last_hash)
            .bind(&self.record_body)
            .bind(&self.items)
            .bind(&s.reference)
            .bind(&s.procedure)
            .bind(&s.division)
            .bind(&s.channel)
            .bind(&s.status)
            .bind(&s.stage)
            .bind(&s.owner_id)
            .bind(&s.theme)
            .bind(&s.root_cause)
            .bind(&s.resident_id)
            .bind(&s.received_on)
            .bind(&s.ended_on)
            .bind(&s.next_due)
            .bind(&s.due_key)
            .bind(&s.search)
            .bind(&s.body)
            .bind(&s.action_due)
            .bind(&self.deadlines)
            .bind(&self.outbox)
            .bind(claim.map(|c| c.user_id.as_str()))
            .bind(claim.map(|c| c.key.as_str()))
            .bind(claim.map(|c| c.request_hash.as_str()))
            .bind(self.status)
            .bind(&self.body)
            .bind(&self.recorded_at_rfc3339)
    }

    /// Binds `$34` and `$35`: the guessed serial and its year, or NULL.
    fn bind_guess<'q>(&'q self, query: SqliteQuery<'q>) -> SqliteQuery<'q> {
        query
            .bind(self.guess.as_ref().map(|g| g.serial))
            .bind(self.guess.as_ref().map(|g| i64::from(g.year)))
    }

    /// Binds all [`Self::PARAMETERS`], for [`SQLITE_ONE_COMMIT`].
    pub(crate) fn bind_all<'q>(&'q self, query: SqliteQuery<'q>) -> SqliteQuery<'q> {
        self.bind_guess(self.bind(query))
    }
}

/// Upserts a case's queue row unless a newer version is there: the repair of one case on
/// either backend (both commits do the same inside their one statement or script).
pub(crate) async fn write_summary<'e, E, DB>(executor: E, s: &SummaryRow) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO case_summaries (id, reference, version, procedure, division, channel, \
         status, stage, owner_id, theme, root_cause, resident_id, received_on, ended_on, \
         next_due, due_key, search, body, action_due) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
                 $19) \
         ON CONFLICT (id) DO UPDATE SET reference = excluded.reference, version = excluded.version, \
         status = excluded.status, stage = excluded.stage, owner_id = excluded.owner_id, \
         theme = excluded.theme, root_cause = excluded.root_cause, \
         resident_id = excluded.resident_id, ended_on = excluded.ended_on, \
         next_due = excluded.next_due, due_key = excluded.due_key, search = excluded.search, \
         body = excluded.body, action_due = excluded.action_due \
         WHERE case_summaries.version < excluded.version",
    )
    .bind(s.id.clone())
    .bind(s.reference.clone())
    .bind(s.version)
    .bind(s.procedure.clone())
    .bind(s.division.clone())
    .bind(s.channel.clone())
    .bind(s.status.clone())
    .bind(s.stage.clone())
    .bind(s.owner_id.clone())
    .bind(s.theme.clone())
    .bind(s.root_cause.clone())
    .bind(s.resident_id.clone())
    .bind(s.received_on.clone())
    .bind(s.ended_on.clone())
    .bind(s.next_due.clone())
    .bind(s.due_key.clone())
    .bind(s.search.clone())
    .bind(s.body.clone())
    .bind(s.action_due.clone())
    .execute(executor)
    .await?;
    Ok(())
}
