//! The administrator's emails page: an email the mail server refused for good is shown
//! given up with the server's reply, and its button puts it back in the queue, from which
//! it is tried again.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use casefile_tests::smtp::{mail_server_going_up, NotUp};
use casefile_tests::{
    backdated_complaint, days_ago, eventually, spawn_app_with, str_at, Backend, TestApp,
};
use serde_json::{json, Value};

use crate::driver::Browser;
use crate::journeys::{sign_in, web_user, PASSWORD};

async fn given_up(app: &TestApp) -> Vec<Value> {
    let (_, body) = app
        .get("/api/v1/emails?state=failed", &app.admin_token)
        .await;
    body.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_up_email_is_shown_with_the_server_s_reply_and_sent_again_from_the_page() {
    let (url, _mail, _) =
        mail_server_going_up(Arc::new(AtomicBool::new(true)), NotUp::Closes).await;
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.smtp_url = Some(url);
        config.watchdog_interval_secs = 60;
    })
    .await;
    // A case owner whose mailbox no longer exists (the server answers 550), and a case of
    // theirs whose acknowledgement is long overdue: its alert, once acknowledged, is
    // resolved, and that is emailed to them.
    let owner = web_user(&app, "Gil Gone", &["officer"], "gone@example.org").await;
    web_user(&app, "Ada Admin", &["admin"], "ada@example.org").await;
    let view = app
        .log_complaint(
            &app.admin_token,
            backdated_complaint("chc-2024", "england-and-wales", &days_ago(60)),
        )
        .await;
    let id = str_at(&view, "id");
    let reference = str_at(&view, "reference");
    app.act_ok(&app.admin_token, &id, "assign", json!({"owner_id": owner}))
        .await;
    eventually("the alert", || async {
        app.event_types(&id)
            .await
            .iter()
            .any(|t| t == "SlaAlertRaised")
    })
    .await;
    app.act_ok(&app.admin_token, &id, "acknowledge", json!({}))
        .await;
    eventually("an email given up", || async {
        !given_up(&app).await.is_empty()
    })
    .await;
    let email = given_up(&app).await[0].clone();
    let email_id = email["id"].as_i64().unwrap();

    let browser = Browser::start(&app.address).await;
    sign_in(&browser, "ada@example.org", PASSWORD).await;
    browser.click("a[href='/admin/emails']").await;
    assert_eq!(browser.path().await, "/admin/emails");
    let row = browser.text(&format!("#email-{email_id}")).await;
    assert!(row.contains(&reference), "{row}");
    assert!(row.contains("gone@example.org"), "{row}");
    assert!(row.contains("Given up"), "{row}");
    assert!(row.contains("550"), "{row}");
    browser.check_page("admin-emails").await;

    browser.click("a[href='/admin/emails?state=failed']").await;
    assert_eq!(browser.path().await, "/admin/emails?state=failed");
    browser
        .click(&format!(
            "form[action='/admin/emails/{email_id}/retry'] button"
        ))
        .await;
    assert_eq!(
        browser.path().await,
        "/admin/emails?state=waiting&requeued=1"
    );
    assert!(browser
        .text("main")
        .await
        .contains("1 email went back in the queue."));
    browser.check_page("admin-emails-requeued").await;

    // A test email, taken; one refused, with the server's reply; an address that is none.
    browser.fill("#test-to", "kit@example.org").await;
    browser
        .click("form[action='/admin/emails/test'] button")
        .await;
    assert!(browser
        .text(".notice")
        .await
        .contains("The mail server took a test email for kit@example.org."));
    browser.fill("#test-to", "gone@example.org").await;
    browser
        .click("form[action='/admin/emails/test'] button")
        .await;
    let problem = browser.text("#test-problem").await;
    assert!(
        problem.contains("gone@example.org") && problem.contains("550"),
        "{problem}"
    );
    browser.check_page("admin-emails-test-refused").await;
    browser.fill("#test-to", "nobody").await;
    browser
        .click("form[action='/admin/emails/test'] button")
        .await;
    assert!(browser
        .text("#test-to-error")
        .await
        .contains("Enter an email address"));
    browser.check_page("admin-emails-test-invalid").await;

    // Tried again, and given up again: the mailbox is still gone.
    let before = str_at(&email, "gave_up_at");
    eventually("the email tried again", || async {
        given_up(&app)
            .await
            .iter()
            .any(|e| e["id"] == email["id"] && e["gave_up_at"].as_str() > Some(before.as_str()))
    })
    .await;
    browser.close().await;
}
