//! The service benchmark: commands over HTTP at 16 clients on PostgreSQL and SQLite (logging
//! a complaint, recording a note, acknowledging, the Stage 1 response), each as
//! a ratio to what PostgreSQL itself does for the same work in the same run (pgbench with a
//! custom script: read one case's 20 events and append one, in one transaction, 16 clients;
//! and a bare single-row insert), latency in an open loop at half the peak rate (p50, p99,
//! p99.9, corrected for coordinated omission; beside it pgbench's command script at the same
//! rate, PostgreSQL's own tail), a command on a 1,000-event case against one
//! on a 10-event case, and the service's peak resident memory. Each load starts once the
//! service has finished the work the one before left it (no new event for a second). On
//! PostgreSQL each of the four commands also says how much write-ahead log it wrote, the
//! work it left (positions, alerts and their notifications) included, beside the baseline's
//! per transaction: what a commit costs the disk, whose flushes every commit waits for.
//!
//! Run: `cargo bench -p casefile-tests --bench service` (PostgreSQL as for the tests:
//! `CASEFILE_TEST_DATABASE_URL`, default the local server; `pgbench` on the PATH or in
//! /usr/lib/postgresql/*/bin). `BENCH_SECONDS` (default 10) is how long each load runs;
//! `QUICK=1` runs every step for one second, to prove the harness works; `BENCH_SLICES=1`
//! prints when the open loop ran and its slow 100 ms slices, to line up with a profile;
//! `BENCH_WATCHDOG=off` runs the service with its watchdog off; `BENCH_OPEN_RATE=450` runs
//! the open loop at 450 requests a second on each store, not half its peak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use casefile_domain::{uk_date, Calendar, Division};
use casefile_tests::instances::Process;
use casefile_tests::{
    bench_backends, merge, spawn_app, stage_response, valid_complaint, Backend, TestApp,
};
use serde_json::{json, Value};
use sqlx::Connection;

const CLIENTS: usize = 16;
/// The cases each client records notes on, in turn.
const NOTE_CASES: usize = 20;

