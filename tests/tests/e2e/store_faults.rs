//! What a store's error becomes in an answer. The checks at the edge keep every value a
//! store cannot hold out (a NUL, text over an index's limit); if one slips past them, the
//! client is told `422 unstorable_input`, as JSON or as a page. A store that takes no more
//! connections, or is busy, is an outage: `503`. The service's own faults stay `500`,
//! including limits that a query of ours could reach as well as a request's value. Each
//! error here is a real one, from the real store.

use std::str::FromStr;

use axum::response::IntoResponse;
use casefile_api::error::ApiError;
use casefile_api::web::PageError;
use casefile_store::{CommitError, LoadError};
use casefile_tests::*;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_errors_are_told_apart() {
    let app = spawn_app(Backend::Postgres).await;
    let mut db = PgConnection::connect(&app.database_url()).await.unwrap();
    for setup in [
        "CREATE TEMP TABLE indexed (x text)",
        "CREATE INDEX ON indexed (x)",
        "CREATE TEMP TABLE once (x int PRIMARY KEY)",
        "INSERT INTO once VALUES (1)",
    ] {
        sqlx::query(setup).execute(&mut db).await.unwrap();
    }
    // Letters from a linear congruential generator: text that does not compress, so that
    // it cannot fit an index entry (at most about 2.7 kB) however PostgreSQL stores it.
    let mut seed = 0x2545_f491_u64;
    let incompressible: String = (0..20_000)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            char::from(b'a' + ((seed >> 33) % 26) as u8)
        })
        .collect();

    // A role that may not connect at all: its connections are refused as the server's
    // are when full (`53300`), an outage. Each way below gets a refusal of its own, all
    // taken before the role is dropped and before anything is asserted.
    let role = format!("casefile_limited_{}", uuid::Uuid::new_v4().simple());
    let password = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query(&format!(
        "CREATE ROLE {role} LOGIN CONNECTION LIMIT 0 PASSWORD '{password}'"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    let limited = PgConnectOptions::from_str(&app.database_url())
        .unwrap()
        .username(&role)
        .password(&password);
    let mut refused = Vec::new();
    for _ in Path::ALL {
        refused.push(PgConnection::connect_with(&limited).await);
    }
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&mut db)
        .await
        .unwrap();

    for (code, expected) in [
        ("22P05", Expected::Unstorable),
        ("22021", Expected::Unstorable),
        ("54000", Expected::Unstorable),
        ("54000", Expected::Ours),
        ("53300", Expected::Outage),
        ("23505", Expected::Ours),
        ("22012", Expected::Ours),
        ("42601", Expected::Ours),
    ] {
        for path in Path::ALL {
            let err = match code {
                // A NUL escaped in JSON: jsonb has no text to hold it in.
                "22P05" => sqlx::query(r"SELECT $1::jsonb")
                    .bind(r#"{"text": "a\u0000b"}"#)
                    .execute(&mut db)
                    .await
                    .unwrap_err(),
                // A NUL in a text parameter.
                "22021" => sqlx::query("SELECT $1::text")
                    .bind("a\0b")
                    .execute(&mut db)
                    .await
                    .unwrap_err(),
                "54000" if matches!(expected, Expected::Unstorable) => {
                    sqlx::query("INSERT INTO indexed VALUES ($1)")
                        .bind(&incompressible)
                        .execute(&mut db)
                        .await
                        .unwrap_err()
                }
                // The same code for a limit any query could reach: a string over 1 GB.
                "54000" => sqlx::query("SELECT repeat('xx', 600000000)")
                    .execute(&mut db)
                    .await
                    .unwrap_err(),
                "53300" => refused.pop().unwrap().expect_err("refused"),
                // A unique key taken, a division by zero and a statement that does not
                // parse: never the request's value alone.
                "23505" => sqlx::query("INSERT INTO once VALUES (1)")
                    .execute(&mut db)
                    .await
                    .unwrap_err(),
                "22012" => sqlx::query("SELECT 1 / (SELECT count(*) FROM once WHERE x = 2)")
                    .execute(&mut db)
                    .await
                    .unwrap_err(),
                _ => sqlx::query("SELEC 1").execute(&mut db).await.unwrap_err(),
            };
            assert_eq!(
                err.as_database_error().and_then(|e| e.code()).as_deref(),
                Some(code),
                "{err}"
            );
            expected.check(path.answer(err).await, code, path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_errors_are_told_apart() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut db = SqliteConnection::connect(&app.database_url())
        .await
        .unwrap();
    // A second connection holds the write lock, so the first, told not to wait, is busy.
    let mut holder = SqliteConnection::connect(&app.database_url())
        .await
        .unwrap();
    sqlx::query("PRAGMA busy_timeout = 0")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    for (code, expected) in [
        ("5", Expected::Outage),
        // SQLITE_TOOBIG: over SQLite's length limit of a billion bytes, which a query of
        // ours could reach as well as a value: the service's.
        ("18", Expected::Ours),
        ("1", Expected::Ours),
    ] {
        for path in Path::ALL {
            let err = match code {
                "5" => sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut db)
                    .await
                    .unwrap_err(),
                "18" => sqlx::query("SELECT zeroblob(2000000000)")
                    .execute(&mut db)
                    .await
                    .unwrap_err(),
                _ => sqlx::query("SELEC 1").execute(&mut db).await.unwrap_err(),
            };
            let found = err
                .as_database_error()
                .and_then(|e| e.code())
                .and_then(|c| c.parse::<i32>().ok())
                .map(|c| (c & 0xff).to_string());
            assert_eq!(found.as_deref(), Some(code), "{err}");
            expected.check(path.answer(err).await, code, path);
        }
    }
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
}

#[derive(Debug, Clone, Copy)]
enum Expected {
    /// `422 unstorable_input`, not retryable.
    Unstorable,
    /// `503 unavailable`, retryable.
    Outage,
    /// A fault of the service's: `500 internal`.
    Ours,
}

/// The ways a store error reaches an answer: a read's query, a command's commit, a case's
/// load inside the CQRS framework, a page of the web app, and under a wrapper the
/// classification does not know (one that, like the store's own, hides the `sqlx::Error`).
#[derive(Debug, Clone, Copy)]
enum Path {
    Query,
    Commit,
    Load,
    Page,
    Wrapped,
}

impl Path {
    const ALL: [Path; 5] = [
        Path::Query,
        Path::Commit,
        Path::Load,
        Path::Page,
        Path::Wrapped,
    ];

    /// The answer's status and, for the API, its JSON body.
    async fn answer(self, err: sqlx::Error) -> (u16, Option<Value>) {
        let response = match self {
            Path::Query => ApiError::from(err).into_response(),
            Path::Commit => ApiError::from(CommitError::from(err)).into_response(),
            Path::Load => ApiError::from(cqrs_es_error(LoadError::Database(err))).into_response(),
            // Unclassified, as a handler of a page may hand it over.
            Path::Page => PageError::from(ApiError::internal(err)).into_response(),
            Path::Wrapped => {
                ApiError::internal(casefile_store::StoreError::Database(err)).into_response()
            }
        };
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).ok())
    }
}

/// A load failure as the framework hands it over: boxed, as a "connection" error.
fn cqrs_es_error(err: LoadError) -> cqrs_es::AggregateError<casefile_domain::ComplaintError> {
    cqrs_es::AggregateError::DatabaseConnectionError(Box::new(err))
}

impl Expected {
    fn check(self, (status, body): (u16, Option<Value>), code: &str, path: Path) {
        let (want_status, want_error) = match (self, path) {
            // A commit reads a taken unique key as another write having won the race.
            (_, Path::Commit) if code == "23505" => (409, "concurrent_modification"),
            (Expected::Unstorable, _) => (422, "unstorable_input"),
            (Expected::Outage, _) => (503, "unavailable"),
            (Expected::Ours, _) => (500, "internal"),
        };
        assert_eq!(status, want_status, "{code} by {path:?}");
        // A page's HTML is rendered by the web app's layer from the status decided here
        // (`tests/tests/e2e/reliability.rs` reads one whole); the API's body says which.
        if let Path::Page = path {
            return;
        }
        let body = body.unwrap_or_else(|| panic!("{code} by {path:?}: a JSON body"));
        assert_eq!(body["error"], want_error, "{code} by {path:?}: {body}");
        match want_status {
            422 => assert_eq!(body["details"]["retryable"], false, "{body}"),
            409 | 503 => assert_eq!(body["details"]["retryable"], true, "{body}"),
            _ => {}
        }
    }
}
