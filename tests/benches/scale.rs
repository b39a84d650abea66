//! The store at scale, on PostgreSQL and SQLite: rebuilding every read model and verifying
//! every hash chain over a million events, each regulator report over a year of 100,000
//! cases, and the ombudsman bundle of a 1,000-event case with 50 MB of evidence.
//!
//! The cases are real histories: three lifecycles are driven through the API with
//! backdated dates (resolved at Stage 1; escalated and answered at Stage 2; open and
//! acknowledged), then each case is written through the store's own commit (events, chain,
//! read models) as a copy of one of them, its dates moved by up to a year. Driving 100,000
//! cases through HTTP would take most of an hour and measure the write path, which the
//! service benchmark does.
//!
//! Run: `cargo bench -p casefile-tests --bench scale`. `CASES` (default 100,000; about ten
//! events each) scales it; `QUICK=1` writes 1,000 cases and exports a 20-event bundle with
//! 50 kB of evidence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use casefile_domain::{Calendar, ComplaintEvent};
use casefile_store::commit::NewCommit;
use casefile_store::{Access, Store};
use casefile_tests::instances::Process;
use casefile_tests::*;
use chrono::{DateTime, Days, NaiveDate};

fn quick() -> bool {
    std::env::var("QUICK").is_ok_and(|v| v == "1")
}

fn cases() -> usize {
    let quick = quick();
    std::env::var("CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 100_000 })
}

/// One lifecycle's events, as recorded, with the metadata of its first command.
#[derive(Clone)]
struct Template {
    events: Vec<ComplaintEvent>,
    metadata: HashMap<String, String>,
}

/// Three cases received on 1 April 2025, driven through the API.
async fn templates(app: &TestApp) -> Vec<Template> {
    let t = app.admin_token.clone();
    // Stage 2 is answered by someone other than the Stage 1 responder.
    let reviewer = app.user("A Reviewer", "reviewer").await.token;
    let at = |day: &str, time: &str| json!({"occurred_at": format!("2025-04-{day}T{time}:00Z")});
    let mut ids = Vec::new();
    for lifecycle in 0..3 {
        let view = app
            .log_complaint(
                &t,
                backdated_complaint("chc-2024", "england-and-wales", "2025-04-01"),
            )
            .await;
        let id = str_at(&view, "id");
        app.act_ok(
            &t,
            &id,
            "tenure",
            merge(json!({"tenure": "lcra"}), at("01", "10:00")),
        )
        .await;
        app.act_ok(&t, &id, "acknowledge", at("02", "10:00")).await;
        for n in 0..3 {
            app.act_ok(
                &t,
                &id,
                "notes",
                merge(
                    json!({"text": format!("Spoke to the resident ({n})")}),
                    at("03", "11:00"),
                ),
            )
            .await;
        }
        if lifecycle < 2 {
            app.act_ok(
                &t,
                &id,
                "stage1-response",
                merge(stage_response("upheld"), at("10", "15:00")),
            )
            .await;
        }
        if lifecycle == 1 {
            app.act_ok(
                &t,
                &id,
                "escalate",
                merge(json!({"reason": "Still no heating"}), at("14", "09:00")),
            )
            .await;
            app.define_stage2(&t, &id, Some("2025-04-14T10:00:00Z"))
                .await;
            app.act_ok(&reviewer, &id, "stage2-acknowledge", at("15", "10:00"))
                .await;
            app.act_ok(
                &reviewer,
                &id,
                "stage2-response",
                merge(stage_response("partly_upheld"), at("28", "15:00")),
            )
            .await;
        }
        ids.push(id);
    }
    let mut templates = Vec::new();
    for id in ids {
        let store = Store::open(&app.database_url(), Access::ReadOnly)
            .await
            .unwrap();
        let recorded = store.case_events(&id).await.unwrap();
        templates.push(Template {
            metadata: recorded[0].metadata.clone(),
            events: recorded.into_iter().map(|e| e.event).collect(),
        });
    }
    templates
}

/// Every date and time in `value` moved `days` later.
fn shifted(value: &mut Value, days: u64) {
    match value {
        Value::String(text) => {
            if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                *text = (at + Days::new(days)).to_rfc3339();
            } else if let Ok(day) = text.parse::<NaiveDate>() {
                *text = (day + Days::new(days)).to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shifted(v, days)),
        Value::Object(map) => map.values_mut().for_each(|v| shifted(v, days)),
        _ => {}
    }
}

/// Writes `cases` cases through the store's commit, copies of the templates spread over the
/// year from April 2025; returns the number of events written.
async fn fill(store: &Store, templates: Vec<Template>, cases: usize, writers: usize) -> u64 {
    let calendar = Arc::new(Calendar::builtin());
    let templates = Arc::new(templates);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, calendar, templates) = (store.clone(), calendar.clone(), templates.clone());
        tasks.push(tokio::spawn(async move {
            let mut events = 0_u64;
            for n in (w..cases).step_by(writers) {
                let template = &templates[n % templates.len()];
                let mut json = serde_json::to_value(&template.events).unwrap();
                shifted(&mut json, (n % 360) as u64);
                let copy: Vec<ComplaintEvent> = serde_json::from_value(json).unwrap();
                events += copy.len() as u64;
                let id = uuid::Uuid::now_v7().to_string();
                store
                    .commit(NewCommit {
                        id: &id,
                        base: None,
                        events: copy,
                        metadata: template.metadata.clone(),
                        calendar: &calendar,
                        reference_year: Some(2025),
                        idempotency: None,
                        status: 201,
                        answer: None,
                        // The answer is not read.
                        lists: false,
                        file: None,
                    })
                    .await
                    .unwrap();
            }
            events
        }));
    }
    let mut events = 0;
    for task in tasks {
        events += task.await.unwrap();
    }
    events
}