fn seconds() -> u64 {
    if std::env::var("QUICK").is_ok_and(|v| v == "1") {
        return 1;
    }
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn pgbench() -> PathBuf {
    if let Ok(path) = which("pgbench") {
        return path;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin/pgbench")))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.pop()
        .filter(|p| p.exists())
        .expect("pgbench (install postgresql-client)")
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

fn admin_url() -> String {
    std::env::var("CASEFILE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| casefile_tests::DEFAULT_TEST_DATABASE_URL.to_string())
}

/// A complaint whose acknowledgement (five working days) is due soon today, whatever the
/// day of the week, so the watchdog raises an alert on every case logged: the most work a
/// log brings. It is received on the latest day at least three days back that leaves two
/// working days or fewer to go (from Saturday to Tuesday, three days back leaves three or
/// four).
fn due_soon_complaint() -> Value {
    let calendar = Calendar::builtin();
    let division = Division::EnglandAndWales;
    let today = uk_date(chrono::Utc::now());
    let received_on = (3..30)
        .map(|days| today - chrono::Days::new(days))
        .find(|received| {
            let due = calendar.add_working_days(division, *received, 5);
            due >= today && calendar.working_days_between(division, today, due) <= 2
        })
        .expect("a day within four weeks");
    merge(
        valid_complaint(),
        json!({"division": division.as_str(), "received_on": received_on.to_string()}),
    )
}

/// The baseline's table holds 1,000 cases; its command script gives each client 62 of them.
const _: () = assert!(CLIENTS * 62 <= 1_000);

/// What pgbench runs as the baseline.
#[derive(Clone, Copy)]
enum Baseline {
    /// What one command needs, on a table shaped like ours: each transaction reads a case's
    /// last 20 events and appends one. Each client goes round 62 cases of its own, as the
    /// service's clients go round cases of their own: two clients appending to one case at
    /// once would both take its next sequence, and pgbench stops a client whose
    /// transaction fails on the duplicate key.
    Command,
    /// The least a write can be: one single-row insert.
    BareInsert,
}

/// What one pgbench run measured.
struct Pgbench {
    /// Transactions a second.
    tps: f64,
    /// Bytes of write-ahead log the server wrote per transaction.
    wal_per_transaction: f64,
    /// With a set rate: each transaction's latency, from when it was due.
    latency: Option<Load>,
}

/// pgbench at 16 clients on a fresh database, as fast as it can go or, with `rate`, at that
/// many transactions a second: PostgreSQL's own open loop, each latency counted from when
/// the transaction was due (pgbench's per-transaction log), as the service's open loop
/// counts its requests.
async fn baseline(kind: Baseline, seconds: u64, rate: Option<f64>) -> Pgbench {
    let admin = admin_url();
    let database = format!("casefile_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{database}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = casefile_tests::with_database(&admin, &database);
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    for statement in [
        "CREATE TABLE events (aggregate_id text NOT NULL, sequence bigint NOT NULL, \
         event_type text NOT NULL, payload jsonb NOT NULL, metadata jsonb NOT NULL, \
         recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (aggregate_id, sequence))",
        "INSERT INTO events (aggregate_id, sequence, event_type, payload, metadata) \
         SELECT 'case-' || c, s, 'NoteRecorded', \
         jsonb_build_object('NoteRecorded', jsonb_build_object('text', 'A note of some length about the case', 'n', s)), \
         '{\"actor_id\": \"u1\", \"request_id\": \"r\"}' \
         FROM generate_series(1, 1000) c, generate_series(1, 20) s",
        "CREATE TABLE bare (id bigserial PRIMARY KEY, payload jsonb NOT NULL)",
    ] {
        sqlx::query(statement).execute(&mut db).await.unwrap();
    }
    let script = std::env::temp_dir().join(format!("{database}.sql"));
    let text = match kind {
        Baseline::Command => "\\set c :client_id * 62 + random(1, 62)\n\
         BEGIN;\n\
         SELECT sequence, payload, metadata FROM events WHERE aggregate_id = 'case-' || :c ORDER BY sequence DESC LIMIT 20;\n\
         INSERT INTO events (aggregate_id, sequence, event_type, payload, metadata) \
         SELECT 'case-' || :c, MAX(sequence) + 1, 'NoteRecorded', '{\"NoteRecorded\": {\"text\": \"another note\"}}', '{}' \
         FROM events WHERE aggregate_id = 'case-' || :c;\n\
         END;\n",
        Baseline::BareInsert => "INSERT INTO bare (payload) VALUES ('{\"NoteRecorded\": {\"text\": \"another note\"}}');\n",
    };
    std::fs::write(&script, text).unwrap();
    let (host, port, user) = pg_parts(&url);
    // pgbench names its logs `<prefix>.<pid>` and `<prefix>.<pid>.<thread>`.
    let log_prefix = std::env::temp_dir().join(format!("{database}_log"));
    let mut command = Command::new(pgbench());
    command
        .args([
            "-n",
            "-c",
            &CLIENTS.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
        ])
        .args(["-h", &host, "-p", &port, "-U", &user]);
    if let Some(rate) = rate {
        command
            .args(["-R", &rate.to_string(), "-l"])
            .arg(format!("--log-prefix={}", log_prefix.display()));
    }
    let wal_before = wal_written().await;
    let output = command
        .arg("-f")
        .arg(&script)
        .arg(&database)
        .output()
        .expect("run pgbench");
    let wal = wal_written().await - wal_before;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let _ = std::fs::remove_file(&script);
    let logs = pgbench_logs(&log_prefix);
    let _ = db.close().await;
    sqlx::query(&format!("DROP DATABASE \"{database}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
    // A client whose transaction fails is stopped, and pgbench goes on with the others and
    // exits with 2: its rate would then be that of fewer clients.
    let tps = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .filter(|_| output.status.success())
        .unwrap_or_else(|| {
            panic!(
                "pgbench ({}) said: {text}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let latency = rate.map(|_| transaction_log(&logs, seconds));
    let transactions = text
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|n| n.split('/').next()?.trim().parse::<f64>().ok())
        .unwrap_or(tps * seconds as f64);
    Pgbench {
        tps,
        wal_per_transaction: wal as f64 / transactions.max(1.0),
        latency,
    }
}

/// Where the server's write-ahead log has got to (its insert position, in bytes from
/// 0/0): the difference of two readings is what the server wrote between them, for every
/// database on it. The figures assume nothing else writes while the bench runs; autovacuum
/// of the bench's own tables counts with the work that left it to do.
async fn wal_written() -> i64 {
    let mut conn = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
    let at =
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let _ = conn.close().await;
    at
}

/// The server's log position once it has stopped moving for a second (or after a minute):
/// after the last event, the notifications of the alerts are still being marked delivered,
/// which writes no event.
async fn wal_settled() -> i64 {
    let started = Instant::now();
    let mut last = wal_written().await;
    let mut still_since = Instant::now();
    while still_since.elapsed() < Duration::from_secs(1)
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = wal_written().await;
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
    }
    last
}

/// The texts of pgbench's per-transaction logs under `prefix`, each file removed once read.
fn pgbench_logs(prefix: &std::path::Path) -> Vec<String> {
    let dir = prefix.parent().expect("a directory");
    let stem = format!("{}.", prefix.file_name().unwrap().to_string_lossy());
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(&stem) {
            logs.push(std::fs::read_to_string(entry.path()).unwrap());
            let _ = std::fs::remove_file(entry.path());
        }
    }
    logs
}

/// The latencies in pgbench's per-transaction logs: the third field of each line, in
/// microseconds from when the transaction was due. With neither `--latency-limit` nor
/// retries, a transaction that failed would have a word there; it fails the bench, as a
/// failed request does.
fn transaction_log(logs: &[String], seconds: u64) -> Load {
    let mut micros = Vec::new();
    for line in logs.iter().flat_map(|log| log.lines()) {
        let field = line.split_whitespace().nth(2).unwrap_or_default();
        micros.push(
            field
                .parse()
                .unwrap_or_else(|_| panic!("a pgbench transaction failed: {line}")),
        );
    }
    assert!(!micros.is_empty(), "pgbench logged no transaction");
    Load {
        micros,
        wall: Duration::from_secs(seconds),
    }
}

fn pg_parts(url: &str) -> (String, String, String) {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let (auth, rest) = rest.split_once('@').unwrap_or(("postgres", rest));
    let user = auth.split(':').next().unwrap_or("postgres").to_string();
    let hostport = rest.split('/').next().unwrap_or("127.0.0.1:5432");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    (host.to_string(), port.to_string(), user)
}

/// Latencies (µs) of the requests of one load, and how long it ran.
struct Load {
    micros: Vec<u64>,
    wall: Duration,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.micros.len() as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> u64 {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }
}

/// Runs `clients` clients, each sending what `request(client, n)` builds until time is up
/// or it builds nothing more (the cases prepared for it have all been used).
async fn load<F>(clients: usize, seconds: u64, request: F) -> Load
where
    F: Fn(usize, usize) -> Option<reqwest::RequestBuilder> + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (request, stop) = (request.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let Some(next) = request(client, n) else {
                    break;
                };
                let sent = Instant::now();
                let response = next.send().await.expect("an answer");
                let status = response.status();
                let _ = response.bytes().await;
                assert!(status.is_success(), "answered {status}");
                micros.push(sent.elapsed().as_micros() as u64);
                n += 1;
            }
            micros
        }));
    }
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let mut micros = Vec::new();
    for task in tasks {
        micros.extend(task.await.unwrap());
    }
    // Until the last client stopped: at time, or earlier when every one ran out of cases.
    let wall = started.elapsed();
    timer.abort();
    Load { micros, wall }
}

/// Requests sent at a fixed rate whether or not earlier ones were answered (an open loop);
/// each latency counts from the moment its request was due, not from when it went out, so
/// a stall shows in every request it held up (corrected for coordinated omission).
async fn open_loop<F>(rate: f64, seconds: u64, request: F) -> Load
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let total = (rate * seconds as f64).max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let started = tokio::time::Instant::now();
    let wall_started = chrono::Utc::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due).await;
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let response = request(n).send().await.expect("an answer");
            let status = response.status();
            let _ = response.bytes().await;
            assert!(status.is_success(), "answered {status}");
            due.elapsed().as_micros() as u64
        }));
    }
    let mut micros = Vec::with_capacity(total);
    for task in tasks {
        micros.push(task.await.unwrap());
    }
    let load = Load {
        micros,
        wall: started.elapsed(),
    };
    if std::env::var("BENCH_SLICES").is_ok_and(|v| v == "1") {
        print_slices(&load, interval, wall_started);
    }
    load
}

