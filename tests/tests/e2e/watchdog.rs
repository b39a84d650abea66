//! The SLA watchdog: a breached step raises one `SlaAlertRaised` however many instances
//! scan and restart; the alert is listed until resolved; webhook deliveries are signed with
//! HMAC-SHA256 (checked here with the `hmac` crate) and every attempt is recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use casefile_tests::instances::Process;
use casefile_tests::smtp::{mail_server_going_up, smtp_sink, NotUp};
use casefile_tests::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use sha2::Sha256;
use tokio::sync::mpsc;

both_backends! {
    a_breached_case_gets_exactly_one_alert_across_two_instances_and_a_restart => one_alert,
    a_webhook_receives_the_alert_signed_with_its_secret => signed_webhook,
    alerts_and_webhooks_check_roles_and_input => roles_and_input,
    the_case_owner_and_their_team_leader_are_emailed_the_alert => owner_emailed,
    a_webhook_delivery_survives_the_instance_being_killed_mid_delivery => delivery_survives_kill,
    a_burst_of_breached_cases_gets_one_alert_each => burst,
    a_backlog_of_more_than_a_page_is_read_a_page_at_a_time_and_alerted_once => backlog_in_pages,
    a_step_alerted_due_soon_is_alerted_again_once_breached => due_soon_then_breached,
    each_division_s_steps_are_read_up_to_its_own_horizon => horizons_per_division,
    commands_go_on_while_a_webhook_receiver_stalls => commands_beside_a_stalled_delivery,
    two_instances_never_send_one_delivery_at_once => one_sender_at_a_time,
    a_mail_server_down_is_tried_once_a_round_and_every_email_goes_out_on_its_return =>
        mail_server_down_then_back,
    a_relay_refusing_the_sender_gives_no_email_up_and_each_goes_once_it_is_set_up =>
        relay_refusing_the_sender_then_set_up,
    each_recipient_refused_for_good_or_for_now_is_recorded_and_holds_back_no_other =>
        refused_emails_recorded,
    a_test_email_says_whether_the_mail_server_took_it_and_records_nothing => test_email,
}

/// A chc-2024 complaint received 60 days ago and never acknowledged: its acknowledgement
/// (5 working days) is breached whatever the holidays.
fn breached_complaint() -> serde_json::Value {
    backdated_complaint("chc-2024", "england-and-wales", &days_ago(60))
}

fn watching(config: &mut casefile_api::config::Config) {
    config.watchdog_interval_secs = 60;
}

/// The service with the watchdog on, as in production.
async fn watched_app(
    backend: Backend,
    configure: impl FnOnce(&mut casefile_api::config::Config),
) -> TestApp {
    spawn_app_with(backend, |config| {
        watching(config);
        configure(config);
    })
    .await
}

