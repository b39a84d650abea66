//! The dashboard and the work queue: a figure is a link to the cases it counts, and a
//! complaint logged through the pages shows in both.

use casefile_tests::{spawn_app, str_at, Backend};

use crate::driver::Browser;
use crate::journeys::{sign_in, web_user, PASSWORD};

/// Cases on one page of the queue page.
const PAGE_SIZE: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_logged_in_the_pages_adds_one_to_the_open_total_and_shows_in_the_queue() {
    let app = spawn_app(Backend::Sqlite).await;
    web_user(&app, "Olu Officer", &["officer"], "olu@example.org").await;
    // A case already open for resident T-1042, logged through the API.
    let earlier = app.new_case().await;
    let earlier_reference = str_at(&app.case(&earlier).await, "reference");
    let browser = Browser::start(&app.address).await;
    sign_in(&browser, "olu@example.org", PASSWORD).await;
    assert_eq!(browser.path().await, "/");

    // The dashboard's open total is the API's.
    let (_, figures) = app.get("/api/v1/dashboard", &app.admin_token).await;
    let before = figures["open"]["total"]["count"].as_u64().unwrap();
    assert_eq!(before, 1);
    assert_eq!(browser.text("#open-total").await, before.to_string());
    browser.check_page("dashboard").await;

    // The intake page shows the resident's other cases before anything is typed.
    browser.click("a[href='/cases/new']").await;
    browser.fill("#lookup-resident-id", "T-1042").await;
    browser.click("#resident-lookup button[type=submit]").await;
    assert_eq!(browser.path().await, "/cases/new?resident_id=T-1042");
    let theirs = browser.text("#resident-cases").await;
    assert!(theirs.contains(&earlier_reference), "{theirs}");
    assert_eq!(
        browser
            .find("#intake-complainant-resident-id")
            .await
            .prop("value")
            .await
            .unwrap(),
        Some("T-1042".to_string())
    );
    browser.check_page("log-complaint-resident-cases").await;

    browser.choose("#intake-procedure", "chc-2024").await;
    browser
        .choose("#intake-division", "england-and-wales")
        .await;
    browser.choose("#intake-channel", "phone").await;
    browser
        .fill("#intake-complainant-name", "Alex Morgan")
        .await;
    browser
        .fill("#intake-summary", "Damp in the back bedroom")
        .await;
    browser
        .fill("#intake-description", "Black mould on two walls.")
        .await;
    browser
        .click("form[action='/cases'] button[type=submit]")
        .await;
    let path = browser.path().await;
    assert!(path.ends_with("?done=log"), "{path}");
    let id = path
        .trim_start_matches("/cases/")
        .trim_end_matches("?done=log")
        .to_string();
    let reference = str_at(&app.case(&id).await, "reference");
    // After logging, the case page lists the resident's earlier case and not itself.
    let others = browser.text("#resident-cases").await;
    assert!(others.contains(&earlier_reference), "{others}");
    assert!(!others.contains(&reference), "{others}");

    // The open total went up by one, as the API counts it too.
    browser.click("a[href='/']").await;
    assert_eq!(browser.text("#open-total").await, (before + 1).to_string());
    let (_, figures) = app.get("/api/v1/dashboard", &app.admin_token).await;
    assert_eq!(figures["open"]["total"]["count"].as_u64(), Some(before + 1));

    // The figure opens the queue of exactly those cases.
    browser.click("#open-total-link").await;
    assert_eq!(browser.path().await, "/cases?status=open");
    assert_eq!(browser.text("#queue-total").await, (before + 1).to_string());
    let listed = browser.text("#queue-results").await;
    assert!(listed.contains(&reference), "{listed}");
    assert!(listed.contains("Damp in the back bedroom"), "{listed}");
    // SLA states read as words beside their icon, not by colour alone.
    assert!(listed.contains("On track"), "{listed}");
    browser.check_page("queue").await;

    // The search box narrows the queue to the new case.
    browser.fill("#queue-q", "back bedroom").await;
    browser.click("#queue-filters button[type=submit]").await;
    assert_eq!(browser.text("#queue-total").await, "1");
    assert!(browser.path().await.contains("q=back+bedroom"));
    assert!(browser.text("#queue-results").await.contains(&reference));
    browser.check_page("queue-searched").await;

    // Nobody owns a case yet, so "my cases" is empty.
    browser.goto("/cases?owner=me").await;
    assert_eq!(browser.text("#queue-total").await, "0");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_pages_on_with_a_next_link_that_keeps_the_filters() {
    let app = spawn_app(Backend::Sqlite).await;
    web_user(&app, "Ada Advisor", &["advisor"], "ada@example.org").await;
    let mut ids = Vec::new();
    for _ in 0..=PAGE_SIZE {
        ids.push(app.new_case().await);
    }
    let browser = Browser::start(&app.address).await;
    sign_in(&browser, "ada@example.org", PASSWORD).await;

    browser.goto("/cases?status=open&sort=received").await;
    assert_eq!(browser.text("#queue-total").await, ids.len().to_string());
    let rows = browser
        .client()
        .find_all(fantoccini::Locator::Css("#queue-results tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), PAGE_SIZE);
    browser.click("a[rel='next']").await;
    let path = browser.path().await;
    assert!(
        path.starts_with("/cases?status=open&sort=received&cursor="),
        "{path}"
    );
    let rows = browser
        .client()
        .find_all(fantoccini::Locator::Css("#queue-results tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), ids.len() - PAGE_SIZE);
    assert!(!browser.exists("a[rel='next']").await);
    browser.check_page("queue-second-page").await;
    browser.click("a[rel='prev']").await;
    assert_eq!(browser.path().await, "/cases?status=open&sort=received");
    browser.close().await;
}