/// For profiling the open loop's tail (`BENCH_SLICES=1`): when it ran, by the wall clock
/// (to line up with `perf record`, a database log or `vmstat`), and each slice of its
/// requests (those due in about 100 ms) that had one answered later than 10 ms after it was
/// due, with the time its first request was due.
fn print_slices(load: &Load, interval: Duration, started: chrono::DateTime<chrono::Utc>) {
    const SLICE: Duration = Duration::from_millis(100);
    let ended = started + chrono::Duration::from_std(load.wall).unwrap_or_default();
    eprintln!(
        "open loop: {} to {} UTC, {} requests",
        started.format("%H:%M:%S%.3f"),
        ended.format("%H:%M:%S%.3f"),
        load.micros.len()
    );
    let per_slice = (SLICE.as_secs_f64() / interval.as_secs_f64()).max(1.0) as usize;
    for (n, slice) in load.micros.chunks(per_slice).enumerate() {
        let late = slice.iter().filter(|&&m| m > 10_000).count();
        if late > 0 {
            // Request i was due `i` intervals after the start.
            let due = interval.mul_f64((n * per_slice) as f64);
            let at = started + chrono::Duration::from_std(due).unwrap_or_default();
            eprintln!(
                "  slice at {}: {late} of {} over 10 ms, slowest {:.1} ms",
                at.format("%H:%M:%S%.3f"),
                slice.len(),
                slice.iter().max().copied().unwrap_or_default() as f64 / 1000.0
            );
        }
    }
}

