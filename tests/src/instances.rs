//! More than one service on one store, the store reached behind the service's back (to
//! tamper with it as an attacker with database access would), and the service as a real
//! process that can be killed with SIGKILL.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Row};
use tokio::io::{AsyncBufReadExt, BufReader};

use casefile_api::config::Config;

use crate::{start, with_database, Backend, Store, TestApp};

impl TestApp {
    /// The store URL the service was started with.
    pub fn database_url(&self) -> String {
        match &self.store {
            Store::Sqlite(path) => format!("sqlite://{}", path.display()),
            Store::Postgres {
                admin_url,
                database,
            } => with_database(admin_url, database),
        }
    }

    /// A second instance of the service on the same store (it leaves the store in place
    /// when dropped).
    pub async fn sibling(&self) -> TestApp {
        self.sibling_with(|_| {}).await
    }

    /// [`sibling`](Self::sibling), with `configure` applied to its configuration.
    pub async fn sibling_with(&self, configure: impl FnOnce(&mut Config)) -> TestApp {
        let mut app = start(
            self.backend,
            self.store.clone(),
            &self.database_url(),
            false,
            configure,
        )
        .await;
        // Same administrator: the sibling seeded none, since one already had a token.
        app.admin_token = self.admin_token.clone();
        app
    }

    /// Stops this instance (its server, watchdog and deliverer) and keeps the store, for
    /// other instances to go on with.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Runs one SQL statement on the store directly; returns the rows it changed.
    pub async fn sql(&self, statement: &str) -> u64 {
        let url = self.database_url();
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("open {url}: {e}"));
                let done = sqlx::query(statement)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
                let _ = conn.close().await;
                done.rows_affected()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("open {url}: {e}"));
                let done = sqlx::query(statement)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
                let _ = conn.close().await;
                done.rows_affected()
            }
        }
    }

    /// The first column of every row of a query on the store, as text.
    pub async fn sql_texts(&self, query: &str) -> Vec<String> {
        let url = self.database_url();
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let rows = sqlx::query(query).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get::<String, _>(0)).collect()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                let rows = sqlx::query(query).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get::<String, _>(0)).collect()
            }
        }
    }

    /// How many events the store holds.
    pub async fn event_count(&self) -> u64 {
        self.sql_texts("SELECT CAST(COUNT(*) AS TEXT) FROM events")
            .await[0]
            .parse()
            .unwrap()
    }

    /// Waits until the store has had no new event for `quiet`, counting every `every`: the
    /// service has finished what it had to do, such as its watchdog raising alerts. Returns
    /// the count then and how long it took until the last new event was seen.
    pub async fn until_no_new_events(&self, quiet: Duration, every: Duration) -> (u64, Duration) {
        let started = std::time::Instant::now();
        let mut last = self.event_count().await;
        let mut still = Duration::ZERO;
        while still < quiet {
            tokio::time::sleep(every).await;
            let now = self.event_count().await;
            still = if now == last {
                still + every
            } else {
                Duration::ZERO
            };
            last = now;
        }
        (last, started.elapsed().saturating_sub(still))
    }

    /// Every read model as rows of text, in a fixed order: what a rebuild must reproduce.
    pub async fn read_model_rows(&self) -> Vec<String> {
        let mut rows = Vec::new();
        for query in [
            "SELECT id || ' ' || version || ' ' || last_hash || ' ' || body FROM case_records ORDER BY id",
            "SELECT case_id || ' ' || sequence || ' ' || list || ' ' || body FROM case_items ORDER BY case_id, sequence",
            "SELECT id || ' ' || version || ' ' || status || ' ' || due_key || ' ' || search || ' ' || \
             COALESCE(action_due, '-') || ' ' || body FROM case_summaries ORDER BY id",
            "SELECT case_id || ' ' || step || ' ' || due || ' ' || alerted FROM case_deadlines \
             ORDER BY case_id, step",
        ] {
            rows.extend(self.sql_texts(query).await);
        }
        rows
    }

    /// Rebuilds every read model from the events, as `casefile-replay rebuild` does.
    pub async fn rebuild(&self) {
        let store =
            casefile_store::Store::open(&self.database_url(), casefile_store::Access::ReadOnly)
                .await
                .unwrap_or_else(|e| panic!("open the store to rebuild it: {e}"));
        store
            .rebuild(&casefile_domain::Calendar::builtin(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("rebuild: {e}"));
    }
}

/// The service as a child process of its own, on a store that outlives it.
pub struct Process {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// What it wrote to its standard output (its log) after saying where it listens, the
    /// last [`LOG_LINES`] lines.
    log: Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

/// How many lines of a process's log are kept.
const LOG_LINES: usize = 10_000;

impl Process {
    /// Starts `program` (the suites pass `casefile-test-server`, the `casefile` binary's
    /// code) on `database_url` with a known administrator token, and waits until it listens.
    pub async fn start(program: &str, database_url: &str, admin_token: &str) -> Self {
        Self::start_with(program, database_url, admin_token, &[], None).await
    }

    /// As [`Process::start`], with extra environment and, when `file_size_limit` is given,
    /// no file it writes allowed to grow past that many bytes (`ulimit -f`, with SIGXFSZ
    /// ignored so that a write past it fails as on a full disk instead of killing it).
    pub async fn start_with(
        program: &str,
        database_url: &str,
        admin_token: &str,
        env: &[(&str, &str)],
        file_size_limit: Option<u64>,
    ) -> Self {
        let mut command = match file_size_limit {
            Some(bytes) => {
                // `ulimit -f` counts 512-byte blocks in POSIX shells.
                let mut c = tokio::process::Command::new("sh");
                c.arg("-c")
                    .arg(format!(
                        "trap '' XFSZ; ulimit -f {}; exec \"$0\"",
                        bytes / 512
                    ))
                    .arg(program);
                c
            }
            None => tokio::process::Command::new(program),
        };
        let mut child = command
            .env("CASEFILE_DATABASE_URL", database_url)
            .env("CASEFILE_LISTEN", "127.0.0.1:0")
            .env("CASEFILE_ADMIN_TOKEN", admin_token)
            .env("CASEFILE_LOG", "error")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the service process");
        let stdout = child.stdout.take().expect("its standard output");
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("Casefile is listening on ") {
                    return rest.split_whitespace().next().map(str::to_string);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("the service process said where it listens");
        // Keep reading its output so it never blocks on a full pipe.
        let log = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut kept) = kept.lock() {
                    if kept.len() == LOG_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(line);
                }
            }
        });
        Self {
            child,
            address,
            log,
        }
    }

    /// `GET` of `path` (from the server root) with `token`: the status and the JSON body.
    pub async fn get(&self, path: &str, token: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"));
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }

    /// `POST` of `body` to `path` (from the server root) with `token`.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.address))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {path}: {err}"));
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }

    /// Its log so far (`CASEFILE_LOG` sets what it writes; the default here is `error`).
    pub fn log(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flush, nothing finished.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