/// A scan reads each division's unalerted steps up to that division's own horizon (the
/// last date due soon there), not up to the latest of them: on the eve of one division's
/// bank holiday the others' steps due a day later are not due soon, and were read, and
/// left, in every scan.
async fn horizons_per_division(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut due = Vec::new();
    for division in ["england-and-wales", "scotland"] {
        let view = app
            .log_complaint(
                &app.admin_token,
                backdated_complaint("chc-2024", division, &days_ago(1)),
            )
            .await;
        let on: chrono::NaiveDate = str_at(&view, "/deadlines/acknowledge/due").parse().unwrap();
        due.push((str_at(&view, "id"), on));
    }
    let [(england, england_due), (scotland, scotland_due)] = [due[0].clone(), due[1].clone()];
    let day = chrono::Days::new(1);
    let store = casefile_store::Store::open(&app.database_url(), casefile_store::Access::ReadOnly)
        .await
        .unwrap();
    let today = utc_today();
    let read = |horizons: Vec<(&'static str, chrono::NaiveDate)>| {
        let store = store.clone();
        async move {
            let mut ids: Vec<String> = store
                .due_steps(today, &horizons, None, 1_000)
                .await
                .unwrap()
                .steps
                .into_iter()
                .filter(|s| s.step == "acknowledge")
                .map(|s| s.case_id)
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(
        read(vec![
            ("england-and-wales", england_due),
            ("scotland", scotland_due - day)
        ])
        .await,
        vec![england.clone()]
    );
    assert_eq!(
        read(vec![
            ("england-and-wales", england_due - day),
            ("scotland", scotland_due)
        ])
        .await,
        vec![scotland.clone()]
    );
    assert_eq!(
        read(vec![
            ("england-and-wales", england_due),
            ("scotland", scotland_due)
        ])
        .await,
        sorted(vec![england.clone(), scotland.clone()])
    );
    // A division not named takes the latest horizon given.
    let latest = england_due.max(scotland_due);
    assert_eq!(
        read(vec![("scotland", latest)]).await,
        sorted(vec![england, scotland])
    );
}

/// The alerts not yet resolved, as `GET /alerts` lists them.
async fn open_alerts(app: &TestApp, token: &str) -> Vec<serde_json::Value> {
    let (status, alerts) = app.get("/api/v1/alerts?state=open", token).await;
    assert_eq!(status, StatusCode::OK, "{alerts}");
    alerts.as_array().cloned().unwrap_or_default()
}

async fn alerts_raised(app: &TestApp, id: &str) -> usize {
    app.event_types(id)
        .await
        .iter()
        .filter(|t| *t == "SlaAlertRaised")
        .count()
}

/// Any command, so that an instance looks again at once.
async fn kick(app: &TestApp, id: &str) {
    app.act_ok(&app.admin_token, id, "notes", json!({"text": "chased"}))
        .await;
}

async fn one_alert(backend: Backend) {
    let app = watched_app(backend, |_| {}).await;
    let sibling = app.sibling_with(watching).await;
    let view = app
        .log_complaint(&app.admin_token, breached_complaint())
        .await;
    let id = str_at(&view, "id");
    kick(&sibling, &id).await;
    eventually("the alert", || async {
        alerts_raised(&app, &id).await >= 1
    })
    .await;
    // Both instances scan again after these commands; neither raises it a second time.
    kick(&app, &id).await;
    kick(&sibling, &id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(sibling);
    let restarted = app.sibling_with(watching).await;
    kick(&restarted, &id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(alerts_raised(&app, &id).await, 1);
    // The deadline's row says its breach is alerted, so later scans leave it out; a
    // rebuild from the events writes the same.
    let deadlines = app
        .sql_texts(&format!(
            "SELECT step || ' ' || alerted FROM case_deadlines WHERE case_id = '{id}' ORDER BY step"
        ))
        .await;
    assert!(
        deadlines.contains(&"acknowledge breached".to_string()),
        "{deadlines:?}"
    );
    let before = app.read_model_rows().await;
    app.rebuild().await;
    assert_eq!(app.read_model_rows().await, before);

    let history = app.history(&id).await;
    let raised = history
        .iter()
        .find(|e| e["type"] == "SlaAlertRaised")
        .unwrap();
    assert_eq!(raised["actor"]["id"], "system:watchdog", "{raised}");

    let manager = app.user("Mo Manager", "manager").await;
    let (status, alerts) = app.get("/api/v1/alerts?state=open", &manager.token).await;
    assert_eq!(status, StatusCode::OK, "{alerts}");
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["case_id"], id.as_str());
    assert_eq!(alerts[0]["step"], "acknowledge");
    assert_eq!(alerts[0]["state"], "breached");

    // A late acknowledgement entered now resolves the alert by an event of its own.
    app.act_ok(&app.admin_token, &id, "acknowledge", json!({}))
        .await;
    let types = app.event_types(&id).await;
    assert_eq!(types.last().map(String::as_str), Some("SlaAlertResolved"));
    let (_, open) = app.get("/api/v1/alerts?state=open", &manager.token).await;
    assert_eq!(open, json!([]));
    let (_, all) = app.get("/api/v1/alerts?state=all", &manager.token).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));
}

/// Thirty breached cases logged at once: the scans after them raise every alert, each
/// once, whichever cases they raise together.
async fn burst(backend: Backend) {
    const CASES: usize = 30;
    let app = watched_app(backend, |_| {}).await;
    let logged = futures::future::join_all(
        (0..CASES).map(|_| app.log_complaint(&app.admin_token, breached_complaint())),
    )
    .await;
    let ids: std::collections::BTreeSet<String> =
        logged.iter().map(|view| str_at(view, "id")).collect();
    assert_eq!(ids.len(), CASES);
    let manager = app.user("Mo Manager", "manager").await;
    let open_alerts = || open_alerts(&app, &manager.token);
    eventually("every case's alert", || async {
        open_alerts().await.len() >= CASES
    })
    .await;
    // Another scan, after a command on one of them, raises none again.
    kick(&app, ids.first().unwrap()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alerts = open_alerts().await;
    let alerted: std::collections::BTreeSet<String> = alerts
        .iter()
        .map(|a| a["case_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(alerts.len(), CASES, "{alerts:?}");
    assert_eq!(alerted, ids);
    for id in &ids {
        assert_eq!(alerts_raised(&app, id).await, 1, "{id}");
    }
    assert!(alerts
        .iter()
        .all(|a| a["step"] == "acknowledge" && a["state"] == "breached"));
}

/// More steps to alert than a scan reads at once (256), half never alerted and half alerted
/// due soon (the scan's two branches, merged): read page after page, they are the steps one
/// read of them all gives, in the same order, each once; and a watching instance started on
/// them raises every alert once.
async fn backlog_in_pages(backend: Backend) {
    const CASES: usize = 300;
    use futures::StreamExt;
    let app = spawn_app(backend).await;
    let ids: std::collections::BTreeSet<String> = futures::stream::iter(0..CASES)
        .map(|_| app.log_complaint(&app.admin_token, breached_complaint()))
        .buffer_unordered(16)
        .map(|view| str_at(&view, "id"))
        .collect()
        .await;
    assert_eq!(ids.len(), CASES);
    // Every other case as the watchdog would have left it days before, alerted due soon
    // (as in `due_soon_then_breached`); its breach is still to be alerted.
    let soon: Vec<&String> = ids.iter().step_by(2).collect();
    let marked = app
        .sql(&format!(
            "UPDATE case_deadlines SET alerted = 'due_soon' WHERE case_id IN ({})",
            soon.iter()
                .map(|id| format!("'{id}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await;
    assert_eq!(marked, soon.len() as u64);
    let store = casefile_store::Store::open(&app.database_url(), casefile_store::Access::ReadOnly)
        .await
        .unwrap();
    let today = utc_today();
    let horizons = [("england-and-wales", today)];
    let key = |s: &casefile_store::outbox::DueStep| casefile_store::outbox::StepKey {
        due: s.due,
        case_id: s.case_id.clone(),
        step: s.step.clone(),
    };
    let one_read = store
        .due_steps(today, &horizons, None, 10_000)
        .await
        .unwrap();
    assert_eq!(one_read.next, None, "one page holds them all");
    let whole: Vec<_> = one_read.steps.iter().map(key).collect();
    let pages = pages_of(&store, today, &horizons).await;
    let mut paged = Vec::new();
    for page in &pages {
        assert!(page.steps.len() <= 64);
        paged.extend(page.steps.iter().map(key));
        if let Some(next) = &page.next {
            assert_eq!(Some(next), paged.last(), "a page ends at its last step");
        }
    }
    let pages = pages.len();
    assert_eq!(paged, whole);
    assert_eq!(
        pages,
        whole.len() / 64 + 1,
        "pages of 64, and an empty one after a full last"
    );
    // Byte order: the store's for these ids (UUIDs, their dashes all in the same places).
    let order = |k: &casefile_store::outbox::StepKey| (k.due, k.case_id.clone(), k.step.clone());
    let mut sorted = whole.clone();
    sorted.sort_by_key(order);
    sorted.dedup();
    assert_eq!(sorted, whole, "in (due, case, step) order, each once");
    let read: std::collections::BTreeSet<String> =
        whole.iter().map(|k| k.case_id.clone()).collect();
    assert!(read.is_superset(&ids));
    let soon_read = one_read
        .steps
        .iter()
        .filter(|s| s.alerted == "due_soon" && ids.contains(&s.case_id))
        .count();
    assert_eq!(soon_read, soon.len(), "both branches read");
    // Steps never alerted beyond their own division's horizon are read (another division's
    // reaches them) but left out; they still move the pages on to the end. Those alerted
    // due soon and now past due are in, whatever the horizon.
    let early = [
        ("england-and-wales", today - chrono::Days::new(365)),
        ("scotland", today),
    ];
    let pages = pages_of(&store, today, &early).await;
    let early_read: std::collections::BTreeSet<String> = pages
        .iter()
        .flat_map(|page| page.steps.iter().map(|s| s.case_id.clone()))
        .collect();
    let pages = pages.len();
    assert_eq!(
        early_read,
        soon.iter().map(|id| id.to_string()).collect(),
        "only those alerted due soon"
    );
    assert_eq!(pages, whole.len() / 64 + 1);

    // Read through the instance that does not watch: a request to the watching one is
    // one its watchdog gives way to.
    let _watching = app.sibling_with(watching).await;
    let manager = app.user("Mo Manager", "manager").await;
    let open_alerts = || open_alerts(&app, &manager.token);
    eventually("every case's alert", || async {
        open_alerts().await.len() >= CASES
    })
    .await;
    let alerted: Vec<String> = open_alerts()
        .await
        .iter()
        .map(|a| a["case_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(alerted.len(), CASES, "one alert a case");
    assert_eq!(
        alerted
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        ids
    );
    let breached = app
        .sql_texts("SELECT CAST(COUNT(*) AS TEXT) FROM case_deadlines WHERE alerted = 'breached'")
        .await;
    assert_eq!(breached, [CASES.to_string()]);
}

/// Every page of 64 of the steps to alert, first to last, as the watchdog reads them.
async fn pages_of(
    store: &casefile_store::Store,
    today: chrono::NaiveDate,
    horizons: &[(&str, chrono::NaiveDate)],
) -> Vec<casefile_store::outbox::DuePage> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .due_steps(today, horizons, after.as_ref(), 64)
            .await
            .unwrap();
        after = page.next.clone();
        pages.push(page);
        if after.is_none() {
            return pages;
        }
    }
}

/// A step whose deadline row says it was alerted due soon, and whose due date has passed:
/// the scan still reads it, and raises its breach. (The service has no clock to move on, so
/// the row is set as the watchdog would have left it days before, on an instance that does
/// not watch; the case itself has no alert yet, which the breach does not need.)
async fn due_soon_then_breached(backend: Backend) {
    let app = spawn_app(backend).await;
    let view = app
        .log_complaint(&app.admin_token, breached_complaint())
        .await;
    let id = str_at(&view, "id");
    let marked = app
        .sql(&format!(
            "UPDATE case_deadlines SET alerted = 'due_soon' \
             WHERE case_id = '{id}' AND step = 'acknowledge'"
        ))
        .await;
    assert_eq!(marked, 1);
    // Its scan as it starts finds the step. (A command on the case would write its row
    // again from the case, which has no alert.)
    let _watcher = app.sibling_with(watching).await;
    eventually("the breach alert", || async {
        alerts_raised(&app, &id).await >= 1
    })
    .await;
    let history = app.history(&id).await;
    let raised: Vec<_> = history
        .iter()
        .filter(|e| e["type"] == "SlaAlertRaised")
        .collect();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0]["payload"]["state"], "breached", "{}", raised[0]);
    let deadlines = app
        .sql_texts(&format!(
            "SELECT alerted FROM case_deadlines WHERE case_id = '{id}' AND step = 'acknowledge'"
        ))
        .await;
    assert_eq!(deadlines, ["breached"]);
}

/// A receiver on 127.0.0.1:0 that passes each request's headers and body on.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), rx)
}

async fn signed_webhook(backend: Backend) {
    let app = watched_app(backend, |_| {}).await;
    let (url, mut received) = receiver().await;
    let secret = "a-long-shared-secret-for-tests";
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            &app.admin_token,
            json!({"url": url, "secret": secret, "events": ["SlaAlertRaised"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert!(hook.get("secret").is_none(), "{hook}");
    let hook_id = str_at(&hook, "id");

    let view = app
        .log_complaint(&app.admin_token, breached_complaint())
        .await;
    let id = str_at(&view, "id");
    let (headers, body) = tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("a delivery within 20 s")
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        headers
            .get("x-casefile-signature")
            .and_then(|v| v.to_str().ok()),
        Some(expected.as_str())
    );
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["case_id"], id.as_str());
    assert_eq!(sent["event_type"], "SlaAlertRaised");
    assert_eq!(sent["event"]["SlaAlertRaised"]["step"], "acknowledge");

    let path = format!("/api/v1/webhooks/{hook_id}/deliveries");
    eventually("the delivery recorded", || async {
        let (_, deliveries) = app.get(&path, &app.admin_token).await;
        deliveries[0]["delivered_at"].is_string()
    })
    .await;
    let (status, deliveries) = app.get(&path, &app.admin_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deliveries.as_array().map(Vec::len), Some(1), "{deliveries}");
    assert_eq!(deliveries[0]["attempts"], 1);
    assert_eq!(deliveries[0]["history"][0]["status"], 200);

    let (_, hooks) = app.get("/api/v1/webhooks", &app.admin_token).await;
    assert_eq!(hooks[0]["id"], hook_id.as_str());
    assert_eq!(hooks[0]["events"], json!(["SlaAlertRaised"]));
}

async fn roles_and_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let officer = app.user("Olu Officer", "officer").await;
    let (status, body) = app.get("/api/v1/alerts", &officer.token).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .post(
            "/api/v1/webhooks",
            &officer.token,
            json!({"url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef", "events": ["SlaAlertRaised"]}),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .post(
            "/api/v1/webhooks",
            &app.admin_token,
            json!({"url": "http://127.0.0.1:9/x", "secret": "0123456789abcdef", "events": ["Logged"]}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = app
        .get("/api/v1/webhooks/nope/deliveries", &app.admin_token)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.get("/api/v1/alerts?state=shut", &app.admin_token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
}

/// While the mail server cannot be reached, or refuses our sender for good, each delivery
/// round tries it once, not once for each email waiting, and no email is counted as tried
/// or given up; once it is back or set up, every waiting email goes out.
async fn mail_server_down_then_back(backend: Backend) {
    mail_server_not_up_then_up(backend, NotUp::Closes).await;
}

async fn relay_refusing_the_sender_then_set_up(backend: Backend) {
    mail_server_not_up_then_up(backend, NotUp::RefusesSender).await;
}

async fn mail_server_not_up_then_up(backend: Backend, not_up: NotUp) {
    let up = Arc::new(AtomicBool::new(false));
    let (url, mut mail, connections) = mail_server_going_up(up.clone(), not_up).await;
    let app = watched_app(backend, |config| config.smtp_url = Some(url)).await;
    let officer = user_emailed_at(&app, "Olu Officer", "officer", "olu@example.org").await;
    let officer_id = str_at(&officer, "id");
    let mut cases = Vec::new();
    for _ in 0..4 {
        let view = app
            .log_complaint(&app.admin_token, breached_complaint())
            .await;
        let id = str_at(&view, "id");
        app.act_ok(
            &app.admin_token,
            &id,
            "assign",
            json!({"owner_id": officer_id}),
        )
        .await;
        cases.push(id);
    }
    for id in &cases {
        eventually("the alert", || async { alerts_raised(&app, id).await >= 1 }).await;
        // Its resolution is a second notification, emailed to the owner.
        app.act_ok(&app.admin_token, id, "acknowledge", json!({}))
            .await;
    }
    // Four or more emails wait (each resolution's, and the alerts raised once the case
    // had its owner): were each tried in turn, a round would make one connection each.
    let before = connections.load(Ordering::SeqCst);
    let window = Duration::from_secs(4);
    tokio::time::sleep(window).await;
    let tried = connections.load(Ordering::SeqCst) - before;
    assert!(
        (1..=window.as_secs() as usize + 2).contains(&tried),
        "{tried} connections in {window:?}"
    );
    let (status, waiting) = app
        .get("/api/v1/emails?state=waiting", &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{waiting}");
    let waiting = waiting.as_array().unwrap();
    assert!(waiting.len() >= cases.len(), "{waiting:?}");
    for email in waiting {
        assert_eq!(email["attempts"], 0, "not the email's fault: {email}");
    }

    up.store(true, Ordering::SeqCst);
    let mut resolved = 0;
    while resolved < cases.len() {
        let (recipients, data) = tokio::time::timeout(Duration::from_secs(20), mail.recv())
            .await
            .expect("every waiting email within 20 s of the server's return")
            .unwrap();
        assert_eq!(recipients, ["<olu@example.org>"]);
        if data.contains("alert resolved") {
            resolved += 1;
        }
    }
}

/// Each recipient of an email is asked for on their own. A mailbox refused for good (550)
/// is not tried again, one refused for now (452) is tried again after its backoff, alone:
/// whoever took the email is not sent it again. An email is sent once everyone has it, and
/// given up once one who does not will not be tried again; `GET /emails` shows each with
/// who has it and the server's reply, and a given-up email can be put back in the queue.
async fn refused_emails_recorded(backend: Backend) {
    let (url, mut mail, _) =
        mail_server_going_up(Arc::new(AtomicBool::new(true)), NotUp::Closes).await;
    let app = watched_app(backend, |config| config.smtp_url = Some(url)).await;
    let mut cases = Vec::new();
    let mut ids = std::collections::HashMap::new();
    // Owners, each with their team leader (copied in), if any.
    for (name, email, leader) in [
        ("Gil Gone", "gone@example.org", None),
        ("Bea Busy", "busy@example.org", None),
        ("Kit Kept", "kit@example.org", None),
        ("Olu Officer", "olu@example.org", Some("gone@example.org")),
        ("Pat Patel", "pat@example.org", Some("busy@example.org")),
    ] {
        let owner = user_emailed_at(&app, name, "officer", email).await;
        ids.insert(email, str_at(&owner, "id"));
        if let Some(leader) = leader {
            let r = app
                .send(
                    Method::PUT,
                    &format!("/api/v1/users/{}/team-leader", ids[email]),
                    Some(&app.admin_token),
                    Body::Json(json!({"team_leader": ids[leader]})),
                    &[],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        }
        let view = app
            .log_complaint(&app.admin_token, breached_complaint())
            .await;
        let id = str_at(&view, "id");
        app.act_ok(
            &app.admin_token,
            &id,
            "assign",
            json!({"owner_id": ids[email]}),
        )
        .await;
        cases.push(id);
    }
    for id in &cases {
        eventually("the alert", || async { alerts_raised(&app, id).await >= 1 }).await;
        // Its resolution is a notification emailed to the owner.
        app.act_ok(&app.admin_token, id, "acknowledge", json!({}))
            .await;
    }
    // Every message taken, as (recipient, subject).
    let mut taken: Vec<(String, String)> = Vec::new();
    fn take(taken: &mut Vec<(String, String)>, (recipients, data): (Vec<String>, String)) {
        let subject = data
            .lines()
            .find_map(|line| line.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_string();
        for recipient in recipients {
            taken.push((recipient, subject.clone()));
        }
    }
    let resolved_for = |taken: &[(String, String)], who: &str| {
        taken
            .iter()
            .any(|(r, subject)| r == who && subject.contains("alert resolved"))
    };
    while ![
        "<kit@example.org>",
        "<olu@example.org>",
        "<pat@example.org>",
    ]
    .iter()
    .all(|who| resolved_for(&taken, who))
    {
        let message = tokio::time::timeout(Duration::from_secs(20), mail.recv())
            .await
            .expect("each resolution taken within 20 s")
            .unwrap();
        take(&mut taken, message);
    }
    let emails = |state: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get(&format!("/api/v1/emails?state={state}"), &app.admin_token)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body.as_array().unwrap().clone()
        }
    };
    let to = |email: &Value| str_at(email, "to");
    // Refused for now, to Bea's own and to Pat's copied to her: tried again after 2 s.
    eventually("a second attempt at Pat's email, for Bea alone", || async {
        emails("waiting")
            .await
            .iter()
            .any(|e| to(e) == "pat@example.org" && e["attempts"].as_i64() >= Some(2))
    })
    .await;
    let waiting = emails("waiting").await;
    for email in &waiting {
        let error = str_at(email, "last_error");
        assert!(
            error.contains("busy@example.org") && error.contains("452"),
            "{email}"
        );
        match to(email).as_str() {
            "busy@example.org" => assert_eq!(email["sent_to"], json!([]), "{email}"),
            "pat@example.org" => {
                assert_eq!(email["sent_to"], json!(["pat@example.org"]), "{email}")
            }
            _ => panic!("waiting: {email}"),
        }
    }
    // Refused for good: Gil's own, given up at the first attempt, and Olu's copied to him,
    // given up for him with Olu having it.
    let failed = emails("failed").await;
    for email in &failed {
        assert_eq!(email["attempts"], 1, "{email}");
        let error = str_at(email, "last_error");
        assert!(
            error.contains("gone@example.org") && error.contains("550"),
            "{email}"
        );
        match to(email).as_str() {
            "gone@example.org" => assert_eq!(email["sent_to"], json!([]), "{email}"),
            "olu@example.org" => {
                assert_eq!(email["sent_to"], json!(["olu@example.org"]), "{email}")
            }
            _ => panic!("given up: {email}"),
        }
    }
    let sent = emails("sent").await;
    for email in &sent {
        assert_eq!(to(email), "kit@example.org", "{email}");
        assert_eq!(email["sent_to"], json!(["kit@example.org"]), "{email}");
        assert!(email["last_error"].is_null(), "{email}");
    }
    for (state, emails) in [("waiting", &waiting), ("failed", &failed), ("sent", &sent)] {
        assert!(!emails.is_empty(), "none {state}");
    }
    let all = emails("all").await;
    assert_eq!(all.len(), waiting.len() + failed.len() + sent.len());
    assert!(all.iter().all(|e| cases.contains(&str_at(e, "case_id"))));

    // Olu's given-up email put back in the queue: tried afresh for Gil alone, and given up
    // again; Olu is not sent it twice.
    let olu_s = failed
        .iter()
        .find(|e| to(e) == "olu@example.org")
        .expect("Olu's email given up")
        .clone();
    let retry = format!("/api/v1/emails/{}/retry", olu_s["id"]);
    let (status, body) = app.post(&retry, &app.admin_token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], olu_s["id"]);
    assert!(matches!(body["attempts"].as_i64(), Some(0 | 1)), "{body}");
    let before = str_at(&olu_s, "gave_up_at");
    eventually("Olu's email given up again", || async {
        emails("failed")
            .await
            .iter()
            .any(|e| e["id"] == olu_s["id"] && e["gave_up_at"].as_str() > Some(before.as_str()))
    })
    .await;
    while let Ok(message) = mail.try_recv() {
        take(&mut taken, message);
    }
    let mut seen = std::collections::HashSet::new();
    for (recipient, subject) in &taken {
        assert!(
            seen.insert((recipient, subject)),
            "{recipient} was sent {subject:?} twice"
        );
    }

    let failed = emails("failed").await;
    let (status, body) = app
        .post("/api/v1/emails/retry", &app.admin_token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"requeued": failed.len()}));
    let sent_retry = format!("/api/v1/emails/{}/retry", sent[0]["id"]);
    let (status, body) = app.post(&sent_retry, &app.admin_token, json!({})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "email_not_given_up");
    for missing in ["999999999", "not-an-id"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/emails/{missing}/retry"),
                &app.admin_token,
                json!({}),
            )
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    let officer = user_emailed_at(&app, "Ola Other", "officer", "ola@example.org").await;
    let (status, body) = app.get("/api/v1/emails", &str_at(&officer, "token")).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .post(&retry, &str_at(&officer, "token"), json!({}))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app.get("/api/v1/emails?state=lost", &app.admin_token).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
}

async fn send_test_email(app: &TestApp, to: &str) -> (StatusCode, Value) {
    app.post("/api/v1/emails/test", &app.admin_token, json!({"to": to}))
        .await
}

/// A test email goes through the mail server at once and says how it went (taken, refused
/// with the server's reply, or the server down), and is not recorded as an alert email.
async fn test_email(backend: Backend) {
    let send = send_test_email;
    let unset = spawn_app(backend).await;
    let (status, body) = send(&unset, "kit@example.org").await;
    assert_error(status, &body, StatusCode::CONFLICT, "email_not_configured");

    let (url, mut mail, _) =
        mail_server_going_up(Arc::new(AtomicBool::new(true)), NotUp::Closes).await;
    let app = spawn_app_with(backend, |config| config.smtp_url = Some(url)).await;
    let (status, body) = send(&app, " kit@example.org ").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"to": "kit@example.org", "taken": true, "server_down": false, "reply": null})
    );
    let (recipients, data) = tokio::time::timeout(Duration::from_secs(20), mail.recv())
        .await
        .expect("the test email")
        .unwrap();
    assert_eq!(recipients, ["<kit@example.org>"]);
    assert!(data.contains("Subject: Casefile: a test email"), "{data}");

    let (status, body) = send(&app, "gone@example.org").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["taken"], &body["server_down"]),
        (&json!(false), &json!(false))
    );
    assert!(str_at(&body, "reply").contains("550"), "{body}");
    let (status, body) = send(&app, "not an address").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let officer = user_emailed_at(&app, "Ola Other", "officer", "ola@example.org").await;
    let (status, body) = app
        .post(
            "/api/v1/emails/test",
            &str_at(&officer, "token"),
            json!({"to": "kit@example.org"}),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // A test email is not one of the alert emails.
    let (_, all) = app.get("/api/v1/emails", &app.admin_token).await;
    assert_eq!(all, json!([]));

    let (url, _, _) =
        mail_server_going_up(Arc::new(AtomicBool::new(false)), NotUp::RefusesSender).await;
    let refusing = spawn_app_with(backend, |config| config.smtp_url = Some(url)).await;
    let (status, body) = send(&refusing, "kit@example.org").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["taken"], &body["server_down"]),
        (&json!(false), &json!(true))
    );
    assert!(str_at(&body, "reply").contains("5.7.1"), "{body}");
}

/// A user with the one role `role`, whose alert emails go to `email`; as created.
async fn user_emailed_at(app: &TestApp, name: &str, role: &str, email: &str) -> Value {
    let (status, user) = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": name, "roles": [role], "email": email}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user
}

async fn owner_emailed(backend: Backend) {
    let (url, mut mail) = smtp_sink().await;
    let app = watched_app(backend, |config| config.smtp_url = Some(url)).await;
    let officer = user_emailed_at(&app, "Olu Officer", "officer", "olu@example.org").await;
    let officer_id = str_at(&officer, "id");
    let leader = user_emailed_at(&app, "Lee Leader", "manager", "lee@example.org").await;
    let leader_id = str_at(&leader, "id");
    let path = format!("/api/v1/users/{officer_id}/team-leader");
    let set = |team_leader: Value, token: String| {
        let app = &app;
        let path = path.clone();
        async move {
            let r = app
                .send(
                    Method::PUT,
                    &path,
                    Some(&token),
                    Body::Json(json!({"team_leader": team_leader})),
                    &[],
                )
                .await;
            (r.status, r.json)
        }
    };
    let (status, body) = set(json!(leader_id), str_at(&officer, "token")).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = set(json!("nobody"), app.admin_token.clone()).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = set(json!(leader_id), app.admin_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"id": officer_id, "team_leader": leader_id}));
    let (status, body) = app.get(&path, &app.admin_token).await;
    assert_eq!(
        (status, &body["team_leader"]),
        (StatusCode::OK, &json!(leader_id))
    );
    let view = app
        .log_complaint(&app.admin_token, breached_complaint())
        .await;
    let id = str_at(&view, "id");
    let reference = str_at(&view, "reference");
    app.act_ok(
        &app.admin_token,
        &id,
        "assign",
        json!({"owner_id": officer_id}),
    )
    .await;
    // The alert may go out before the case has an owner; the resolution this late
    // acknowledgement brings goes out after, so the owner hears of one of them.
    eventually("the alert", || async {
        alerts_raised(&app, &id).await >= 1
    })
    .await;
    app.act_ok(&app.admin_token, &id, "acknowledge", json!({}))
        .await;
    let (recipients, data) = tokio::time::timeout(Duration::from_secs(20), mail.recv())
        .await
        .expect("an email within 20 s")
        .unwrap();
    // One message to the owner, copied to the team leader.
    let mut recipients = recipients;
    recipients.sort();
    assert_eq!(recipients, ["<lee@example.org>", "<olu@example.org>"]);
    assert!(
        data.contains("Cc: lee@example.org") || data.contains("Cc: <lee@example.org>"),
        "{data}"
    );
    assert!(data.contains(&reference), "{data}");
    assert!(data.contains("acknowledge"), "{data}");
}