/// The ids of every case in `status`, through the work queue.
async fn case_ids(client: &reqwest::Client, base: &str, token: &str, status: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{base}/api/v1/complaints"))
            .bearer_auth(token)
            .query(&[("status", status), ("sort", "received"), ("limit", "500")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return ids,
        }
    }
}

/// Waits until the store has had no new event for a second: the service has finished the
/// work the last load left it (its watchdog raises an alert on each logged case, and falls
/// behind while logs come at full speed), so the next load is measured alone and not
/// beside that backlog. Returns how long the service went on working.
async fn caught_up(app: &TestApp) -> Duration {
    app.until_no_new_events(Duration::from_secs(1), Duration::from_millis(250))
        .await
        .1
}

/// The open loop's rate set by `BENCH_OPEN_RATE` (requests a second), which stands for half
/// the peak: two builds whose peaks differ are then compared under the same load.
fn set_open_rate() -> Option<f64> {
    std::env::var("BENCH_OPEN_RATE")
        .ok()
        .and_then(|rate| rate.parse::<f64>().ok())
        .filter(|rate| rate.is_finite() && *rate > 0.0)
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| {
                    v.split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<f64>().ok())
                })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

struct Figures {
    backend: &'static str,
    log: Load,
    /// Logging at half of `log`'s throughput (or at `BENCH_OPEN_RATE`), open loop.
    open: Load,
    open_rate: f64,
    /// How long the service went on working after logging at full speed stopped.
    log_backlog: Duration,
    note: Load,
    acknowledge: Load,
    stage1: Load,
    short: Load,
    long: Load,
    short_minimal: Load,
    long_minimal: Load,
    /// On PostgreSQL, bytes of write-ahead log per request of `log`, `note`, `acknowledge`
    /// and `stage1`, from the load's start until the service had finished what it left.
    wal_per_request: [Option<f64>; 4],
    rss_mib: f64,
}