async fn get_timed(process: &Process, token: &str, path: &str, times: usize) -> (f64, f64) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut ms = Vec::new();
    for _ in 0..times {
        let started = Instant::now();
        let r = client
            .get(format!("{}{path}", process.address))
            .bearer_auth(token)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let _ = r.bytes().await.unwrap();
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[ms.len() - 1])
}

/// Peak resident memory of a process, in MiB (`VmHWM`), or its current one (`VmRSS`).
fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)?
                    .strip_prefix(':')?
                    .split_whitespace()
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Bytes that do not compress, as photographs and PDFs mostly do not: a xorshift stream.
fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// What the bundle benchmark measured.
struct Export {
    events: usize,
    evidence_bytes: usize,
    bundle_bytes: usize,
    p50_ms: f64,
    slowest_ms: f64,
    /// The most the service's resident memory rose above where it stood before an export.
    rise_mib: f64,
    peak_mib: f64,
    /// The service's peak resident memory before the uploads, and after them.
    peak_before_uploads_mib: f64,
    peak_after_uploads_mib: f64,
}

/// A case of `events` events (a template's lifecycle, notes, then `files` evidence files
/// of `file_bytes` each uploaded through the service), and its bundle exported through the
/// service three times, read to the end, the service's resident memory sampled meanwhile.
async fn bundle_export(
    store: &Store,
    process: &Process,
    token: &str,
    template: &Template,
    events: usize,
    files: usize,
    file_bytes: usize,
) -> Export {
    let mut history = template.events.clone();
    let by = history[0].by().clone();
    let last = history.last().unwrap().occurred_at();
    for n in 0..events.saturating_sub(history.len() + files) {
        history.push(ComplaintEvent::NoteRecorded {
            occurred_at: last + chrono::Duration::seconds(60 * (n as i64 + 1)),
            by: by.clone(),
            text: format!("Called the resident about the repair ({n})"),
        });
    }
    let id = uuid::Uuid::now_v7().to_string();
    store
        .commit(NewCommit {
            id: &id,
            base: None,
            events: history,
            metadata: template.metadata.clone(),
            calendar: &Calendar::builtin(),
            reference_year: Some(2025),
            idempotency: None,
            status: 201,
            answer: None,
            lists: false,
            file: None,
        })
        .await
        .unwrap();
    // Time for the service's first watchdog scan, which runs as it starts.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let peak_before_uploads_mib = memory_mib(process.pid(), "VmHWM");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    const BOUNDARY: &str = "casefile-scale-boundary-7Hq2";
    for n in 0..files {
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"photo-{n}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&incompressible(file_bytes, n as u64 + 7));
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let r = client
            .post(format!(
                "{}/api/v1/complaints/{id}/evidence",
                process.address
            ))
            .bearer_auth(token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "upload: {}", r.status());
    }
    let pid = process.pid();
    let peak_after_uploads_mib = memory_mib(pid, "VmHWM");
    let mut ms = Vec::new();
    let mut rise_mib = 0.0_f64;
    let mut bundle_bytes = 0;
    for _ in 0..3 {
        let before = memory_mib(pid, "VmRSS");
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let done = done.clone();
            tokio::spawn(async move {
                let mut most = 0.0_f64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    most = most.max(memory_mib(pid, "VmRSS"));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                most
            })
        };
        let started = Instant::now();
        let r = client
            .get(format!("{}/api/v1/complaints/{id}/bundle", process.address))
            .bearer_auth(token)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "bundle: {}", r.status());
        bundle_bytes = r.bytes().await.unwrap().len();
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        rise_mib = rise_mib.max(sampler.await.unwrap() - before);
    }
    assert!(
        bundle_bytes > files * file_bytes,
        "the bundle holds the evidence"
    );
    ms.sort_by(f64::total_cmp);
    Export {
        events,
        evidence_bytes: files * file_bytes,
        bundle_bytes,
        p50_ms: ms[ms.len() / 2],
        slowest_ms: ms[ms.len() - 1],
        rise_mib,
        peak_mib: memory_mib(pid, "VmHWM"),
        peak_before_uploads_mib,
        peak_after_uploads_mib,
    }
}