/// A receiver that never answers the first request (the instance sending it is killed
/// meanwhile) and answers every later one with 200; each request's body is passed on.
async fn stalling_receiver() -> (String, mpsc::UnboundedReceiver<Bytes>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let tx = tx.clone();
            let seen = seen.clone();
            async move {
                let _ = tx.send(body);
                if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), rx)
}

/// Subscribes `url` to SLA alerts; returns the webhook as created.
async fn subscribe(app: &TestApp, url: &str) -> Value {
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            &app.admin_token,
            json!({"url": url, "secret": "a-long-shared-secret-for-tests", "events": ["SlaAlertRaised"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    hook
}

/// A webhook receiver that takes its time holds no writer: commands are written while a
/// delivery waits on it. (On SQLite the one writer connection was held through each
/// batch's attempts, so every command waited for the receiver, up to its timeout, and past
/// the store's acquire timeout was refused.)
async fn commands_beside_a_stalled_delivery(backend: Backend) {
    let app = watched_app(backend, |config| config.db_acquire_timeout_ms = 2_000).await;
    let (url, mut received) = stalling_receiver().await;
    subscribe(&app, &url).await;
    let view = app
        .log_complaint(&app.admin_token, breached_complaint())
        .await;
    let id = str_at(&view, "id");
    tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("a delivery within 20 s")
        .unwrap();
    // The receiver holds that delivery (for the deliverer's 10 s timeout); meanwhile:
    app.act_ok(
        &app.admin_token,
        &id,
        "notes",
        json!({"text": "written while the receiver stalls"}),
    )
    .await;
    let (status, body) = app
        .post("/api/v1/complaints", &app.admin_token, valid_complaint())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Two instances on one store: while one holds a webhook delivery (its receiver has not
/// answered), the other does not send it too. (On SQLite a batch is recorded after it is
/// sent, not claimed, so this rests on the one delivering process per file.)
async fn one_sender_at_a_time(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (url, mut received) = stalling_receiver().await;
    subscribe(&app, &url).await;
    let (token, database) = (app.admin_token.clone(), app.database_url());
    app.stop().await;
    let program = env!("CARGO_BIN_EXE_casefile-test-server");
    let first = Process::start(program, &database, &token).await;
    let second = Process::start(program, &database, &token).await;
    let (status, view) = second
        .post("/api/v1/complaints", &token, &breached_complaint())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("a delivery within 20 s")
        .unwrap();
    // Both deliver a round a second; the receiver holds the first request for 10 s.
    let again = tokio::time::timeout(Duration::from_secs(5), received.recv()).await;
    assert!(again.is_err(), "sent again while held: {again:?}");
    first.kill().await;
    second.kill().await;
}

/// The instance delivering is killed with SIGKILL while the receiver holds its request; the
/// next instance delivers the same notification, and it is recorded delivered once.
async fn delivery_survives_kill(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (url, mut received) = stalling_receiver().await;
    let hook = subscribe(&app, &url).await;
    let hook_id = str_at(&hook, "id");
    let (token, database) = (app.admin_token.clone(), app.database_url());
    // From here on only the processes deliver.
    app.stop().await;
    let program = env!("CARGO_BIN_EXE_casefile-test-server");
    // The processes run with the watchdog on (the default interval), as in production.
    let process = Process::start(program, &database, &token).await;
    let (status, view) = process
        .post("/api/v1/complaints", &token, &breached_complaint())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let id = str_at(&view, "id");
    let first = tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("a delivery within 20 s")
        .unwrap();
    process.kill().await;

    let process = Process::start(program, &database, &token).await;
    let second = tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("the delivery again within 20 s")
        .unwrap();
    assert_eq!(first, second, "the same notification");
    let path = format!("/api/v1/webhooks/{hook_id}/deliveries");
    eventually("the delivery recorded", || async {
        let (_, deliveries) = process.get(&path, &token).await;
        deliveries[0]["delivered_at"].is_string()
    })
    .await;
    let (_, deliveries) = process.get(&path, &token).await;
    assert_eq!(deliveries.as_array().map(Vec::len), Some(1), "{deliveries}");
    // The killed attempt never finished, so it was never recorded.
    assert_eq!(deliveries[0]["attempts"], 1, "{deliveries}");
    assert_eq!(deliveries[0]["history"][0]["status"], 200);
    let (_, history) = process
        .get(&format!("/api/v1/complaints/{id}/history"), &token)
        .await;
    let alerts = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "SlaAlertRaised")
        .count();
    assert_eq!(alerts, 1, "{history}");
    process.kill().await;
}
