//! Casefile's store: one PostgreSQL or SQLite database holding the event stream and every
//! table derived from it. It is the one place that writes: a command's events, their
//! hash-chain links, the case's read-model rows and the `Idempotency-Key` record commit in
//! one transaction or not at all.
//!
//! # Layout
//!
//! - [`commit`]: the write path, and [`unit_of_work`]: the cqrs-es `EventStore` over it.
//! - [`calendars`]: the bank-holiday calendars the service has run with, and from when.
//! - [`chain`]: canonical event bytes, the SHA-256 chain and its verification.
//! - [`events`]: reads of one case's stream and of the global feed.
//! - [`sequencer`]: gap-free global positions on PostgreSQL.
//! - [`evidence`]: evidence content, once per SHA-256.
//! - [`bundle`]: a case's ombudsman bundle, for the service and the replay tool alike.
//! - [`records`]: the case fold and list entries a command or a view starts from.
//! - [`queue`]: work-queue filters and the dashboard's counts.
//! - [`rebuild`]: every read model from the events, from scratch.
//! - [`reports`]: every case of a period as the reports read it, and the organisation's homes.
//! - [`residents`]: the `Resident` aggregate's one write path and its fold.
//! - [`outbox`]: notifications of SLA alerts, webhooks and their deliveries.
//! - [`idempotency`], [`users`]: stored responses; users, roles and hashed tokens.
//! - [`web`]: web sign-in credentials, sessions and set-password links.
//!
//! Every query is written once with `$n` placeholders and runs on both backends
//! ([`on_pool!`]).

pub mod bundle;
pub mod calendars;
pub mod chain;
pub mod commit;
pub mod events;
pub mod evidence;
pub mod idempotency;
pub mod outbox;
pub mod queue;
pub mod rebuild;
pub mod records;
pub mod reports;
pub mod residents;
pub mod sequencer;
pub mod unit_of_work;
pub mod users;
pub mod web;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use commit::{CommitError, Committed, NewCommit};
pub use events::{LoadError, StoredEvent};
pub use unit_of_work::UnitOfWork;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");

/// Runs the same query code against whichever pool the store reads from. The body is
/// compiled once per backend, so it must only use types both drivers encode.
#[macro_export]
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::Store::Postgres($pool) => $body,
            $crate::Store::Sqlite($crate::SqlitePools { read: $pool, .. }) => $body,
        }
    };
}

/// As [`on_pool!`], but on SQLite through the single writer connection, so that writers
/// queue in the process instead of polling for SQLite's one write lock.
#[macro_export]
macro_rules! on_writer {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::Store::Postgres($pool) => $body,
            $crate::Store::Sqlite($crate::SqlitePools { write: $pool, .. }) => $body,
        }
    };
}

