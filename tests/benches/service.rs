//! Throughput and latency of the real service over HTTP, on SQLite and on PostgreSQL, in
//! one run on one machine. Every figure is also given as a ratio to a baseline measured in
//! the same run: an authenticated `GET /api/v1/me`, which costs routing, auth (one indexed
//! token lookup) and JSON, but no event store work.
//!
//! Run: `cargo bench -p casefile-tests --bench service` (PostgreSQL as for the tests:
//! `CASEFILE_TEST_DATABASE_URL`, default the local server). `CASES` (default 100) and
//! `CONCURRENCY` (default 8) scale it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use casefile_tests::{spawn_app, stage_response, valid_complaint, Backend, TestApp};
use futures::future::join_all;
use serde_json::{json, Value};

const LONG_CASE_NOTES: usize = 300;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Latencies of one kind of request, in microseconds.
struct Sample {
    name: &'static str,
    micros: Vec<u128>,
    wall: Duration,
}

impl Sample {
    fn per_second(&self) -> f64 {
        self.micros.len() as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> u128 {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }
}

async fn timed(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u128, Value) {
    let url = app.url(path);
    let request = match method {
        "POST" => app.client.post(url).json(&body.unwrap_or(Value::Null)),
        _ => app.client.get(url),
    }
    .bearer_auth(&app.admin_token);
    let started = Instant::now();
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    let micros = started.elapsed().as_micros();
    assert!(status.is_success(), "{method} {path}: {status} {value}");
    (micros, value)
}

/// One case's life: log, acknowledge, 8 notes, Stage 1 response, one read.
async fn one_case(app: &TestApp) -> Vec<(&'static str, u128)> {
    let mut out = Vec::new();
    let (t, case) = timed(app, "POST", "/api/v1/complaints", Some(valid_complaint())).await;
    out.push(("log", t));
    let id = case["id"].as_str().expect("an id").to_string();
    let base = format!("/api/v1/complaints/{id}");
    let (t, _) = timed(app, "POST", &format!("{base}/acknowledge"), Some(json!({}))).await;
    out.push(("command", t));
    for i in 0..8 {
        let (t, _) = timed(
            app,
            "POST",
            &format!("{base}/notes"),
            Some(json!({"text": format!("note {i}")})),
        )
        .await;
        out.push(("command", t));
    }
    let (t, _) = timed(
        app,
        "POST",
        &format!("{base}/stage1-response"),
        Some(stage_response("upheld")),
    )
    .await;
    out.push(("command", t));
    let (t, _) = timed(app, "GET", &base, None).await;
    out.push(("read case", t));
    out
}

async fn measure(backend: Backend, cases: usize, concurrency: usize) -> Vec<Sample> {
    let app = spawn_app(backend).await;

    let started = Instant::now();
    let mut baseline = Vec::new();
    for _ in 0..cases * 4 {
        baseline.push(timed(&app, "GET", "/api/v1/me", None).await.0);
    }
    let mut samples = vec![Sample {
        name: "baseline GET /me",
        micros: baseline,
        wall: started.elapsed(),
    }];

    // Sequential: one client, one request at a time.
    let started = Instant::now();
    let mut all = Vec::new();
    for _ in 0..cases {
        all.extend(one_case(&app).await);
    }
    let wall = started.elapsed();
    for name in ["log", "command", "read case"] {
        let micros: Vec<u128> = all
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .collect();
        // Each kind's throughput is its share of the wall time, so the rates add up.
        let share =
            micros.iter().sum::<u128>() as f64 / all.iter().map(|(_, t)| *t).sum::<u128>() as f64;
        samples.push(Sample {
            name,
            micros,
            wall: wall.mul_f64(share),
        });
    }

    // A long case: 300 notes. Reads fold every event; commands load the latest snapshot.
    let (_, case) = timed(&app, "POST", "/api/v1/complaints", Some(valid_complaint())).await;
    let base = format!("/api/v1/complaints/{}", case["id"].as_str().expect("an id"));
    for i in 0..LONG_CASE_NOTES {
        timed(
            &app,
            "POST",
            &format!("{base}/notes"),
            Some(json!({"text": format!("note {i}")})),
        )
        .await;
    }
    let started = Instant::now();
    let mut micros = Vec::new();
    for _ in 0..cases {
        micros.push(timed(&app, "GET", &base, None).await.0);
    }
    samples.push(Sample {
        name: "read case, 301 events",
        micros,
        wall: started.elapsed(),
    });
    let started = Instant::now();
    let mut micros = Vec::new();
    for i in 0..cases {
        let body = json!({"text": format!("more {i}")});
        micros.push(
            timed(&app, "POST", &format!("{base}/notes"), Some(body))
                .await
                .0,
        );
    }
    samples.push(Sample {
        name: "command, 301+ events",
        micros,
        wall: started.elapsed(),
    });

    // Concurrent: several clients each driving their own cases.
    let started = Instant::now();
    let per_client = cases / concurrency.max(1);
    let results = join_all((0..concurrency).map(|_| async {
        let mut out = Vec::new();
        for _ in 0..per_client {
            out.extend(one_case(&app).await);
        }
        out
    }))
    .await;
    let micros: Vec<u128> = results.into_iter().flatten().map(|(_, t)| t).collect();
    samples.push(Sample {
        name: "any request, concurrent",
        micros,
        wall: started.elapsed(),
    });
    samples
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cases = env_usize("CASES", 100);
    let concurrency = env_usize("CONCURRENCY", 8);
    println!("Casefile service benchmark: {cases} cases of 12 requests each, then {concurrency} concurrent clients");
    let mut by_backend = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let samples = measure(backend, cases, concurrency).await;
        println!("\n{backend:?}");
        println!(
            "  {:<26} {:>9} {:>9} {:>9} {:>12}",
            "request", "req/s", "p50 µs", "p99 µs", "p50 / base"
        );
        let base = samples[0].percentile(0.5).max(1) as f64;
        for s in &samples {
            println!(
                "  {:<26} {:>9.0} {:>9} {:>9} {:>12.1}",
                s.name,
                s.per_second(),
                s.percentile(0.5),
                s.percentile(0.99),
                s.percentile(0.5) as f64 / base
            );
        }
        by_backend.push(samples);
    }
    println!("\nSQLite throughput as a multiple of PostgreSQL's (same run):");
    for (sqlite, postgres) in by_backend[0].iter().zip(&by_backend[1]) {
        println!(
            "  {:<26} {:>6.2}",
            sqlite.name,
            sqlite.per_second() / postgres.per_second()
        );
    }
}
