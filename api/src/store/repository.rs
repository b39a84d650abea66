//! The event repository cqrs-es reads and writes through: postgres-es or sqlite-es behind
//! one type, so the rest of the service has a single `Cqrs` whatever the backend.
//!
//! Every write of an event passes through [`CaseRepository::persist`]; that is where a
//! per-event hash chain is computed and written in the same insert as the event.

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;

use crate::store::Store;

pub enum CaseRepository {
    Postgres(PostgresEventRepository),
    Sqlite(SqliteEventRepository),
}

impl CaseRepository {
    pub fn new(store: &Store) -> Self {
        match store {
            Store::Postgres(pool) => Self::Postgres(PostgresEventRepository::new(pool.clone())),
            Store::Sqlite(pool) => Self::Sqlite(SqliteEventRepository::new(pool.clone())),
        }
    }
}

/// Forwards one call to whichever backend repository is in use.
macro_rules! forward {
    ($self:expr, |$repo:ident| $call:expr) => {
        match $self {
            CaseRepository::Postgres($repo) => $call,
            CaseRepository::Sqlite($repo) => $call,
        }
    };
}

impl PersistedEventRepository for CaseRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        forward!(self, |repo| repo.get_events::<A>(aggregate_id).await)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        forward!(self, |repo| repo
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        forward!(self, |repo| repo.get_snapshot::<A>(aggregate_id).await)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        forward!(self, |repo| repo
            .persist::<A>(events, snapshot_update)
            .await)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        forward!(self, |repo| repo.stream_events::<A>(aggregate_id).await)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        forward!(self, |repo| repo.stream_all_events::<A>().await)
    }
}