/// As [`on_pool!`], but on SQLite through the one connection that reads evidence content.
/// SQLite reads a whole blob to return any part of it, so each 1 MiB chunk of a 10 MB file
/// costs a 10 MB allocation; spread over every reader connection's thread, each thread's
/// allocator arena kept one, and a bundle export raised the service's memory by 121 MiB.
/// The price: evidence reads (downloads, exports, checks) take turns on that connection, each
/// waiting up to the pool's acquire timeout.
#[macro_export]
macro_rules! on_blob_reader {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::Store::Postgres($pool) => $body,
            $crate::Store::Sqlite($crate::SqlitePools { blobs: $pool, .. }) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use `sqlite://PATH` or `postgres://…`")]
    UnsupportedUrl(String),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("no SQLite store at {0}")]
    NoSuchFile(String),
    #[error("cannot open the store: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store's schema is at migration {found}, this program knows {known}: {advice}")]
    SchemaMismatch {
        found: i64,
        known: i64,
        advice: &'static str,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// SQLite's pools: readers in parallel (WAL), one writer.
#[derive(Debug, Clone)]
pub struct SqlitePools {
    pub read: SqlitePool,
    pub write: SqlitePool,
    /// One connection for reading evidence content (see [`on_blob_reader!`]).
    pub blobs: SqlitePool,
    /// Logs take turns to guess their reference serial (see `commit`).
    log_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The last reference serial this process handed out, for the next log to guess from.
    serials: std::sync::Arc<Serials>,
    /// Set by a commit whose script ended with its `COMMIT` done, just before it lets the
    /// writer go; the writer's release then skips its check for an open transaction. One
    /// writer connection, so the flag can only be about the connection being released.
    committed: Arc<AtomicBool>,
    /// The queue of commits for the writer (`writer`).
    writer: writer::Writer,
    /// The file whose lock the process delivering notifications holds (see
    /// [`outbox::DeliveryLock`]); `None` for a store no other process can open.
    pub(crate) notifications_lock: Option<std::path::PathBuf>,
}

impl SqlitePools {
    /// The writer is about to be let go with no transaction open: see `committed`.
    pub(crate) fn writer_committed(&self) {
        self.committed.store(true, Ordering::Release);
    }
}

/// The year and serial of the last reference a log of this process took or guessed, and
/// how many logs are taking their serial from the store.
#[derive(Debug)]
pub(crate) struct Serials {
    last: std::sync::Mutex<Option<(i32, i64)>>,
    at_store: tokio::sync::watch::Sender<usize>,
}

impl Default for Serials {
    fn default() -> Self {
        Self {
            last: Default::default(),
            at_store: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Serials {
    fn last(&self) -> std::sync::MutexGuard<'_, Option<(i32, i64)>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last serial handed out in `year`, for the next log to guess from.
    pub(crate) fn last_in(&self, year: i32) -> Option<i64> {
        (*self.last())
            .filter(|(y, _)| *y == year)
            .map(|(_, last)| last)
    }

    /// How many logs are taking their serial from the store.
    pub(crate) fn at_store(&self) -> usize {
        *self.at_store.borrow()
    }

    /// Returns once no log is taking its serial from the store. Each such log moves the
    /// store's counter past every guess made meanwhile, whose log then fails and takes its
    /// serial from the store in turn: logs that went on guessing through them kept each
    /// other failing, and under load every log was written alone, at a third of the rate.
    pub(crate) async fn none_at_store(&self) {
        let mut count = self.at_store.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Counts a log taking its serial from the store until the guard is dropped.
    pub(crate) fn taking_from_store(&self) -> AtStore<'_> {
        self.at_store.send_modify(|n| *n += 1);
        AtStore(self)
    }

    pub(crate) fn hand_out(&self, year: i32, serial: i64) {
        *self.last() = Some((year, serial));
    }

    /// A guess that was not written, so the next log guesses it again: unless a later log
    /// has guessed since (it will find its guess wrong, and take its serial from the store).
    pub(crate) fn take_back(&self, year: i32, serial: i64) {
        let mut last = self.last();
        if *last == Some((year, serial)) {
            *last = Some((year, serial - 1));
        }
    }
}

/// A log taking its serial from the store (see [`Serials::taking_from_store`]).
pub(crate) struct AtStore<'a>(&'a Serials);

impl Drop for AtStore<'_> {
    fn drop(&mut self) {
        self.0.at_store.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[derive(Debug, Clone)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePools),
}

/// How a program means to use the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Bring the schema up to date: the service.
    Migrate,
    /// Leave the schema alone and refuse a schema this build does not know: the replay
    /// tool's reading commands.
    ReadOnly,
}

/// How many connections the store keeps and how long a request waits for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// PostgreSQL connections, or SQLite readers (SQLite has one writer besides).
    pub max_connections: u32,
    /// How long a request waits for a connection before the store counts as unavailable;
    /// while the database is down, this bounds how long a request hangs.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Whether the SQLite writer connection handed back to its pool may be used again: only if
/// no transaction is open on it, as sqlx counts them and as SQLite does. An error such as
/// `SQLITE_FULL` can roll SQLite's transaction back behind sqlx's back (or leave it open
/// after sqlx gave up on it); a connection reused in that state runs later "commits"
/// inside a transaction that is never committed, so acknowledged writes would vanish.
/// Such a connection is closed instead, and the pool opens a fresh one.
async fn sqlite_connection_reusable(
    conn: &mut sqlx::SqliteConnection,
) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        return Ok(false);
    }
    // `BEGIN` fails inside an open transaction; otherwise it is undone at once. One script,
    // so one hand-over to the connection's worker thread: the writer is held meanwhile.
    Ok(sqlx::query("BEGIN; ROLLBACK")
        .execute(&mut *conn)
        .await
        .is_ok())
}

