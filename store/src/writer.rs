//! SQLite's one writer, shared by concurrent commits. Each commit joins a queue; a task of
//! the store's own takes everything waiting and writes it in one transaction. A log of a
//! new case wrote about fifty pages of table and index to the WAL, most of them the same
//! few pages (the last leaf of each index the rows go to the end of) that the next commit
//! wrote again; written together, those pages are written once per transaction, not once
//! per commit.
//!
//! A transaction that fails writes nothing; its commits are then tried one by one, and a
//! commit that fails alone too is told to commit on its own (as it would without the
//! queue), so that only the commit at fault gets the error: the batch is a way of
//! writing, never a change to what is written.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::commit::SqliteBinds;

/// The most commits written in one transaction.
const MOST: usize = 16;

/// The queue of commits waiting for the writer.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    binds: SqliteBinds,
    /// When it joined the queue.
    queued: Instant,
    /// Whether it was committed; `false`: nothing of it was written, commit it alone.
    written: oneshot::Sender<bool>,
}

impl Writer {
    /// Starts the task that writes through `pool` (the one writer connection). It ends when
    /// the last handle to the queue is dropped. `committed` is the pool's flag saying its
    /// connection is let go with no transaction open.
    pub(crate) fn start(pool: SqlitePool, committed: Arc<AtomicBool>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write(pool, waiting, committed));
        Self { queue }
    }

    /// Queues one commit, to be written with whatever else is waiting; the future says
    /// `true` once it is committed, `false` if nothing of it was written and it must be
    /// committed alone. Queued at once, so commits queued one after another are written
    /// in that order.
    pub(crate) fn enqueue(&self, binds: SqliteBinds) -> impl std::future::Future<Output = bool> {
        let (written, reply) = oneshot::channel();
        let queued = self
            .queue
            .send(Waiting {
                binds,
                queued: Instant::now(),
                written,
            })
            .is_ok();
        // A dropped reply means the task is gone: it never says `true` before the commit.
        async move { queued && reply.await.unwrap_or(false) }
    }
}

async fn write(
    pool: SqlitePool,
    mut queue: mpsc::UnboundedReceiver<Waiting>,
    committed: Arc<AtomicBool>,
) {
    let mut next: VecDeque<Waiting> = VecDeque::new();
    loop {
        let first = match next.pop_front() {
            Some(first) => first,
            None => match queue.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MOST {
            let Ok(waiting) = queue.try_recv() else {
                break;
            };
            // Two commits on one case in one transaction: the second was worked out
            // without the first, so its events would clash with the first's and fail the
            // whole batch. It goes first in the next one instead.
            if batch.iter().any(|b| b.binds.id == waiting.binds.id) {
                next.push_back(waiting);
                break;
            }
            batch.push(waiting);
        }
        let started = Instant::now();
        let written = write_batch(&pool, &batch, &committed).await;
        metrics::histogram!("casefile_sqlite_write_seconds")
            .record(started.elapsed().as_secs_f64());
        for (waiting, written) in batch.into_iter().zip(written) {
            metrics::histogram!("casefile_sqlite_commit_wait_seconds")
                .record(waiting.queued.elapsed().as_secs_f64());
            let _ = waiting.written.send(written);
        }
    }
}

/// One transaction of every commit in `batch`; whether each committed. When the
/// transaction fails, each commit is tried again in a transaction of its own, in the order
/// they came, so that one at fault holds back no other (and logs' guessed serials are tried
/// in the order they were guessed: tried in any order, most of them would be wrong).
async fn write_batch(pool: &SqlitePool, batch: &[Waiting], committed: &AtomicBool) -> Vec<bool> {
    let Ok(mut conn) = pool.acquire().await else {
        // Each commit then waits for the writer on its own and reports why it could not.
        return vec![false; batch.len()];
    };
    if write_together(&mut conn, batch).await {
        committed.store(true, Ordering::Release);
        return vec![true; batch.len()];
    }
    let mut written = Vec::with_capacity(batch.len());
    for waiting in batch {
        written.push(
            batch.len() > 1 && write_together(&mut conn, std::slice::from_ref(waiting)).await,
        );
    }
    committed.store(true, Ordering::Release);
    written
}

/// One transaction of `batch`; whether it committed (else it was rolled back).
async fn write_together(conn: &mut sqlx::SqliteConnection, batch: &[Waiting]) -> bool {
    let mut query = sqlx::query(batch_sql(batch.len()));
    for waiting in batch {
        query = waiting.binds.bind_all(query);
    }
    match query.execute(&mut *conn).await {
        Ok(_) => {
            metrics::histogram!("casefile_sqlite_commits_per_transaction")
                .record(batch.len() as f64);
            true
        }
        Err(err) => {
            tracing::debug!(%err, commits = batch.len(), "a transaction of commits failed");
            crate::commit::rollback(conn).await;
            false
        }
    }
}

/// `BEGIN IMMEDIATE`, the writes of `n` commits, each with its own block of parameters, and
/// `COMMIT`: made once for each size, so SQLite's prepared statements are reused.
fn batch_sql(n: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        (1..=MOST)
            .map(|n| {
                let mut sql = String::from("BEGIN IMMEDIATE;\n");
                for i in 0..n {
                    sql.push_str(&renumber(
                        crate::commit::SQLITE_ONE_COMMIT,
                        i * SqliteBinds::PARAMETERS,
                    ));
                    sql.push('\n');
                }
                sql.push_str("COMMIT");
                sql
            })
            .collect()
    });
    &all[n.clamp(1, MOST) - 1]
}

/// `sql` with every parameter `$N` made `$(N + offset)`. (Our scripts hold no `$` but
/// their parameters'.)
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn parameters(sql: &str) -> BTreeSet<usize> {
        sql.split('$')
            .skip(1)
            .map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn each_commit_of_a_batch_has_its_own_block_of_parameters() {
        let one = parameters(crate::commit::SQLITE_ONE_COMMIT);
        assert_eq!(
            one,
            (1..=SqliteBinds::PARAMETERS).collect(),
            "a commit binds every parameter it has"
        );
        for n in [1, 2, MOST] {
            assert_eq!(
                parameters(batch_sql(n)),
                (1..=n * SqliteBinds::PARAMETERS).collect(),
                "{n} commits"
            );
        }
        assert_eq!(renumber("a = $1 AND b = $35", 35), "a = $36 AND b = $70");
    }
}
