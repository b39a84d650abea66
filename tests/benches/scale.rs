//! The store at scale, on PostgreSQL and SQLite: rebuilding every read model and verifying
//! every hash chain over a million events, and each regulator report over a year of
//! 100,000 cases.
//!
//! The cases are real histories: three lifecycles are driven through the API with
//! backdated dates (resolved at Stage 1; escalated and answered at Stage 2; open and
//! acknowledged), then each case is written through the store's own commit (events, chain,
//! read models) as a copy of one of them, its dates moved by up to a year. Driving 100,000
//! cases through HTTP would take most of an hour and measure the write path, which the
//! service benchmark does.
//!
//! Run: `cargo bench -p casefile-tests --bench scale`. `CASES` (default 100,000; about ten
//! events each) scales it; `QUICK=1` writes 1,000.
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

fn cases() -> usize {
    let quick = std::env::var("QUICK").is_ok_and(|v| v == "1");
    std::env::var("CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 100_000 })
}

/// One lifecycle's events, as recorded, with the metadata of its first command.
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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cases = cases();
    println!("{cases} cases written through the store's commit, copies of three real lifecycles\n");
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let name = match backend {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        };
        let app = spawn_app(backend).await;
        let templates = templates(&app).await;
        let store = Store::open(&app.database_url(), Access::Migrate)
            .await
            .unwrap();
        let started = Instant::now();
        let writers = if backend == Backend::Postgres { 8 } else { 1 };
        let events = fill(&store, templates, cases, writers).await;
        let filled = started.elapsed().as_secs_f64();
        println!(
            "{name}: wrote {cases} cases, {events} events in {filled:.0} s ({:.0} events/s, {writers} writer(s))",
            events as f64 / filled
        );

        let calendar = Calendar::builtin();
        let started = Instant::now();
        let done = store.rebuild(&calendar, |_| {}).await.unwrap();
        let rebuild = started.elapsed().as_secs_f64();
        println!(
            "{name}: rebuilt every read model from {} events in {rebuild:.1} s: {:.0} events/s (goal 100,000)",
            done.events,
            done.events as f64 / rebuild
        );

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

        let process = Process::start(
            env!("CARGO_BIN_EXE_casefile-test-server"),
            &app.database_url(),
            &app.admin_token,
        )
        .await;
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
        process.kill().await;
        println!();
    }
}
