//! Faults under load: the service killed with SIGKILL again and again, PostgreSQL stopped
//! as a crash would stop it, SQLite out of room to write, a pool too small for the load.
//! After each: every acknowledged write is there, nothing is half-written, the read models
//! equal a rebuild and every chain is intact. Counts are small by default so that the
//! suite stays quick; `CASEFILE_RELIABILITY_KILLS` raises the number of kills
//! (`scripts/reliability.sh` runs the full counts and prints a summary).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use casefile_tests::cluster::Cluster;
use casefile_tests::instances::Process;
use casefile_tests::*;
use tokio::sync::Mutex;

const SERVER: &str = env!("CARGO_BIN_EXE_casefile-test-server");

fn kills() -> usize {
    std::env::var("CASEFILE_RELIABILITY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// What the load was told had been recorded, and what it sent without hearing back.
#[derive(Default)]
struct Ledger {
    /// Idempotency-Key of each acknowledged log → the case it made.
    logged: BTreeMap<String, String>,
    /// (case, note text) of each acknowledged note.
    notes: BTreeSet<(String, String)>,
    /// Cases whose acknowledgement was acknowledged.
    acknowledged: BTreeSet<String>,
    /// Requests with no answer: (path, key, body), to be retried.
    unanswered: Vec<(String, String, Value)>,
}

/// One client's life: log a case, note it, acknowledge it, again and again, each request
/// under its own Idempotency-Key, until the service stops answering or `stop` is set.
async fn mixed_load(
    address: String,
    client: reqwest::Client,
    token: String,
    tag: String,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let key = format!("{tag}-{n}");
        let Some(id) = send(
            &address,
            &client,
            &token,
            "/api/v1/complaints",
            &key,
            valid_complaint(),
            &ledger,
        )
        .await
        .and_then(|view| view["id"].as_str().map(str::to_string)) else {
            return;
        };
        ledger.lock().await.logged.insert(key.clone(), id.clone());
        let text = format!("note {key}");
        let path = format!("/api/v1/complaints/{id}/notes");
        if send(
            &address,
            &client,
            &token,
            &path,
            &format!("{key}-n"),
            json!({"text": text}),
            &ledger,
        )
        .await
        .is_none()
        {
            return;
        }
        ledger.lock().await.notes.insert((id.clone(), text));
        let path = format!("/api/v1/complaints/{id}/acknowledge");
        if send(
            &address,
            &client,
            &token,
            &path,
            &format!("{key}-a"),
            json!({}),
            &ledger,
        )
        .await
        .is_none()
        {
            return;
        }
        ledger.lock().await.acknowledged.insert(id);
    }
}

/// Sends one command; its answer on success, `None` (and the request noted as unanswered)
/// when the connection died. Any other answer fails the test.
async fn send(
    address: &str,
    client: &reqwest::Client,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
    ledger: &Mutex<Ledger>,
) -> Option<Value> {
    let sent = client
        .post(format!("{address}{path}"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await;
    let answered = match sent {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
        Ok(r) => panic!("POST {path} answered {}", r.status()),
        Err(_) => None,
    };
    if answered.is_none() {
        ledger
            .lock()
            .await
            .unanswered
            .push((path.to_string(), key.to_string(), body));
    }
    answered
}

/// Whatever the store holds is whole: every chain intact, every stream gapless, the read
/// models equal to a rebuild from the events.
async fn assert_whole(app: &TestApp) {
    let ids: BTreeSet<String> = app
        .sql_texts("SELECT aggregate_id FROM events WHERE sequence = 1")
        .await
        .into_iter()
        .collect();
    for id in &ids {
        let (status, verdict) = app
            .get(&format!("/api/v1/complaints/{id}/verify"), &app.admin_token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(verdict["valid"], true, "case {id}: {verdict}");
        assert_gapless(&app.history(id).await);
    }
    assert_eq!(
        app.case_total().await,
        ids.len() as u64,
        "every case is in the queue"
    );
    let before = app.read_model_rows().await;
    app.rebuild().await;
    assert_eq!(
        app.read_model_rows().await,
        before,
        "the views equal a rebuild"
    );
}

/// Eight clients logging, noting and acknowledging, against a service process killed with
/// SIGKILL mid-load `CASEFILE_RELIABILITY_KILLS` times (3 by default): every acknowledged
/// write is there afterwards, a retried key gives the same answer and never records twice,
/// and the store is whole.
async fn kills_under_mixed_load(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.database_url();
    let (_, token) = app.create_user("Load Manager", &["manager"]).await;
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    for round in 0..kills() {
        let process = Process::start(SERVER, &url, &app.admin_token).await;
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
            .map(|w| {
                tokio::spawn(mixed_load(
                    process.address.clone(),
                    app.client.clone(),
                    token.clone(),
                    format!("r{round}-w{w}"),
                    ledger.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        // Kill at a different point of the load each round.
        tokio::time::sleep(Duration::from_millis(300 + 97 * (round as u64 % 7))).await;
        process.kill().await;
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.await.unwrap();
        }
    }
    let process = Process::start(SERVER, &url, &app.admin_token).await;
    let ledger = Arc::into_inner(ledger).unwrap().into_inner();
    assert!(
        ledger.logged.len() > 10,
        "the load got going: {}",
        ledger.logged.len()
    );
    // A request that got no answer either committed whole or not at all: retried twice
    // with its key, it answers the same both times.
    for (path, key, body) in &ledger.unanswered {
        let mut answers = Vec::new();
        for _ in 0..2 {
            let r = app
                .client
                .post(format!("{}{path}", process.address))
                .bearer_auth(&token)
                .header("Idempotency-Key", key)
                .json(body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            assert!(status.is_success(), "retry of {path} answered {status}");
            let view: Value = r.json().await.unwrap();
            answers.push((view["id"].clone(), view["version"].clone()));
        }
        assert_eq!(
            answers[0], answers[1],
            "a replay, not a second write: {path}"
        );
    }
    process.kill().await;
    // Every acknowledged write is there, once.
    for id in ledger.logged.values() {
        assert_eq!(app.case(id).await["id"].as_str(), Some(id.as_str()));
    }
    for (id, text) in &ledger.notes {
        let notes = app.case(id).await["notes"].clone();
        let found = notes
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["text"].as_str() == Some(text))
            .count();
        assert_eq!(found, 1, "note `{text}` of case {id} is there once");
    }
    for id in &ledger.acknowledged {
        assert!(
            app.case(id).await["acknowledged_on"].is_string(),
            "case {id} acknowledged"
        );
    }
    let logged = app
        .sql_texts("SELECT aggregate_id FROM events WHERE sequence = 1")
        .await;
    let acknowledged: BTreeSet<&String> = ledger.logged.values().collect();
    assert!(
        logged.len() >= acknowledged.len()
            && logged.len() <= acknowledged.len() + ledger.unanswered.len(),
        "{} cases in the store: {} acknowledged, {} unanswered",
        logged.len(),
        acknowledged.len(),
        ledger.unanswered.len()
    );
    assert_whole(&app).await;
}

/// PostgreSQL stopped with `-m immediate` under load: while it is down every request is
/// answered, within the configured wait, `503` with a retryable code (never a 500, never a
/// hang); the service takes writes again within 5 s of the database's return without a
/// restart; nothing acknowledged is lost.
async fn database_crash_and_return() {
    let cluster = Cluster::start();
    let app = spawn_app_on_server(&cluster.admin_url(), |config| {
        config.db_acquire_timeout_ms = 1000;
    })
    .await;
    let (_, token) = app.create_user("Load Manager", &["manager"]).await;
    let web = app.web_session("wren@example.org", &["officer"]).await;
    let ledger: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let down = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let outage_answers: Arc<Mutex<Vec<(u16, Value, Duration)>>> = Arc::default();
    let mut clients = Vec::new();
    for w in 0..4 {
        let (address, client, token) = (app.address.clone(), app.client.clone(), token.clone());
        let (ledger, down, stop, outage_answers) = (
            ledger.clone(),
            down.clone(),
            stop.clone(),
            outage_answers.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let key = format!("w{w}-{n}");
                let was_down = down.load(Ordering::SeqCst);
                let started = Instant::now();
                let r = client
                    .post(format!("{address}/api/v1/complaints"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(&valid_complaint())
                    .send()
                    .await
                    .expect("the service answers while its database is down");
                let took = started.elapsed();
                let status = r.status();
                let body: Value = r.json().await.unwrap_or_default();
                assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
                if status == StatusCode::CREATED {
                    ledger
                        .lock()
                        .await
                        .insert(key, body["id"].as_str().unwrap().to_string());
                } else {
                    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
                    assert_eq!(body["error"], "unavailable");
                    assert_eq!(body["details"]["retryable"], true);
                    if was_down {
                        outage_answers
                            .lock()
                            .await
                            .push((status.as_u16(), body, took));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before_outage = ledger.lock().await.len();
    down.store(true, Ordering::SeqCst);
    cluster.stop_immediate();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The web app says so too, as a page.
    let page = web.get("/cases").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.headers()["retry-after"], "1");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Casefile is unavailable"),
        "the page says why"
    );
    down.store(false, Ordering::SeqCst);
    let answers = outage_answers.lock().await.clone();
    assert!(
        !answers.is_empty(),
        "requests were answered during the outage"
    );
    for (_, _, took) in &answers {
        // The configured wait is 1 s; the rest is slack for a loaded machine.
        assert!(*took < Duration::from_secs(4), "an answer took {took:?}");
    }
    cluster.resume();
    let back = Instant::now();
    let mut recovered = None;
    while back.elapsed() < Duration::from_secs(10) {
        let (status, _) = app
            .post("/api/v1/complaints", &token, valid_complaint())
            .await;
        if status == StatusCode::CREATED {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("writes resumed after the database came back");
    assert!(
        recovered < Duration::from_secs(5),
        "recovered after {recovered:?}"
    );
    assert_eq!(
        web.get("/cases").await.status(),
        StatusCode::OK,
        "the page is back, the session kept"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    let ledger = ledger.lock().await.clone();
    assert!(
        before_outage > 0 && ledger.len() > before_outage,
        "load before and after"
    );
    for id in ledger.values() {
        assert_eq!(
            app.case(id).await["id"].as_str(),
            Some(id.as_str()),
            "case {id} kept"
        );
    }
    assert_whole(&app).await;
}

/// SQLite with no room to grow its files: commands are refused with a clear error, never a
/// 500 or a hang; afterwards, with room again, the file passes SQLite's integrity check and
/// holds every acknowledged case, whole.
async fn sqlite_out_of_room() {
    let app = spawn_app(Backend::Sqlite).await;
    let url = app.database_url();
    let path = url.trim_start_matches("sqlite://").to_string();
    let size = |suffix: &str| {
        std::fs::metadata(format!("{path}{suffix}"))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    // Room for a few logs more than the database holds now: its files, and the size the
    // database file grows to when the log is checkpointed into it (every page, not only
    // those the log holds).
    let mut checkpointed = 1;
    for pragma in ["page_count", "page_size"] {
        let query = format!("SELECT CAST({pragma} AS TEXT) FROM pragma_{pragma}()");
        checkpointed *= app.sql_texts(&query).await[0].parse::<u64>().unwrap();
    }
    let limit = size("").max(size("-wal")).max(checkpointed) + 1024 * 1024;
    let process = Process::start_with(SERVER, &url, &app.admin_token, &[], Some(limit)).await;
    let big = merge(
        valid_complaint(),
        json!({"description": "x".repeat(40_000)}),
    );
    let mut logged = Vec::new();
    let mut refused = Vec::new();
    for n in 0..200 {
        let r = app
            .client
            .post(format!("{}/api/v1/complaints", process.address))
            .bearer_auth(&app.admin_token)
            .header("Idempotency-Key", format!("full-{n}"))
            .json(&big)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("an answer, not a hang");
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        match status {
            StatusCode::CREATED => logged.push(body["id"].as_str().unwrap().to_string()),
            StatusCode::INSUFFICIENT_STORAGE | StatusCode::SERVICE_UNAVAILABLE => {
                assert!(
                    ["storage_full", "unavailable"].contains(&body["error"].as_str().unwrap()),
                    "{body}"
                );
                refused.push(body);
                // Go on well past the first refusal: a connection it left mid-transaction
                // would acknowledge later writes and never store them (checked below).
                if refused.len() >= 20 {
                    break;
                }
            }
            other => panic!("logging answered {other}: {body}"),
        }
    }
    assert!(
        !logged.is_empty(),
        "some writes fit; the first refusal: {:?}",
        refused.first()
    );

    assert!(!refused.is_empty(), "the limit was reached");
    process.kill().await;
    // With room again.
    let check = app.sql_texts("PRAGMA integrity_check").await;
    assert_eq!(check, vec!["ok".to_string()]);
    for id in &logged {
        assert_eq!(app.case(id).await["id"].as_str(), Some(id.as_str()));
    }
    assert_whole(&app).await;
}

/// One connection for many clients: a request that cannot get one within the wait is told
/// `503`, none hangs, and the service goes on answering once the burst has passed — no
/// request path needs two connections at once.
async fn pool_too_small(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.db_max_connections = Some(1);
        config.db_acquire_timeout_ms = 200;
    })
    .await;
    let (_, token) = app.create_user("Load Manager", &["manager"]).await;
    // One at a time, every kind of request works on one connection.
    let id = app.new_case().await;
    app.act_ok(&token, &id, "notes", json!({"text": "one connection"}))
        .await;
    app.act_ok(&token, &id, "acknowledge", json!({})).await;
    let (status, _) = app.get("/api/v1/complaints?q=boiler", &token).await;
    assert_eq!(status, StatusCode::OK);
    // A burst: 48 clients at once.
    let tasks: Vec<_> = (0..48)
        .map(|n| {
            let (client, address, token, id) = (
                app.client.clone(),
                app.address.clone(),
                token.clone(),
                id.clone(),
            );
            tokio::spawn(async move {
                let started = Instant::now();
                let r = if n % 2 == 0 {
                    client
                        .post(format!("{address}/api/v1/complaints/{id}/notes"))
                        .bearer_auth(&token)
                        .json(&json!({"text": format!("burst {n}")}))
                        .send()
                        .await
                } else {
                    client
                        .get(format!("{address}/api/v1/complaints?sort=received"))
                        .bearer_auth(&token)
                        .send()
                        .await
                }
                .unwrap();
                let status = r.status();
                let body: Value = r.json().await.unwrap_or_default();
                (status, body, started.elapsed())
            })
        })
        .collect();
    let mut unavailable = 0;
    for task in tasks {
        let (status, body, took) = task.await.unwrap();
        assert!(
            took < Duration::from_secs(10),
            "a request hung for {took:?}"
        );
        match status {
            StatusCode::OK => {}
            StatusCode::CONFLICT => assert_eq!(body["error"], "concurrent_modification"),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["error"], "unavailable");
                assert_eq!(body["details"]["retryable"], true);
                unavailable += 1;
            }
            other => panic!("answered {other}: {body}"),
        }
    }
    eprintln!("pool of one, 48 at once: {unavailable} answered 503");
    // Afterwards it answers as before.
    app.act_ok(&token, &id, "notes", json!({"text": "after the burst"}))
        .await;
    assert_whole(&app).await;
}

/// A request the store cannot serve in time is logged once, by the service, with its cause,
/// as a warning (the client is told to retry; nothing is wrong with the service), not again
/// at `ERROR` by the HTTP trace layer, whose line said only the status: in an outage every
/// request failed twice in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_store_cannot_serve_is_logged_once() {
    use sqlx::Connection;
    let mut app = spawn_app(Backend::Postgres).await;
    let id = app.new_case().await;
    app.stop_service().await;
    let process = Process::start_with(
        SERVER,
        &app.database_url(),
        &app.admin_token,
        &[
            ("CASEFILE_DB_MAX_CONNECTIONS", "1"),
            ("CASEFILE_DB_ACQUIRE_TIMEOUT_MS", "300"),
            ("CASEFILE_LOG", "info"),
            ("CASEFILE_LOG_FORMAT", "json"),
        ],
        None,
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let read = |client: reqwest::Client| {
        let url = format!("{}/api/v1/complaints/{id}", process.address);
        let token = app.admin_token.clone();
        async move {
            let response = client.get(url).bearer_auth(token).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or_default();
            (status, body)
        }
    };
    // Every 503 the test is given: the service's own tasks share the one connection, so a
    // request may find it taken by them too.
    let mut unavailable = 0;
    let started = Instant::now();
    loop {
        match read(client.clone()).await {
            (StatusCode::OK, _) => break,
            (StatusCode::SERVICE_UNAVAILABLE, _) => unavailable += 1,
            (other, body) => panic!("answered {other}: {body}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never answered"
        );
    }
    // The case's fold locked: the first read of it to get the pool's one connection holds
    // it until the lock goes, so of two reads at least one finds none within its wait.
    // The lock goes after a fixed while, whatever the reads do.
    let mut locker = sqlx::PgConnection::connect(&app.database_url())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE case_records IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let first = tokio::spawn(read(client.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tokio::spawn(read(client.clone()));
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
    let mut given = 0;
    for read in [first, second] {
        match read.await.unwrap() {
            (StatusCode::OK, _) => {}
            (StatusCode::SERVICE_UNAVAILABLE, body) => {
                assert_eq!(body["error"], "unavailable");
                given += 1;
            }
            (other, body) => panic!("answered {other}: {body}"),
        }
    }
    assert!(given >= 1, "neither read was kept waiting");
    unavailable += given;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let failures: Vec<(String, String)> = process
        .log()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            let message = line["message"].as_str().unwrap_or_default();
            message.starts_with("request failed") || message == "response failed"
        })
        .map(|line| (line["level"].to_string(), line["message"].to_string()))
        .collect();
    let once = (
        "\"WARN\"".to_string(),
        "\"request failed: unavailable for now\"".to_string(),
    );
    assert_eq!(failures, vec![once; unavailable], "{:#?}", process.log());
}

both_backends! {
    nothing_acknowledged_is_lost_when_killed_again_and_again => kills_under_mixed_load,
    a_pool_too_small_answers_503_and_recovers => pool_too_small,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_and_return() {
    database_crash_and_return().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full() {
    sqlite_out_of_room().await;
}
