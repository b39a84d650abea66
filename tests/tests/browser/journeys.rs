//! Staff work a complaint through the pages: sign in, log it, acknowledge it, see a
//! refused command's message in place, and an administrator's pages.

use casefile_tests::{spawn_app, str_at, Backend, Body, StatusCode, TestApp};
use serde_json::json;

use crate::driver::Browser;

pub const PASSWORD: &str = "correct horse battery staple";

/// A user who signs in to the web app with `email` and [`PASSWORD`]; returns their id.
pub async fn web_user(app: &TestApp, name: &str, roles: &[&str], email: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": name, "roles": roles, "email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "POST /users {name}: {body}");
    assert_eq!(body["email"], json!(email));
    str_at(&body, "id")
}

pub async fn sign_in(browser: &Browser, email: &str, password: &str) {
    browser.goto("/sign-in").await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser
        .click("form[action='/sign-in'] button[type=submit]")
        .await;
}

pub async fn sign_out(browser: &Browser) {
    browser.click("form[action='/sign-out'] button").await;
    assert_eq!(browser.path().await, "/sign-in?done=signed-out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_logs_and_acknowledges_a_complaint_and_sees_a_refusal_in_place() {
    let app = spawn_app(Backend::Sqlite).await;
    web_user(&app, "Olu Officer", &["officer"], "olu@example.org").await;
    let browser = Browser::start(&app.address).await;

    // Signed out, the home page sends to sign-in and comes back afterwards.
    browser.goto("/").await;
    assert_eq!(browser.path().await, "/sign-in?next=%2F");
    browser.check_page("sign-in").await;
    browser.fill("#email", "Olu@Example.org").await;
    browser.fill("#password", PASSWORD).await;
    browser
        .click("form[action='/sign-in'] button[type=submit]")
        .await;
    assert_eq!(browser.path().await, "/");
    assert!(browser.text("header").await.contains("Olu Officer"));
    browser.check_page("home").await;

    // The intake form, first sent empty: each problem is tied to its field.
    browser.click("a[href='/cases/new']").await;
    browser.check_page("log-complaint").await;
    browser
        .click("form[action='/cases'] button[type=submit]")
        .await;
    assert!(browser
        .text("#intake-summary-error")
        .await
        .contains("Enter summary"));
    assert_eq!(
        browser
            .find("#intake-summary")
            .await
            .attr("aria-describedby")
            .await
            .unwrap(),
        Some("intake-summary-hint intake-summary-error".to_string())
    );
    assert!(
        browser
            .exists(".error-summary a[href='#intake-summary']")
            .await
    );
    browser.check_page("log-complaint-errors").await;

    browser.choose("#intake-procedure", "chc-2024").await;
    browser
        .choose("#intake-division", "england-and-wales")
        .await;
    browser.choose("#intake-channel", "email").await;
    browser
        .fill("#intake-complainant-name", "Alex Morgan")
        .await;
    browser
        .fill("#intake-complainant-resident-id", "T-1042")
        .await;
    browser
        .fill("#intake-summary", "Repeated boiler failure")
        .await;
    browser
        .fill("#intake-description", "No heating for three weeks.")
        .await;
    browser
        .click("form[action='/cases'] button[type=submit]")
        .await;
    let path = browser.path().await;
    assert!(
        path.starts_with("/cases/") && path.ends_with("?done=log"),
        "{path}"
    );
    let id = path
        .trim_start_matches("/cases/")
        .trim_end_matches("?done=log")
        .to_string();
    assert!(browser.text("h1").await.contains("Repeated boiler failure"));
    assert!(browser
        .text(".notice")
        .await
        .contains("The complaint is logged."));
    browser.check_page("case-logged").await;
    // The API sees the same case, logged by the officer.
    let view = app.case(&id).await;
    assert_eq!(view["complainant"]["name"], json!("Alex Morgan"));
    assert_eq!(view["status"], json!("open"));

    // Acknowledge it through its form.
    browser.toggle("#action-acknowledge summary").await;
    browser
        .click("#action-acknowledge button[type=submit]")
        .await;
    assert_eq!(
        browser.path().await,
        format!("/cases/{id}?done=acknowledge")
    );
    assert!(app.case(&id).await["acknowledged_on"].is_string());
    let timeline = browser.text(".timeline").await;
    assert!(timeline.contains("Acknowledged"), "{timeline}");
    let deadlines = browser.text("table").await;
    assert!(deadlines.contains("Acknowledgement"), "{deadlines}");
    assert!(deadlines.contains("Met"), "{deadlines}");
    browser.check_page("case-acknowledged").await;

    // Escalating before the Stage 1 response breaks a rule: its message shows in the form.
    browser.toggle("#action-escalate summary").await;
    browser
        .fill("#escalate-reason", "The resident is not satisfied.")
        .await;
    browser.click("#action-escalate button[type=submit]").await;
    let problem = browser.text("#escalate-problem").await;
    assert!(
        problem.contains("The complaint cannot be escalated before its Stage 1 response"),
        "{problem}"
    );
    assert_eq!(
        browser
            .find("#action-escalate")
            .await
            .attr("open")
            .await
            .unwrap(),
        Some("true".to_string())
    );
    // What was typed is still there to send again.
    assert_eq!(
        browser
            .find("#escalate-reason")
            .await
            .prop("value")
            .await
            .unwrap(),
        Some("The resident is not satisfied.".to_string())
    );
    assert!(browser
        .text(".error-summary")
        .await
        .contains("cannot be escalated"));
    browser.check_page("case-refused").await;
    assert_eq!(
        app.event_types(&id).await,
        vec!["Logged".to_string(), "Acknowledged".to_string()],
        "the refused command recorded nothing"
    );

    // The dashboard counts the case by stage, and the count opens the queue listing it.
    browser.click("a[href='/']").await;
    let by_stage = browser.text("#stage").await;
    assert!(by_stage.contains("Stage 1 1"), "{by_stage}");
    browser.check_page("home-with-a-case").await;
    browser
        .click("#stage a[href='/cases?status=open&stage=stage1']")
        .await;
    assert!(browser.exists(&format!("a[href='/cases/{id}']")).await);

    // An officer sees no administrator's page, in the menu or by address.
    assert!(!browser.exists("a[href='/admin/users']").await);
    browser.goto("/admin/users").await;
    assert_eq!(browser.text("h1").await, "You cannot do this");
    browser.check_page("forbidden").await;

    browser
        .goto(&format!("/cases/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(browser.text("h1").await, "Page not found");
    browser.check_page("not-found").await;

    browser.goto("/").await;
    sign_out(&browser).await;
    browser.check_page("signed-out").await;
    // Signed out, the case is out of reach.
    browser.goto(&format!("/cases/{id}")).await;
    assert!(browser.path().await.starts_with("/sign-in?next="));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sets_up_a_user_who_then_chooses_a_password_by_link() {
    let app = spawn_app(Backend::Sqlite).await;
    // The seeded administrator gets a sign-in email and password through the API.
    let r = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/users/admin",
            Some(&app.admin_token),
            Body::Json(json!({"email": "admin@example.org", "password": PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["has_password"], json!(true));
    let browser = Browser::start(&app.address).await;
    sign_in(&browser, "admin@example.org", PASSWORD).await;
    assert_eq!(browser.path().await, "/");

    // An administrator may do everything, so the case page has every command's form (the
    // sixteen of the actions list, the evidence upload and the letter);
    // opened all at once, each is checked.
    let id = app.new_case().await;
    browser.goto(&format!("/cases/{id}")).await;
    let forms = browser
        .client()
        .execute(
            "document.querySelectorAll('details.action').forEach(d => d.open = true); \
             return document.querySelectorAll('details.action form').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forms, json!(18));
    browser.check_page("case-every-action").await;

    browser.click("a[href='/admin/users']").await;
    browser.check_page("admin-users").await;
    // Create a reviewer without a password.
    browser.fill("#new-name", "Rae Reviewer").await;
    browser
        .find("#new-roles-reviewer")
        .await
        .click()
        .await
        .unwrap();
    browser.fill("#new-email", "rae@example.org").await;
    browser
        .click("form[action='/admin/users'] button[type=submit]")
        .await;
    assert!(browser.path().await.ends_with("?done=created"));
    assert_eq!(browser.text("h1").await, "Rae Reviewer");
    browser.check_page("admin-user").await;

    browser.click("form[action$='/password-link'] button").await;
    let link = browser.text(".link-text").await;
    assert!(link.contains("/set-password?token="), "{link}");
    browser.check_page("admin-user-link").await;
    sign_out(&browser).await;

    // The reviewer follows the link and chooses a password; the link then stops working.
    let path = link[link.find("/set-password").unwrap()..].to_string();
    browser.goto(&path).await;
    browser.check_page("set-password").await;
    browser.fill("#password", "a new long password").await;
    browser.fill("#confirm", "a new long password").await;
    browser.click("form[action='/set-password'] button").await;
    assert_eq!(browser.path().await, "/sign-in?done=password");
    sign_in(&browser, "rae@example.org", "a new long password").await;
    assert_eq!(browser.path().await, "/");
    assert!(browser.text("header").await.contains("Rae Reviewer"));
    sign_out(&browser).await;
    browser.goto(&path).await;
    assert!(browser
        .text("main")
        .await
        .contains("This link does not work any more"));
    browser.check_page("set-password-used").await;
    browser.close().await;
}
