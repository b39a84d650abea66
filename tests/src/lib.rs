//! The end-to-end harness: starts the real Casefile service on port 0 against a fresh
//! store per test and talks to it over HTTP, exactly as a client would.
//!
//! - [`spawn_app`] builds an empty store for one test — a new SQLite file in the temp dir,
//!   or a new PostgreSQL database `casefile_test_<uuid>` created through the admin URL in
//!   `CASEFILE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) —
//!   then runs [`Application`] on `127.0.0.1:0` in the test's runtime. Dropping the
//!   [`TestApp`] stops the server and removes the store.
//! - [`TestApp`] has typed helpers for the HTTP API (`post`, `get`, `act`, `history`,
//!   `create_user`, `log_complaint`…); every helper returns the status and the parsed body
//!   and never retries.
//! - [`both_backends!`] turns one scenario `async fn(Backend)` into two tests,
//!   `name::sqlite` and `name::postgres`, so every scenario runs on both stores.
//!
//! Nothing here computes deadlines or checks rules: the suites state the expected answers
//! themselves, from `docs/api.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use casefile_api::config::Config;
use casefile_api::startup::Application;
use chrono::{Days, NaiveDate, Utc};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
pub use reqwest::StatusCode;
pub use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::oneshot;
use uuid::Uuid;

/// The admin URL the PostgreSQL suites create their databases through.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Every role the service knows.
pub const ROLES: [&str; 7] = [
    "advisor",
    "officer",
    "reviewer",
    "manager",
    "compliance",
    "auditor",
    "admin",
];

/// The event store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The stores a benchmark runs on: both, PostgreSQL first, unless `STORES` names some
/// (`postgres`, `sqlite`, comma-separated).
pub fn bench_backends() -> Vec<Backend> {
    let wanted = std::env::var("STORES").unwrap_or_default();
    let wanted: Vec<&str> = wanted
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    [(Backend::Postgres, "postgres"), (Backend::Sqlite, "sqlite")]
        .into_iter()
        .filter(|(_, name)| wanted.is_empty() || wanted.contains(name))
        .map(|(backend, _)| backend)
        .collect()
}

/// Expands each `name => scenario` into a module `name` with two tests, `sqlite` and
/// `postgres`, each calling `scenario(Backend::…)` on a two-worker multi-thread runtime.
/// The scenario must be an `async fn(Backend)` visible from the module the macro is used in.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident => $scenario:path),* $(,)?) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $scenario($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $scenario($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

pub mod cluster;
pub mod instances;
pub mod smtp;
pub mod web;

/// Where the test's store lives, so it can be removed afterwards.
#[derive(Debug, Clone)]
enum Store {
    Sqlite(PathBuf),
    Postgres { admin_url: String, database: String },
}

/// One user of the running service.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub token: String,
}

/// One user per role, plus a second reviewer, created through `POST /users`.
#[derive(Debug, Clone)]
pub struct Staff {
    pub advisor: User,
    pub officer: User,
    pub reviewer: User,
    pub reviewer2: User,
    pub manager: User,
    pub compliance: User,
    pub auditor: User,
}

/// An HTTP answer: status, headers, raw text and (when the text is JSON) the parsed body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// `Value::Null` for an empty body, `Value::String(text)` for a body that is not JSON.
    pub json: Value,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a request carries.
#[derive(Debug, Clone)]
pub enum Body {
    None,
    Json(Value),
    /// Exactly these bytes, with this `Content-Type` (none when `None`).
    Raw {
        content_type: Option<String>,
        bytes: Vec<u8>,
    },
}

/// A running service on its own empty store.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub admin_token: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    store: Store,
    /// Whether dropping this instance removes the store (not for a second instance on it).
    owns_store: bool,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Starts the service against a fresh store of `backend`.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// The store URL a fresh test store of `backend` is reached by, and its handle.
async fn fresh_store(backend: Backend) -> (Store, String) {
    let store = match backend {
        Backend::Sqlite => Store::Sqlite(
            std::env::temp_dir().join(format!("casefile-test-{}.db", Uuid::new_v4().simple())),
        ),
        Backend::Postgres => create_postgres_database().await,
    };
    let url = store_url(&store);
    (store, url)
}

fn store_url(store: &Store) -> String {
    match store {
        Store::Sqlite(path) => format!("sqlite://{}", path.display()),
        Store::Postgres {
            admin_url,
            database,
        } => with_database(admin_url, database),
    }
}

/// Starts the service against a fresh store of `backend`, with `configure` applied to the
/// test configuration first (extra procedures, a bank-holidays file…).
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    let (store, url) = fresh_store(backend).await;
    start(backend, store, &url, true, configure).await
}