/// What autovacuum would have done by the time a store stood like this, on a server that
/// runs it (the test server here runs without: `docs/benchmarks.md`), and the checkpoint
/// after a bulk write: dead row versions cleared, statistics taken, dirty pages written.
async fn settle(app: &TestApp) {
    let statements: [&str; 2] = match app.backend {
        Backend::Postgres => ["VACUUM (ANALYZE)", "CHECKPOINT"],
        Backend::Sqlite => ["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"],
    };
    for statement in statements {
        app.sql(statement).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cases = cases();
    println!("{cases} cases written through the store's commit, copies of three real lifecycles\n");
    for backend in bench_backends() {
        let name = match backend {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        };
        let mut app = spawn_app(backend).await;
        let templates = templates(&app).await;
        let store = Store::open(&app.database_url(), Access::Migrate)
            .await
            .unwrap();
        let started = Instant::now();
        let writers = if backend == Backend::Postgres { 8 } else { 1 };
        let first = templates[0].clone();
        let events = fill(&store, templates, cases, writers).await;
        let filled = started.elapsed().as_secs_f64();
        println!(
            "{name}: wrote {cases} cases, {events} events in {filled:.0} s ({:.0} events/s, {writers} writer(s))",
            events as f64 / filled
        );

        // PostgreSQL's sequencer gives each event its global position after its commit
        // (decision 0003). A million events written in a minute and a half leave it a
        // backlog, whose row rewrites would fall in the middle of what is measured next.
        let started = Instant::now();
        let unplaced = "SELECT CAST(COUNT(*) AS TEXT) FROM events WHERE position IS NULL";
        while app.sql_texts(unplaced).await[0] != "0" {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!(
            "{name}: every event had its position {:.0} s after the last write",
            started.elapsed().as_secs_f64()
        );
        settle(&app).await;

        let calendar = Calendar::builtin();
        let started = Instant::now();
        let done = store.rebuild(&calendar, |_| {}).await.unwrap();
        let rebuild = started.elapsed().as_secs_f64();
        println!(
            "{name}: rebuilt every read model from {} events in {rebuild:.1} s: {:.0} events/s (goal 100,000)",
            done.events,
            done.events as f64 / rebuild
        );

        // The rebuild rewrote every read-model row.
        settle(&app).await;

        // As `casefile-replay verify --all` does it: every chain, paged, hashed in parallel.
        let started = Instant::now();
        let verdicts = store.verify_all(|_| {}).await.unwrap();
        let verified: u64 = verdicts.iter().map(|(_, v)| v.events).sum();
        assert!(
            verdicts.iter().all(|(_, v)| v.first_break.is_none()),
            "every chain is intact"
        );
        let verify = started.elapsed().as_secs_f64();
        println!(
            "{name}: verified {} chains, {verified} events in {verify:.1} s: {:.0} events/s (goal 200,000)",
            verdicts.len(),
            verified as f64 / verify
        );

        // The service process measured next is the store's only instance: two on one
        // SQLite file would take its write lock from each other.
        app.stop_service().await;
        let process = Process::start(
            env!("CARGO_BIN_EXE_casefile-test-server"),
            &app.database_url(),
            &app.admin_token,
        )
        .await;
        // The cases' dates run over the past year and none of their alerts were raised as
        // they fell due, so the service's watchdog starts by raising a year of them. A store
        // in use would have them already: wait until it has, then measure.
        let before = app.event_count().await;
        let (after, took) = app
            .until_no_new_events(Duration::from_secs(5), Duration::from_secs(1))
            .await;
        println!(
            "{name}: the service's watchdog raised {} overdue alerts in {:.0} s before the reports were measured",
            after - before,
            took.as_secs_f64()
        );
        while app.sql_texts(unplaced).await[0] != "0" {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        settle(&app).await;
        for (label, path) in [
            ("KPI", "/api/v1/reports/kpi?from=2025-04-01&to=2026-03-31"),
            ("TSM", "/api/v1/reports/tsm?year=2025-26&detail=cases"),
            (
                "self-assessment",
                "/api/v1/reports/self-assessment?year=2025-26",
            ),
        ] {
            let (p50, max) = get_timed(&process, &app.admin_token, path, 5).await;
            println!(
                "{name}: report {label} over the year: p50 {p50:.0} ms, slowest {max:.0} ms (goal 2,000 ms)"
            );
        }
        println!(
            "{name}: the service's peak resident memory, over its watchdog's catching up and the reports: {:.0} MiB (goal 150 MB)",
            memory_mib(process.pid(), "VmHWM")
        );
        process.kill().await;

        // A service of its own, so its peak memory is the uploads' and the exports'.
        let process = Process::start(
            env!("CARGO_BIN_EXE_casefile-test-server"),
            &app.database_url(),
            &app.admin_token,
        )
        .await;
        let (events, files, file_bytes) = if quick() {
            (20, 5, 10_000)
        } else {
            (1_000, 5, 10_000_000)
        };
        let export = bundle_export(
            &store,
            &process,
            &app.admin_token,
            &first,
            events,
            files,
            file_bytes,
        )
        .await;
        println!(
            "{name}: bundle of a {}-event case with {:.0} MB of evidence ({:.1} MB zip): p50 {:.0} ms, \
             slowest {:.0} ms; service memory +{:.0} MiB during an export, peak {:.0} MiB \
             ({:.0} MiB before the uploads, {:.0} MiB after them)",
            export.events,
            export.evidence_bytes as f64 / 1e6,
            export.bundle_bytes as f64 / 1e6,
            export.p50_ms,
            export.slowest_ms,
            export.rise_mib,
            export.peak_mib,
            export.peak_before_uploads_mib,
            export.peak_after_uploads_mib,
        );
        process.kill().await;
        println!();
    }
}
