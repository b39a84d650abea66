//! Gap-free global positions on PostgreSQL (decision 0003). A command's transaction leaves
//! its events' `position` empty; the sequencer, one at a time across every instance (an
//! advisory lock), gives the committed events it finds the next positions in insertion
//! order. A position is thus only ever given to a committed event and always above every
//! position given before, so a reader following positions never passes an event that
//! commits later. SQLite has one writer, and positions are taken inside its transaction.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::Store;

/// How many events one sequencing transaction places at most.
const BATCH: i64 = 5_000;
/// How often an instance looks for events other instances committed.
const POLL: Duration = Duration::from_millis(100);
/// Any number, the same in every instance: the advisory lock's key.
const LOCK_KEY: i64 = 0x4361_7365_6669_6c65;

/// Places up to `$1` events. With none to place, it writes nothing (the head is left as it
/// is), so a poll that finds nothing commits no change for the disk to flush.
const PLACE: &str = "\
WITH next AS MATERIALIZED (
    SELECT id, row_number() OVER (ORDER BY id) AS n
    FROM (SELECT id FROM events WHERE position IS NULL AND aggregate_type = 'Complaint'
          ORDER BY id LIMIT $1) pending
), head AS (
    UPDATE event_head SET position = position + (SELECT COUNT(*) FROM next)
    WHERE id = 0 AND EXISTS (SELECT 1 FROM next)
    RETURNING position - (SELECT COUNT(*) FROM next) AS base
), placed AS (
    UPDATE events e SET position = head.base + next.n FROM next, head WHERE e.id = next.id
    RETURNING 1
)
SELECT COUNT(*) FROM placed";

impl Store {
    /// Places the committed events that have no position yet; returns how many. Another
    /// instance sequencing at the same moment makes this one return 0.
    pub async fn sequence_events(&self) -> Result<u64, sqlx::Error> {
        let Store::Postgres(pool) = self else {
            return Ok(0);
        };
        let mut placed = 0;
        loop {
            let mut tx = pool.begin().await?;
            // Bitmap scans off for this transaction: with statistics older than the last
            // burst of writes, PostgreSQL chose a bitmap scan of every entry the position
            // index ever had for NULL (one per event, dead once it was placed: 19 ms at
            // 42,000 events, several times a second, growing until a vacuum), where the
            // partial index of unplaced events reads only those (0.06 ms).
            let locked: bool = sqlx::query_scalar(
                "SELECT set_config('enable_bitmapscan', 'off', true) IS NOT NULL \
                 AND pg_try_advisory_xact_lock($1)",
            )
            .bind(LOCK_KEY)
            .fetch_one(&mut *tx)
            .await?;
            if !locked {
                return Ok(placed);
            }
            let n: i64 = sqlx::query_scalar(PLACE)
                .bind(BATCH)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            placed += u64::try_from(n).unwrap_or_default();
            if n < BATCH {
                return Ok(placed);
            }
        }
    }
}

/// Wakes the sequencer after a commit, so the feed moves on within milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Sequencer {
    kick: Arc<Notify>,
}

impl Sequencer {
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    /// Runs until `shutdown` completes: on every kick, and every 100 ms for the events of
    /// other instances. Does nothing on SQLite.
    pub async fn run(self, store: Store, shutdown: impl std::future::Future<Output = ()>) {
        if !matches!(store, Store::Postgres(_)) {
            return;
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = self.kick.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            if let Err(err) = store.sequence_events().await {
                tracing::warn!(%err, "sequencing events failed; trying again shortly");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}
