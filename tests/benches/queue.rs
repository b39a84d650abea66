//! Work queue and dashboard latency with a million cases in the store, on PostgreSQL and
//! SQLite.
//!
//! The million cases are loaded straight into the queue tables (`case_summaries`,
//! `case_deadlines`) by one SQL statement each, shaped as a landlord's store after years of
//! use: 2 % open (20,000 cases, their deadlines spread over three months either side of
//! today), the rest closed, four divisions-worth of procedures, ten themes, fifty owners.
//! Replaying a million cases through the API would take an hour and measure the write path,
//! which the service benchmark does. The service itself runs as a process of its own.
//!
//! Run: `cargo bench -p casefile-tests --bench queue`. `CASES` (default 1,000,000) and
//! `REQUESTS` (default 200 per query) scale it; `QUICK=1` loads 20,000 and sends 20.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use casefile_tests::instances::Process;
use casefile_tests::{bench_backends, spawn_app, Backend, TestApp};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn quick() -> bool {
    std::env::var("QUICK").is_ok_and(|v| v == "1")
}

/// One row per case: `n` from 1 to `cases`; every 50th case is open. Owners and themes go
/// by `n / 50`, so that the open cases (every 50th) are spread over all of them.
fn load_sql(backend: Backend, cases: u64) -> Vec<String> {
    let series = match backend {
        Backend::Postgres => format!("generate_series(1, {cases}) AS g(n)"),
        Backend::Sqlite => format!(
            "(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {cases}) SELECT n FROM g) AS g"
        ),
    };
    let date = |expr: &str| match backend {
        Backend::Postgres => format!("to_char(current_date + ({expr})::int, 'YYYY-MM-DD')"),
        Backend::Sqlite => format!("date('now', ({expr}) || ' days')"),
    };
    let open = "(n % 50 = 0)";
    let received = date("-(n % 3650) - 1");
    let due = date("(n % 180) - 90");
    let body = format!(
        "'{{\"id\":\"case-' || n || '\",\"reference\":\"CF-BULK-' || n || '\",\"version\":5,\
         \"procedure\":\"chc-2024\",\"division\":\"england-and-wales\",\"channel\":\"email\",\
         \"status\":\"' || CASE WHEN {open} THEN 'open' ELSE 'closed' END || '\",\"stage\":\"stage1\",\
         \"owner\":null,\"received_on\":\"' || {received} || '\",\"complainant\":\"Resident ' || n || '\",\
         \"summary\":\"Complaint number ' || n || '\",\"theme\":\"Theme ' || ((n / 50) % 10) || '\",\
         \"root_cause\":null,\"next_due\":' || CASE WHEN {open} THEN '{{\"step\":\"stage1_response\",\"due\":\"' || {due} || '\",\"state\":\"pending\"}}' ELSE 'null' END || ',\
         \"updated_at\":\"2026-01-01T00:00:00Z\"}}'"
    );
    vec![
        format!(
            "INSERT INTO case_summaries (id, reference, version, procedure, division, channel, status, \
             stage, owner_id, theme, root_cause, resident_id, received_on, ended_on, next_due, due_key, \
             search, body) \
             SELECT 'case-' || n, 'CF-BULK-' || n, 5, 'chc-2024', \
             CASE n % 3 WHEN 0 THEN 'england-and-wales' WHEN 1 THEN 'scotland' ELSE 'northern-ireland' END, \
             'email', CASE WHEN {open} THEN 'open' ELSE 'closed' END, 'stage1', 'owner-' || ((n / 50) % 50), \
             'Theme ' || ((n / 50) % 10), NULL, 'R-' || (n % 200000), {received}, \
             CASE WHEN {open} THEN NULL ELSE {received} END, \
             CASE WHEN {open} THEN {due} ELSE NULL END, \
             CASE WHEN {open} THEN {due} ELSE '9999-12-31' END, \
             'cf-bulk-' || n || ' resident ' || n || ' complaint number ' || n, {body} FROM {series}"
        ),
        format!(
            "INSERT INTO case_deadlines (case_id, step, due) \
             SELECT 'case-' || n, 'stage1_response', {due} FROM {series} WHERE {open}"
        ),
        // What autovacuum would have done by the time a store had grown this large.
        match backend {
            Backend::Postgres => "VACUUM ANALYZE".to_string(),
            Backend::Sqlite => "ANALYZE".to_string(),
        },
        // And the checkpoint that follows a bulk load: PostgreSQL would otherwise write the
        // load's gigabyte of dirty pages back while the queries are measured.
        match backend {
            Backend::Postgres => "CHECKPOINT".to_string(),
            Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)".to_string(),
        },
    ]
}

fn p99(mut micros: Vec<u128>) -> (f64, f64) {
    micros.sort_unstable();
    let at = |p: f64| micros[((micros.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

/// Requests sent before each query is measured. The service's pool hands its connections
/// out in turn, and a connection's first run of a statement pays for PostgreSQL's catalog
/// reads and planning (up to 50 ms for the dashboard's), so the first requests of each
/// query measure how warm the pool is, not the query. More than the pool's 16 connections.
const WARM_UP: u64 = 20;

async fn measure(app: &TestApp, address: &str, requests: u64, path: &str) -> (f64, f64) {
    let mut micros = Vec::new();
    for n in 0..WARM_UP + requests {
        let started = Instant::now();
        let response = app
            .client
            .get(format!("{address}{path}"))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let _ = response.bytes().await;
        if n >= WARM_UP {
            micros.push(started.elapsed().as_micros());
        }
    }
    p99(micros)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cases = env_u64("CASES", if quick() { 20_000 } else { 1_000_000 });
    let requests = env_u64("REQUESTS", if quick() { 20 } else { 200 });
    println!("{cases} cases in the queue tables, {requests} requests per query, one client\n");
    println!("| store | request | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for backend in bench_backends() {
        // The store is made by an in-process instance; only the process below is measured,
        // so the in-process one is stopped first: its watchdog's scan of the open cases
        // fell in the middle of the measured requests.
        let mut app = spawn_app(backend).await;
        app.stop_service().await;
        let started = Instant::now();
        for statement in load_sql(backend, cases) {
            app.sql(&statement).await;
        }
        let loaded = started.elapsed();
        let process = Process::start(
            env!("CARGO_BIN_EXE_casefile-test-server"),
            &app.database_url(),
            &app.admin_token,
        )
        .await;
        let name = match backend {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        };
        for (label, path) in [
            ("queue, default (by due date)", "/api/v1/complaints"),
            ("queue, open cases", "/api/v1/complaints?status=open"),
            ("queue, breached", "/api/v1/complaints?sla=breached"),
            (
                "queue, one owner's open cases",
                "/api/v1/complaints?status=open&owner=owner-7",
            ),
            (
                "queue, received newest first",
                "/api/v1/complaints?sort=received",
            ),
            ("queue, free text", "/api/v1/complaints?q=resident%20123456"),
            ("dashboard", "/api/v1/dashboard"),
        ] {
            let (p50, p99) = measure(&app, &process.address, requests, path).await;
            println!("| {name} | {label} | {p50:.1} | {p99:.1} |");
        }
        eprintln!(
            "{name}: loaded {cases} cases in {:.1} s",
            loaded.as_secs_f64()
        );
        process.kill().await;
    }
}