async fn measure(backend: Backend, seconds: u64) -> Figures {
    // The store is made by an in-process instance; the measured service is a process of
    // its own (release build), so its memory is its own.
    let mut app = spawn_app(backend).await;
    app.stop_service().await;
    // `BENCH_WATCHDOG=off` measures the commands without the watchdog's alerts beside them,
    // to see what share of the open loop's tail is theirs.
    let watchdog_off = std::env::var("BENCH_WATCHDOG").is_ok_and(|v| v == "off");
    let env: &[(&str, &str)] = if watchdog_off {
        &[("CASEFILE_WATCHDOG_INTERVAL_SECS", "0")]
    } else {
        &[]
    };
    let process = Process::start_with(
        env!("CARGO_BIN_EXE_casefile-test-server"),
        &app.database_url(),
        &app.admin_token,
        env,
        None,
    )
    .await;
    let base = process.address.clone();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let token = app.admin_token.clone();
    let complaint = due_soon_complaint();
    let on_postgres = matches!(backend, Backend::Postgres);
    // Read before and after each load once the service has finished what the load before
    // left (alerts' notifications are marked delivered after the last event).
    let wal_at = || async move {
        if on_postgres {
            Some(wal_settled().await)
        } else {
            None
        }
    };
    let per_request = |before: Option<i64>, after: Option<i64>, requests: usize| {
        let bytes = after? - before?;
        (requests > 0).then(|| bytes as f64 / requests as f64)
    };

    let wal_before_log = wal_at().await;
    let log = {
        let (client, base, token, complaint) = (
            client.clone(),
            base.clone(),
            token.clone(),
            complaint.clone(),
        );
        load(CLIENTS, seconds, move |_, _| {
            Some(
                client
                    .post(format!("{base}/api/v1/complaints"))
                    .bearer_auth(&token)
                    .json(&complaint),
            )
        })
        .await
    };
    // Every case logged so far (topped up for short runs), for the commands that need a
    // case in a given state.
    let mut logged = case_ids(&client, &base, &token, "open").await;
    let listed = logged.len();
    while logged.len() < CLIENTS * (NOTE_CASES + 1) {
        let view: Value = client
            .post(format!("{base}/api/v1/complaints"))
            .bearer_auth(&token)
            .json(&complaint)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        logged.push(view["id"].as_str().unwrap().to_string());
    }
    let log_backlog = caught_up(&app).await;
    // The logs topped up for short runs wrote too.
    let log_wal = per_request(
        wal_before_log,
        wal_at().await,
        log.micros.len() + logged.len() - listed,
    );
    let open_rate = set_open_rate().unwrap_or(log.per_second() / 2.0);
    let open = {
        let (client, base, token, complaint) = (
            client.clone(),
            base.clone(),
            token.clone(),
            complaint.clone(),
        );
        open_loop(open_rate, seconds, move |_| {
            client
                .post(format!("{base}/api/v1/complaints"))
                .bearer_auth(&token)
                .json(&complaint)
        })
        .await
    };
    caught_up(&app).await;
    // Notes go round NOTE_CASES cases per client, so a case holds about as many events as
    // the baseline's 20 and the clients never queue on one case.
    let note_cases: Arc<Vec<String>> = Arc::new(logged[..CLIENTS * NOTE_CASES].to_vec());
    let wal_before = wal_at().await;
    let note = {
        let (client, base, token, cases) = (
            client.clone(),
            base.clone(),
            token.clone(),
            note_cases.clone(),
        );
        load(CLIENTS, seconds, move |c, n| {
            let case = &cases[c * NOTE_CASES + n % NOTE_CASES];
            Some(
                client
                    .post(format!("{base}/api/v1/complaints/{case}/notes"))
                    .bearer_auth(&token)
                    .json(&json!({"text": format!("note {n}")})),
            )
        })
        .await
    };
    caught_up(&app).await;
    let note_wal = per_request(wal_before, wal_at().await, note.micros.len());
    // Acknowledging and then answering at Stage 1 the cases logged earlier (their
    // complaint definition came with them), each case once, until time is up or they run
    // out.
    let fresh: Arc<Vec<String>> = Arc::new(logged[CLIENTS * NOTE_CASES..].to_vec());
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let wal_before = wal_at().await;
    let acknowledge = {
        let (client, base, token, cases, next) = (
            client.clone(),
            base.clone(),
            token.clone(),
            fresh.clone(),
            acknowledged.clone(),
        );
        load(CLIENTS, seconds, move |_, _| {
            let case = cases.get(next.fetch_add(1, Ordering::Relaxed))?;
            Some(
                client
                    .post(format!("{base}/api/v1/complaints/{case}/acknowledge"))
                    .bearer_auth(&token)
                    .json(&json!({})),
            )
        })
        .await
    };
    caught_up(&app).await;
    let acknowledge_wal = per_request(wal_before, wal_at().await, acknowledge.micros.len());
    let acknowledged = acknowledged.load(Ordering::Relaxed).min(fresh.len());
    let answered = Arc::new(AtomicUsize::new(0));
    let wal_before = wal_at().await;
    let stage1 = {
        let (client, base, token, cases, next) = (
            client.clone(),
            base.clone(),
            token.clone(),
            fresh.clone(),
            answered.clone(),
        );
        load(CLIENTS, seconds, move |_, _| {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let case = cases[..acknowledged].get(index)?;
            Some(
                client
                    .post(format!("{base}/api/v1/complaints/{case}/stage1-response"))
                    .bearer_auth(&token)
                    .json(&stage_response("upheld")),
            )
        })
        .await
    };
    caught_up(&app).await;
    let stage1_wal = per_request(wal_before, wal_at().await, stage1.micros.len());
    // A 10-event case and a 1,000-event case, measured one after the other, one client
    // each (more would only race each other on the one case).
    let mut sized = Vec::new();
    for events in [10, 1_000] {
        let view: Value = client
            .post(format!("{base}/api/v1/complaints"))
            .bearer_auth(&token)
            .json(&complaint)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = view["id"].as_str().unwrap().to_string();
        for n in 1..events {
            client
                .post(format!("{base}/api/v1/complaints/{id}/links"))
                .bearer_auth(&token)
                .json(&json!({"kind": "contact", "reference": format!("C-{n}")}))
                .send()
                .await
                .unwrap();
        }
        sized.push(id);
    }
    // Each answered in full (the case with its lists: the 1,000-event case's 999 links),
    // then with `Prefer: return=minimal` (the case without its lists).
    let mut sized_loads = Vec::new();
    for minimal in [false, true] {
        for id in &sized {
            let (client, base, token, id) =
                (client.clone(), base.clone(), token.clone(), id.clone());
            let themes = ["Repairs", "Damp", "Noise", "Staff"];
            sized_loads.push(
                load(1, seconds, move |_, n| {
                    let request = client
                        .post(format!("{base}/api/v1/complaints/{id}/categorise"))
                        .bearer_auth(&token)
                        .json(&json!({"theme": themes[n % themes.len()]}));
                    Some(if minimal {
                        request.header("prefer", "return=minimal")
                    } else {
                        request
                    })
                })
                .await,
            );
        }
    }
    let long_minimal = sized_loads.pop().unwrap();
    let short_minimal = sized_loads.pop().unwrap();
    let long = sized_loads.pop().unwrap();
    let short = sized_loads.pop().unwrap();
    // The process's own peak, read before it stops.
    let pid = process.pid();
    let rss_mib = peak_rss_mib(pid);
    process.kill().await;
    Figures {
        backend: match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        },
        log,
        open,
        open_rate,
        log_backlog,
        note,
        acknowledge,
        stage1,
        short,
        long,
        short_minimal,
        long_minimal,
        wal_per_request: [log_wal, note_wal, acknowledge_wal, stage1_wal],
        rss_mib,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = seconds();
    let command = baseline(Baseline::Command, seconds, None).await;
    let bare_insert = baseline(Baseline::BareInsert, seconds, None).await;
    let (tps, bare) = (command.tps, bare_insert.tps);
    println!(
        "baseline: pgbench, 16 clients, read 20 events + append 1 per transaction: {tps:.0} tps, \
         {:.0} bytes of WAL a transaction",
        command.wal_per_transaction
    );
    println!(
        "baseline: pgbench, 16 clients, a bare single-row insert: {bare:.0} tps, {:.0} bytes of \
         WAL a transaction\n",
        bare_insert.wal_per_transaction
    );
    println!(
        "| store | request | req/s | ratio to baseline | ratio to bare insert | p50 ms | p99 ms | WAL bytes a request |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut all = Vec::new();
    for backend in bench_backends() {
        let f = measure(backend, seconds).await;
        let [log_wal, note_wal, acknowledge_wal, stage1_wal] = f.wal_per_request;
        for (name, l, wal) in [
            ("log a complaint", &f.log, log_wal),
            ("record a note", &f.note, note_wal),
            ("acknowledge", &f.acknowledge, acknowledge_wal),
            ("Stage 1 response", &f.stage1, stage1_wal),
            ("categorise, 10-event case", &f.short, None),
            ("categorise, 1,000-event case", &f.long, None),
            ("categorise, 10-event case, minimal", &f.short_minimal, None),
            (
                "categorise, 1,000-event case, minimal",
                &f.long_minimal,
                None,
            ),
        ] {
            println!(
                "| {} | {name} | {:.0} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
                f.backend,
                l.per_second(),
                l.per_second() / tps,
                l.per_second() / bare,
                l.percentile(0.5) as f64 / 1000.0,
                l.percentile(0.99) as f64 / 1000.0,
                wal.map_or_else(|| "-".to_string(), |bytes| format!("{bytes:.0}"))
            );
        }
        all.push(f);
    }
    println!();
    let rate = match set_open_rate() {
        Some(_) => "the rate set by BENCH_OPEN_RATE",
        None => "half the peak rate",
    };
    println!(
        "Open loop, logging a complaint at {rate} (latency from when each request was due):\n"
    );
    println!("| store | rate req/s | p50 ms | p99 ms | p99.9 ms |");
    println!("|---|---|---|---|---|");
    for f in &all {
        // PostgreSQL's own tail at the same rate, measured now, in the same run: on a disk
        // whose flushes stall, no service on it can answer faster than its commits.
        let own = baseline(Baseline::Command, seconds, Some(f.open_rate))
            .await
            .latency
            .expect("a rate gives latencies");
        for (who, l) in [
            (f.backend.to_string(), &f.open),
            (
                format!(
                    "baseline at {}'s rate: pgbench, read 20 + append 1",
                    f.backend
                ),
                &own,
            ),
        ] {
            println!(
                "| {who} | {:.0} | {:.1} | {:.1} | {:.1} |",
                f.open_rate,
                l.percentile(0.5) as f64 / 1000.0,
                l.percentile(0.99) as f64 / 1000.0,
                l.percentile(0.999) as f64 / 1000.0
            );
        }
    }
    println!();
    let ratio = |long: &Load, short: &Load| {
        (
            long.percentile(0.5) as f64 / short.percentile(0.5).max(1) as f64,
            short.per_second() / long.per_second().max(1e-9),
        )
    };
    for f in &all {
        let (full_p50, full_rate) = ratio(&f.long, &f.short);
        let (minimal_p50, minimal_rate) = ratio(&f.long_minimal, &f.short_minimal);
        println!(
            "{}: 1,000-event case ÷ 10-event case, p50: {full_p50:.2} (answered in full), \
             {minimal_p50:.2} (return=minimal); throughput: {full_rate:.2}, {minimal_rate:.2}; \
             service peak resident memory {:.0} MiB; still working {:.1} s after logging \
             at full speed stopped",
            f.backend,
            f.rss_mib,
            f.log_backlog.as_secs_f64()
        );
    }
}