/// Whether a read-only SQLite connection handed back to its pool may be used again: when
/// sqlx counts no transaction open on it.
async fn sqlite_reader_reusable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    Ok(!conn.is_in_transaction())
}

impl Store {
    /// Opens the store named by the URL; with [`Access::Migrate`] its schema is brought up
    /// to date, with [`Access::ReadOnly`] a schema older or newer than this build is an error.
    pub async fn open(url: &str, access: Access) -> Result<Self, StoreError> {
        Self::open_with(url, access, PoolSettings::default()).await
    }

    /// As [`Store::open`], with the pools sized and timed as `pool` says.
    pub async fn open_with(
        url: &str,
        access: Access,
        pool: PoolSettings,
    ) -> Result<Self, StoreError> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(StoreError::Connect)?;
            if access == Access::ReadOnly {
                // One plain connection first: the pool would retry a refused or failing
                // connection until its timeout and then report only that it timed out,
                // where a reading tool should say at once what is wrong.
                use sqlx::Connection;
                sqlx::PgConnection::connect_with(&options)
                    .await
                    .map_err(StoreError::Connect)?
                    .close()
                    .await
                    .map_err(StoreError::Connect)?;
            }
            let pg = PgPoolOptions::new()
                .max_connections(pool.max_connections)
                .acquire_timeout(pool.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(StoreError::Connect)?;
            Self::Postgres(pg)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if access == Access::Migrate {
                if let Some(dir) = Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
            } else if !Path::new(path).exists() {
                return Err(StoreError::NoSuchFile(path.to_string()));
            }
            let options = SqliteConnectOptions::from_str(url)
                .map_err(StoreError::Connect)?
                .create_if_missing(access == Access::Migrate)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // Another process on the file (the replay tool's rebuild) may hold the write lock.
                .busy_timeout(pool.acquire_timeout);
            let committed = Arc::new(AtomicBool::new(false));
            let seen = committed.clone();
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(pool.acquire_timeout)
                .after_release(move |conn, _| {
                    // Just committed by a script of ours: no transaction is open, so the
                    // check (a hand-over of its own, with the writer held) can be spared.
                    let committed = seen.swap(false, Ordering::AcqRel);
                    Box::pin(async move {
                        use sqlx::Connection;
                        if committed && !conn.is_in_transaction() {
                            return Ok(true);
                        }
                        sqlite_connection_reusable(conn).await
                    })
                })
                .connect_with(options.clone())
                .await
                .map_err(StoreError::Connect)?;
            // Readers open the file read-only (after the writer, which made it and put it in
            // WAL mode), so no write can go through them. They need then no check on
            // release but sqlx's own count: a write, or a raw `BEGIN` (none runs on them),
            // is what leaves SQLite's transaction open behind sqlx's back, and a reader's
            // check cost a hand-over to its thread on every release.
            let readers = options.read_only(true);
            let read = SqlitePoolOptions::new()
                .max_connections(pool.max_connections)
                .acquire_timeout(pool.acquire_timeout)
                .after_release(|conn, _| Box::pin(sqlite_reader_reusable(conn)))
                .connect_with(readers.clone())
                .await
                .map_err(StoreError::Connect)?;
            let blobs = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .acquire_timeout(pool.acquire_timeout)
                .after_release(|conn, _| Box::pin(sqlite_reader_reusable(conn)))
                .connect_lazy_with(readers);
            let writer = writer::Writer::start(write.clone(), committed.clone());
            // Made from the file's real path, so two processes reaching it by different
            // names share one lock (the name given if it has none); a store in memory,
            // which no other process can open, needs none.
            let in_memory = path == ":memory:" || url.contains("mode=memory");
            let notifications_lock = (!in_memory).then(|| {
                let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
                let mut lock = real.into_os_string();
                lock.push("-notifications.lock");
                std::path::PathBuf::from(lock)
            });
            Self::Sqlite(SqlitePools {
                notifications_lock,
                read,
                write,
                blobs,
                log_turn: Default::default(),
                serials: Default::default(),
                writer,
                committed,
            })
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        match access {
            Access::Migrate => store.migrate().await?,
            Access::ReadOnly => store.check_schema().await?,
        }
        Ok(store)
    }

