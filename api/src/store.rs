//! The stores behind the service: one PostgreSQL or SQLite database holding the event store
//! and the service's own tables. Every query here is written once and runs on both.
//!
//! # Layout
//!
//! - [`repository`]: the event repository cqrs-es writes through (the seam for the hash chain).
//! - [`users`]: users, roles and hashed tokens.
//! - [`idempotency`]: stored responses for `Idempotency-Key` replays.
//! - [`summaries`]: the work-queue projection.
//! - [`web`]: web sign-in credentials, sessions and set-password links.

pub mod idempotency;
pub mod repository;
pub mod summaries;
pub mod users;
pub mod web;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use casefile_domain::{Complaint, ComplaintEvent};
use casefile_projections::RecordedEvent;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

/// Runs the same query code against whichever pool the store has. The body is compiled
/// once per backend, so it must only use types both drivers encode.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Postgres($pool) => $body,
            $crate::store::Store::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use `sqlite://PATH` or `postgres://…`")]
    UnsupportedUrl(String),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the store: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Store {
    /// Opens the store named by the URL and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(StoreError::Connect)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(StoreError::Connect)?;
            Self::Postgres(pool)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            let options = SqliteConnectOptions::from_str(url)
                .map_err(StoreError::Connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // Writers queue behind SQLite's single write lock instead of failing.
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(StoreError::Connect)?;
            Self::Sqlite(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await?,
            Self::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Answers when the store takes queries.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Every event of one case, in order, with the time each was recorded.
    pub async fn case_events(&self, id: &str) -> Result<Vec<RecordedEvent>, LoadError> {
        self.case_events_after(id, 0).await
    }

    /// The events of one case after `sequence`, in order.
    pub async fn case_events_after(
        &self,
        id: &str,
        sequence: u64,
    ) -> Result<Vec<RecordedEvent>, LoadError> {
        let sql = match self {
            // jsonb comes back as text here so both backends decode the same way.
            Self::Postgres(_) => {
                "SELECT sequence, event_version, payload::text AS payload, metadata::text AS metadata, \
                 to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS recorded_at \
                 FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence"
            }
            Self::Sqlite(_) => {
                "SELECT sequence, event_version, payload, metadata, recorded_at \
                 FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence"
            }
        };
        let rows = on_pool!(self, |pool| {
            let rows = sqlx::query(sql)
                .bind(Complaint::TYPE)
                .bind(id)
                .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(RawEvent {
                        sequence: row.try_get("sequence")?,
                        event_version: row.try_get("event_version")?,
                        payload: row.try_get("payload")?,
                        metadata: row.try_get("metadata")?,
                        recorded_at: row.try_get("recorded_at")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        rows.into_iter().map(|raw| raw.decode(id)).collect()
    }

    /// The next reference serial of a year: 1, 2, 3… never reused.
    pub async fn next_reference_serial(&self, year: i32) -> Result<i64, sqlx::Error> {
        let sql = "INSERT INTO reference_counters (year, last) VALUES ($1, 1) \
                   ON CONFLICT (year) DO UPDATE SET last = reference_counters.last + 1 \
                   RETURNING last";
        on_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(i64::from(year))
                .fetch_one(pool)
                .await
        })
    }
}

/// A row of the events table before decoding.
struct RawEvent {
    sequence: i64,
    event_version: String,
    payload: String,
    metadata: String,
    recorded_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("event {sequence} of case {id} cannot be read: {message}")]
    Corrupt {
        id: String,
        sequence: i64,
        message: String,
    },
}

impl RawEvent {
    fn decode(self, id: &str) -> Result<RecordedEvent, LoadError> {
        let corrupt = |message: String| LoadError::Corrupt {
            id: id.to_string(),
            sequence: self.sequence,
            message,
        };
        let event: ComplaintEvent =
            serde_json::from_str(&self.payload).map_err(|e| corrupt(e.to_string()))?;
        let metadata: HashMap<String, String> = match serde_json::from_str(&self.metadata) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect(),
            Ok(_) => HashMap::new(),
            Err(e) => return Err(corrupt(e.to_string())),
        };
        let recorded_at = DateTime::parse_from_rfc3339(&self.recorded_at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| corrupt(format!("recorded_at: {e}")))?;
        Ok(RecordedEvent {
            aggregate_id: id.to_string(),
            sequence: u64::try_from(self.sequence).unwrap_or_default(),
            event_version: self.event_version,
            recorded_at,
            event,
            metadata,
        })
    }
}

impl Store {
    /// The id of every case in the store, oldest first.
    pub async fn case_ids(&self) -> Result<Vec<String>, sqlx::Error> {
        let sql = "SELECT aggregate_id FROM events WHERE aggregate_type = $1 AND sequence = 1 \
                   ORDER BY recorded_at, aggregate_id";
        on_pool!(self, |pool| sqlx::query_scalar::<_, String>(sql)
            .bind(Complaint::TYPE)
            .fetch_all(pool)
            .await)
    }
}

impl Store {
    /// The stored fold of a case, as JSON, if there is one.
    pub async fn case_record(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        let sql = "SELECT body FROM case_records WHERE id = $1";
        on_pool!(self, |pool| sqlx::query_scalar::<_, String>(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
    }

    /// Stores a fold of a case unless a newer one is already there.
    pub async fn save_case_record(
        &self,
        id: &str,
        version: u64,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO case_records (id, version, body) VALUES ($1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body \
                   WHERE case_records.version < excluded.version";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(id)
            .bind(i64::try_from(version).unwrap_or(i64::MAX))
            .bind(body)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets every stored fold; the next read of each case refolds it from its events.
    pub async fn clear_case_records(&self) -> Result<u64, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query("DELETE FROM case_records")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
    }
}