/// Starts the service on a fresh database of the PostgreSQL server at `admin_url` (a
/// [`cluster::Cluster`] of the test's own, say), with `configure` applied first.
pub async fn spawn_app_on_server(admin_url: &str, configure: impl FnOnce(&mut Config)) -> TestApp {
    let store = create_postgres_database_on(admin_url.to_string()).await;
    let url = store_url(&store);
    start(Backend::Postgres, store, &url, true, configure).await
}

/// Runs the service on `url`; `owns_store` says whether dropping it removes the store.
async fn start(
    backend: Backend,
    store: Store,
    url: &str,
    owns_store: bool,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config::for_tests(url);
    configure(&mut config);
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => panic!("the service did not start against {backend:?} ({url}): {err:?}"),
    };
    let address = format!("http://127.0.0.1:{}", app.local_addr().port());
    let admin_token = app.admin_token().to_string();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .no_proxy()
        // A safety net against a hung server, not an assertion about speed.
        .timeout(Duration::from_secs(120))
        .build()
        .expect("an HTTP client");
    TestApp {
        address,
        admin_token,
        client,
        backend,
        store,
        owns_store,
        shutdown: Some(tx),
        server: Some(server),
    }
}

fn admin_database_url() -> String {
    std::env::var("CASEFILE_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_string())
}

/// `admin_url` with its database name replaced by `database` (query string kept).
pub fn with_database(admin_url: &str, database: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

async fn create_postgres_database() -> Store {
    create_postgres_database_on(admin_database_url()).await
}

async fn create_postgres_database_on(admin_url: String) -> Store {
    let database = format!("casefile_test_{}", Uuid::new_v4().simple());
    let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(err) => panic!(
            "cannot reach PostgreSQL at {admin_url}: {err}. Run the suite through \
             scripts/test.sh (it finds or starts a server), or set CASEFILE_TEST_DATABASE_URL \
             to the admin URL of a server this test may create databases on"
        ),
    };
    sqlx::query(&format!("CREATE DATABASE \"{database}\""))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("CREATE DATABASE {database} on {admin_url}: {err}"));
    let _ = conn.close().await;
    Store::Postgres {
        admin_url,
        database,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if !self.owns_store {
            return;
        }
        match &self.store {
            Store::Sqlite(path) => {
                let _ = std::fs::remove_file(path);
                for suffix in ["-wal", "-shm", "-journal", "-notifications.lock"] {
                    let mut other = path.clone().into_os_string();
                    other.push(suffix);
                    let _ = std::fs::remove_file(other);
                }
            }
            Store::Postgres {
                admin_url,
                database,
            } => {
                // Best effort, on a runtime of its own: Drop cannot await.
                let admin_url = admin_url.clone();
                let database = database.clone();
                let dropper = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                            ))
                            .execute(&mut conn)
                            .await;
                            let _ = conn.close().await;
                        }
                    });
                });
                let _ = dropper.join();
            }
        }
    }
}