    fn migrator(&self) -> &'static Migrator {
        match self {
            Self::Postgres(_) => &POSTGRES_MIGRATIONS,
            Self::Sqlite(_) => &SQLITE_MIGRATIONS,
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
            Self::Sqlite(pools) => SQLITE_MIGRATIONS.run(&pools.write).await?,
        }
        Ok(())
    }

    /// The newest migration applied to the store, or 0 for an empty database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let exists = match self {
            Self::Postgres(pool) => {
                sqlx::query_scalar::<_, bool>("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(pool)
                    .await?
            }
            Self::Sqlite(pools) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = '_sqlx_migrations'",
                )
                .fetch_one(&pools.read)
                .await?
                    > 0
            }
        };
        if !exists {
            return Ok(0);
        }
        let sql = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        Ok(on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await)?)
    }

    /// The newest migration this build knows.
    pub fn known_schema_version(&self) -> i64 {
        self.migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or_default()
    }

    async fn check_schema(&self) -> Result<(), StoreError> {
        let found = self.schema_version().await?;
        let known = self.known_schema_version();
        let advice = if found == 0 {
            "this is not a Casefile store (start the service on it once to create one)"
        } else if found < known {
            "start the service once to bring it up to date, then run this again"
        } else if found > known {
            "use the casefile-replay of the same release as the service"
        } else {
            return Ok(());
        };
        Err(StoreError::SchemaMismatch {
            found,
            known,
            advice,
        })
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
}

/// An `i64` column value for a count or sequence that is never negative in practice.
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::Serials;

    #[test]
    fn guesses_follow_the_last_serial_handed_out() {
        let serials = Serials::default();
        assert_eq!(serials.last_in(2026), None, "nothing handed out yet");
        serials.hand_out(2026, 41);
        assert_eq!(serials.last_in(2026), Some(41));
        assert_eq!(serials.last_in(2027), None, "another year");
        serials.hand_out(2026, 42);
        serials.take_back(2026, 42);
        assert_eq!(serials.last_in(2026), Some(41), "taken back");
        serials.hand_out(2026, 42);
        serials.hand_out(2026, 43);
        serials.take_back(2026, 42);
        assert_eq!(
            serials.last_in(2026),
            Some(43),
            "a later guess is not undone"
        );
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn sqlite_readers_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = super::Store::open(&url, super::Access::Migrate)
            .await
            .unwrap();
        let super::Store::Sqlite(pools) = &store else {
            panic!("a SQLite store")
        };
        for (name, pool) in [("readers", &pools.read), ("blob reader", &pools.blobs)] {
            let refused = sqlx::query("CREATE TABLE scratch (x)")
                .execute(pool)
                .await
                .unwrap_err();
            assert!(
                refused.to_string().contains("readonly"),
                "{name}: {refused}"
            );
            let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(events, 0, "{name} read");
        }
        sqlx::query("CREATE TABLE scratch (x)")
            .execute(&pools.write)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn logs_wait_while_one_takes_its_serial_from_the_store() {
        let serials = std::sync::Arc::new(Serials::default());
        serials.none_at_store().await;
        let first = serials.taking_from_store();
        let second = serials.taking_from_store();
        assert_eq!(serials.at_store(), 2);
        let waiting = {
            let serials = serials.clone();
            tokio::spawn(async move { serials.none_at_store().await })
        };
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one log is still at the store");
        drop(second);
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
        assert!(
            ended.is_ok(),
            "the wait ends with the last log at the store"
        );
        assert_eq!(serials.at_store(), 0);
    }
}
