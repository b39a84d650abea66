//! The SLA watchdog: a breached step raises one `SlaAlertRaised` however many instances
//! scan and restart; the alert is listed until resolved; webhook deliveries are signed with
//! HMAC-SHA256 (checked here with the `hmac` crate) and every attempt is recorded.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use casefile_tests::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

both_backends! {
    a_breached_case_gets_exactly_one_alert_across_two_instances_and_a_restart => one_alert,
    a_webhook_receives_the_alert_signed_with_its_secret => signed_webhook,
    alerts_and_webhooks_check_roles_and_input => roles_and_input,
}

/// A chc-2024 complaint received 60 days ago and never acknowledged: its acknowledgement
/// (5 working days) is breached whatever the holidays.
fn breached_complaint() -> serde_json::Value {
    backdated_complaint("chc-2024", "england-and-wales", &days_ago(60))
}

/// Polls `check` every 100 ms for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
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
    let app = spawn_app(backend).await;
    let sibling = app.sibling().await;
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
    let restarted = app.sibling().await;
    kick(&restarted, &id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(alerts_raised(&app, &id).await, 1);

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
    let app = spawn_app(backend).await;
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