impl TestApp {
    /// Stops the in-process service and waits until it has, keeping the store: for a run
    /// that measures another instance (a process of its own) on the store alone, with no
    /// second watchdog or delivery loop taking the store's locks.
    pub async fn stop_service(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends one request. `path` is from the server root, e.g. `/api/v1/complaints`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.client.request(method.clone(), self.url(path));
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&value).expect("JSON")),
            Body::Raw {
                content_type,
                bytes,
            } => {
                let request = match content_type {
                    Some(ct) => request.header(CONTENT_TYPE, ct),
                    None => request,
                };
                request.body(bytes)
            }
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: no HTTP answer: {err}"));
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: reading the body: {err}"));
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
        };
        assert!(
            !status.is_server_error(),
            "{method} {path} answered {status} (never a 5xx): {text}"
        );
        // The store's refusal of a value the input checks let through: a hole in them.
        assert_ne!(
            json["error"], "unstorable_input",
            "{method} {path}: a value reached the store unchecked: {text}"
        );
        Response {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .send(Method::POST, path, Some(token), Body::Json(body), &[])
            .await;
        (r.status, r.json)
    }

    pub async fn post_with_headers(
        &self,
        path: &str,
        token: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send(Method::POST, path, Some(token), Body::Json(body), headers)
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .send(Method::GET, path, Some(token), Body::None, &[])
            .await;
        (r.status, r.json)
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .send(Method::DELETE, path, Some(token), Body::None, &[])
            .await;
        (r.status, r.json)
    }

    /// `POST /api/v1/complaints/{id}/{action}`.
    pub async fn act(
        &self,
        token: &str,
        id: &str,
        action: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.post(&format!("/api/v1/complaints/{id}/{action}"), token, body)
            .await
    }

    /// An action that must succeed: asserts `200` and returns the case view.
    pub async fn act_ok(&self, token: &str, id: &str, action: &str, body: Value) -> Value {
        let (status, view) = self.act(token, id, action, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "POST {action} on {id} with {body} answered {status}: {view}"
        );
        view
    }

    /// Records the Stage 2 definition of the complaint, which a Stage 2 response needs, at
    /// `occurred_at` if given (a case backdated to its real dates defines it on one of them).
    pub async fn define_stage2(&self, token: &str, id: &str, occurred_at: Option<&str>) -> Value {
        let mut body = definition("stage2");
        if let Some(at) = occurred_at {
            body["occurred_at"] = json!(at);
        }
        self.act_ok(token, id, "definition", body).await
    }

    /// `POST /api/v1/users`; returns `(id, token)`.
    pub async fn create_user(&self, name: &str, roles: &[&str]) -> (String, String) {
        let (status, body) = self
            .post(
                "/api/v1/users",
                &self.admin_token,
                json!({"name": name, "roles": roles}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "POST /users {name}: {body}");
        (str_at(&body, "id"), str_at(&body, "token"))
    }

    pub async fn user(&self, name: &str, role: &str) -> User {
        let (id, token) = self.create_user(name, &[role]).await;
        User {
            id,
            name: name.to_string(),
            token,
        }
    }

    /// One user per role (and a second reviewer).
    pub async fn staff(&self) -> Staff {
        Staff {
            advisor: self.user("Ada Advisor", "advisor").await,
            officer: self.user("Olu Officer", "officer").await,
            reviewer: self.user("Rae Reviewer", "reviewer").await,
            reviewer2: self.user("Rob Reviewer", "reviewer").await,
            manager: self.user("Mo Manager", "manager").await,
            compliance: self.user("Cat Compliance", "compliance").await,
            auditor: self.user("Aud Auditor", "auditor").await,
        }
    }

    /// `POST /api/v1/complaints` that must succeed: asserts `201`, returns the case view.
    pub async fn log_complaint(&self, token: &str, body: Value) -> Value {
        let (status, view) = self.post("/api/v1/complaints", token, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "POST /complaints with {body} answered {status}: {view}"
        );
        view
    }

    /// Logs [`valid_complaint`] as the admin; returns the case id.
    pub async fn new_case(&self) -> String {
        let view = self
            .log_complaint(&self.admin_token, valid_complaint())
            .await;
        str_at(&view, "id")
    }

    /// The ids `GET /api/v1/complaints?{query}` lists for `token` (up to 500); asserts `200`
    /// and that the page holds every match.
    pub async fn queue_ids(&self, token: &str, query: &str) -> std::collections::BTreeSet<String> {
        let (status, body) = self
            .get(&format!("/api/v1/complaints?{query}&limit=500"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        let items = body["items"].as_array().unwrap();
        assert_eq!(
            body["total"].as_u64(),
            Some(items.len() as u64),
            "{query}: {body}"
        );
        items.iter().map(|i| str_at(i, "id")).collect()
    }

    /// `GET /api/v1/complaints/{id}` as the admin; asserts `200`.
    pub async fn case(&self, id: &str) -> Value {
        let (status, view) = self
            .get(&format!("/api/v1/complaints/{id}"), &self.admin_token)
            .await;
        assert_eq!(status, StatusCode::OK, "GET case {id}: {view}");
        view
    }

    /// The `events` of `GET /api/v1/complaints/{id}/history` as the admin; asserts `200`.
    pub async fn history(&self, id: &str) -> Vec<Value> {
        let (status, body) = self
            .get(
                &format!("/api/v1/complaints/{id}/history"),
                &self.admin_token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "GET history {id}: {body}");
        body["events"]
            .as_array()
            .unwrap_or_else(|| panic!("history of {id} has no `events` array: {body}"))
            .clone()
    }

    /// The `type` of every event of the case, in order.
    pub async fn event_types(&self, id: &str) -> Vec<String> {
        self.history(id)
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// `GET /metrics` as the admin: the process's Prometheus text (its counters are shared
    /// by every test in the process).
    pub async fn metrics_text(&self) -> String {
        reqwest::Client::new()
            .get(self.url("/metrics"))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `total` of `GET /api/v1/complaints` as the admin.
    pub async fn case_total(&self) -> u64 {
        let (status, body) = self.get("/api/v1/complaints", &self.admin_token).await;
        assert_eq!(status, StatusCode::OK, "GET /complaints: {body}");
        body["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("GET /complaints has no numeric total: {body}"))
    }
}

/// The string at `key` (a JSON pointer when it starts with `/`), or a panic naming it.
pub fn str_at(value: &Value, key: &str) -> String {
    let found = if key.starts_with('/') {
        value.pointer(key)
    } else {
        value.get(key)
    };
    found
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at `{key}` in {value}"))
        .to_string()
}

/// Today's date in UTC.
pub fn utc_today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Polls `check` every 100 ms for up to 20 s: for what the service does on its own.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `n` days before today (UTC), as `YYYY-MM-DD`.
pub fn days_ago(n: u64) -> String {
    (utc_today() - Days::new(n)).to_string()
}

/// The dates "today" can be in the UK: UK time is UTC or one hour ahead of it.
pub fn uk_today_candidates() -> BTreeSet<String> {
    let now = Utc::now();
    [now, now + chrono::Duration::hours(1)]
        .iter()
        .map(|t| t.date_naive().to_string())
        .collect()
}

/// A chc-2024 complaint in England and Wales received three days ago, issue a fortnight
/// before that, logged by email; no `occurred_at`.
pub fn valid_complaint() -> Value {
    json!({
        "procedure": "chc-2024",
        "division": "england-and-wales",
        "received_on": days_ago(3),
        "issue_arose_on": days_ago(17),
        "channel": "email",
        "complainant": {
            "name": "Alex Morgan",
            "email": "alex@example.org",
            "phone": null,
            "address": "Flat 2, 10 High St",
            "resident_id": "T-1042"
        },
        "summary": "Repeated boiler failure",
        "description": "No heating for three weeks.",
        "definition": "The boiler has failed repeatedly and the repairs have not lasted.",
        "outcomes_sought": ["A boiler that works"]
    })
}

/// A complaint received on `received_on` (`YYYY-MM-DD`) and logged at 09:00 UTC that day.
pub fn backdated_complaint(procedure: &str, division: &str, received_on: &str) -> Value {
    merge(
        valid_complaint(),
        json!({
            "procedure": procedure,
            "division": division,
            "received_on": received_on,
            "issue_arose_on": received_on,
            "occurred_at": format!("{received_on}T09:00:00Z"),
        }),
    )
}

/// `base` with the top-level keys of `patch` set (a `null` in `patch` removes the key).
pub fn merge(mut base: Value, patch: Value) -> Value {
    if let (Some(base), Value::Object(patch)) = (base.as_object_mut(), patch) {
        for (key, value) in patch {
            if value.is_null() {
                base.remove(&key);
            } else {
                base.insert(key, value);
            }
        }
    }
    base
}

/// A definition of the complaint for `stage` (`stage1` or `stage2`), recorded now.
pub fn definition(stage: &str) -> Value {
    json!({
        "stage": stage,
        "definition": "The boiler still fails after the Stage 1 repair.",
        "outcomes_sought": ["A new boiler", "Compensation for the weeks without heating"]
    })
}

/// A stage response body.
pub fn stage_response(outcome: &str) -> Value {
    json!({
        "outcome": outcome,
        "decision": "We will replace the boiler.",
        "reasons": "The engineer's report confirms repeated failures.",
        "remedy": {"actions": ["Replace boiler"], "compensation_pence": 15000},
        "outstanding_actions": ["Fit new boiler"]
    })
}

/// Asserts the one error body of docs/api.md: this status, this `error` code, and the
/// keys `error`, `message` (a non-empty string) and `details`.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(
        (status, body["error"].as_str()),
        (expected, Some(code)),
        "expected {expected} `{code}`, got {status}: {body}"
    );
    assert_error_shape(body);
}

/// Asserts `body` has the error keys `error`, `message` (non-empty) and `details`.
#[track_caller]
pub fn assert_error_shape(body: &Value) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("an error body must be a JSON object: {body}"));
    for key in ["error", "message", "details"] {
        assert!(obj.contains_key(key), "error body lacks `{key}`: {body}");
    }
    assert!(
        body["error"].as_str().is_some_and(|s| !s.is_empty()),
        "`error` must be a non-empty string: {body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|s| !s.is_empty()),
        "`message` must be a non-empty string: {body}"
    );
}

/// Asserts the events' `sequence` values are exactly 1..=n in order.
#[track_caller]
pub fn assert_gapless(events: &[Value]) {
    let sequences: Vec<Option<u64>> = events.iter().map(|e| e["sequence"].as_u64()).collect();
    let expected: Vec<Option<u64>> = (1..=events.len() as u64).map(Some).collect();
    assert_eq!(sequences, expected, "history sequences are not 1..n");
}

/// The keys of the case view's `deadlines` object.
pub fn deadline_keys(view: &Value) -> BTreeSet<String> {
    view["deadlines"]
        .as_object()
        .unwrap_or_else(|| panic!("case view has no `deadlines` object: {view}"))
        .keys()
        .cloned()
        .collect()
}

/// A set of strings, for comparing with [`deadline_keys`].
pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}
