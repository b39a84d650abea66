//! The reports pages: KPI, TSM and self-assessment as tables and charts with the figures
//! worked out by hand from a small year, CSV downloads identical to the API's, a period
//! that runs backwards refused on its field, and no reports for a role the API refuses.

use casefile_tests::{backdated_complaint, merge, stage_response, str_at, Body, TestApp};
use casefile_tests::{spawn_app, Backend, StatusCode};
use reqwest::Method;
use serde_json::{json, Value};

use crate::driver::Browser;
use crate::journeys::{sign_in, sign_out, web_user, PASSWORD};

/// A complaint received on `received_on` (England and Wales) of `tenure`; its reference.
async fn case_with_tenure(app: &TestApp, received_on: &str, tenure: &str) -> (String, String) {
    let view = app
        .log_complaint(
            &app.admin_token,
            backdated_complaint("chc-2024", "england-and-wales", received_on),
        )
        .await;
    let id = str_at(&view, "id");
    app.act_ok(
        &app.admin_token,
        &id,
        "tenure",
        json!({"tenure": tenure, "occurred_at": format!("{received_on}T09:30:00Z")}),
    )
    .await;
    (id, str_at(&view, "reference"))
}

async fn acknowledge_and_respond(app: &TestApp, id: &str, acknowledged: &str, responded: &str) {
    let token = app.admin_token.clone();
    app.act_ok(
        &token,
        id,
        "acknowledge",
        json!({"occurred_at": format!("{acknowledged}T10:00:00Z")}),
    )
    .await;
    app.act_ok(
        &token,
        id,
        "stage1-response",
        merge(
            stage_response("upheld"),
            json!({"occurred_at": format!("{responded}T15:00:00Z")}),
        ),
    )
    .await;
}

/// Sets a form field's value directly: typing into a date input depends on the browser's
/// locale, the value it submits does not.
pub async fn set_value(browser: &Browser, css: &str, value: &str) {
    browser
        .client()
        .execute(
            "document.querySelector(arguments[0]).value = arguments[1]",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap_or_else(|e| panic!("set `{css}`: {e}"));
}

/// Fetches a link of the page as the signed-in browser: `[status, content type,
/// content disposition, body]`.
pub async fn fetch_link(browser: &Browser, css: &str) -> Vec<Value> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        fetch(document.querySelector(arguments[0]).href)
          .then(r => r.text().then(t => done([r.status, r.headers.get('content-type'),
                                              r.headers.get('content-disposition'), t])))
          .catch(e => done([0, null, null, String(e)]));
    "#;
    match browser
        .client()
        .execute_async(script, vec![json!(css)])
        .await
        .expect("fetch a link")
    {
        Value::Array(parts) => parts,
        other => panic!("fetching `{css}` gave {other}"),
    }
}

/// The API's CSV of a report, as the compliance user reads it.
async fn api_csv(app: &TestApp, token: &str, path: &str) -> String {
    let r = app
        .send(Method::GET, path, Some(token), Body::None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    r.text
}

/// The text of each row of a table, cells joined by single spaces.
async fn rows(browser: &Browser, table: &str) -> Vec<String> {
    let script = "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))\
                  .map(r => Array.from(r.cells).map(c => c.textContent.trim()).join(' '))";
    let found = browser
        .client()
        .execute(script, vec![json!(table)])
        .await
        .expect("the table's rows");
    serde_json::from_value(found).expect("rows of text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_reads_the_reports_as_tables_charts_and_the_apis_csv() {
    let app = spawn_app(Backend::Sqlite).await;
    web_user(&app, "Cat Compliance", &["compliance"], "cat@example.org").await;
    web_user(&app, "Olu Officer", &["officer"], "olu@example.org").await;
    let (_, token) = app.create_user("Cat's token", &["compliance"]).await;
    let homes = json!({"year": "2025-26", "lcra": 12500, "lcho": 900});
    let r = app
        .send(
            Method::PUT,
            "/api/v1/organisation/homes",
            Some(&app.admin_token),
            Body::Json(homes),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A: LCRA, received and acknowledged Thu 1 May 2025, answered Thu 8 May; due Fri 16
    //    May (10 working days from the acknowledgement, less the 5 May bank holiday): in time.
    let (a, _) = case_with_tenure(&app, "2025-05-01", "lcra").await;
    acknowledge_and_respond(&app, &a, "2025-05-01", "2025-05-08").await;
    // B: LCRA, received and acknowledged Mon 2 June 2025, due Mon 16 June, answered Mon 30
    //    June: late.
    let (b, b_ref) = case_with_tenure(&app, "2025-06-02", "lcra").await;
    acknowledge_and_respond(&app, &b, "2025-06-02", "2025-06-30").await;
    // C: LCHO, received Tue 1 July 2025, never acknowledged.
    case_with_tenure(&app, "2025-07-01", "lcho").await;

    let browser = Browser::start(&app.address).await;
    sign_in(&browser, "cat@example.org", PASSWORD).await;
    browser.click("nav a[href='/reports']").await;
    assert_eq!(browser.text("h1").await, "Reports");
    browser.check_page("reports").await;

    // KPI for April to June 2025: A and B received, both acknowledged the day they came
    // in (2 of 2 on time), both answered at Stage 1 (A in time, B late: 1 of 2), both
    // upheld.
    browser.click(".report-list a[href^='/reports/kpi']").await;
    set_value(&browser, "#kpi-from", "2025-04-01").await;
    set_value(&browser, "#kpi-to", "2025-06-30").await;
    browser.click("#kpi-form button[type=submit]").await;
    assert_eq!(
        browser.path().await,
        "/reports/kpi?from=2025-04-01&to=2025-06-30"
    );
    let received = rows(&browser, "#kpi-received").await;
    assert!(
        received.contains(&"Stage 1 complaints 2".to_string()),
        "{received:?}"
    );
    assert!(
        received.contains(&"Stage 2 requests 0".to_string()),
        "{received:?}"
    );
    let timeliness = rows(&browser, "#kpi-timeliness").await;
    assert_eq!(
        timeliness,
        vec![
            "Acknowledged within 5 working days 2 2 100.00%",
            "Stage 1 responses on time 1 2 50.00%",
            "Stage 2 responses on time 0 0 No figure",
            "Stage 1 responses since escalated 0 2 0.00%",
        ]
    );
    assert_eq!(
        rows(&browser, "#kpi-outcomes").await,
        vec!["Stage 1 2 0 0", "Stage 2 0 0 0"]
    );
    // The chart's text alternative reads the same figures.
    let alternative = browser.text("#timeliness-chart figcaption").await;
    assert!(alternative.contains("The same figures are in the table"));
    let title = browser
        .client()
        .execute(
            "return document.querySelector('#timeliness-chart svg title').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        title,
        json!(
            "Bar chart, Done within the Code's timescales, per cent: Acknowledged: 100.00%; \
             Stage 1 responses: 50.00%; Stage 2 responses: No figure; \
             Escalated after Stage 1: 0.00%"
        )
    );
    browser.check_page("report-kpi").await;
    // The CSV link downloads exactly what the API serves.
    let csv = fetch_link(&browser, "#kpi-csv").await;
    assert_eq!(csv[0], json!(200));
    assert_eq!(csv[1], json!("text/csv; charset=utf-8"));
    assert_eq!(
        csv[2],
        json!("attachment; filename=\"kpi-2025-04-01-to-2025-06-30.csv\"")
    );
    let api = api_csv(
        &app,
        &token,
        "/api/v1/reports/kpi?from=2025-04-01&to=2025-06-30&format=csv",
    )
    .await;
    assert_eq!(csv[3], json!(api));

    // A period that ends before it starts is refused on the field that is wrong.
    set_value(&browser, "#kpi-from", "2025-07-01").await;
    browser.click("#kpi-form button[type=submit]").await;
    assert!(browser
        .text("#kpi-to-error")
        .await
        .contains("The last day must be the same as or after the first day"));
    assert_eq!(
        browser
            .find("#kpi-to")
            .await
            .attr("aria-describedby")
            .await
            .unwrap(),
        Some("kpi-to-error".to_string())
    );
    assert!(browser.exists(".error-summary a[href='#kpi-to']").await);
    assert!(!browser.exists("#kpi-csv").await);
    browser.check_page("report-kpi-error").await;

    // TSM 2025-26: CH01 Stage 1 LCRA is A and B per 12,500 homes: 2 × 1000 / 12500 =
    // 0.16; LCHO is C per 900: 1.11. CH02 Stage 1 LCRA: A in time of 2, 50%; nothing
    // answered for LCHO, so no figure.
    browser.click(".sub-nav a[href='/reports/tsm']").await;
    browser.choose("#tsm-year", "2025-26").await;
    browser.click("#tsm-form button[type=submit]").await;
    assert_eq!(browser.path().await, "/reports/tsm?year=2025-26");
    let measures = rows(&browser, "#tsm-measures").await;
    assert_eq!(measures.len(), 8, "{measures:?}");
    for row in [
        "CH01 Complaints received per 1,000 homes Stage 1 Low-cost rental 0.16 2 12500",
        "CH01 Complaints received per 1,000 homes Stage 1 Low-cost home ownership 1.11 1 900",
        "CH02 Complaints responded to within the Code's timescales Stage 1 Low-cost rental 50.00% 1 2",
        "CH02 Complaints responded to within the Code's timescales Stage 1 Low-cost home ownership No figure 0 0",
    ] {
        assert!(measures.contains(&row.to_string()), "{row}: {measures:?}");
    }
    browser.check_page("report-tsm").await;
    let csv = fetch_link(&browser, "#tsm-csv").await;
    let api = api_csv(&app, &token, "/api/v1/reports/tsm?year=2025-26&format=csv").await;
    assert_eq!(csv[3], json!(api));
    assert_eq!(csv[2], json!("attachment; filename=\"tsm-2025-26.csv\""));

    // Self-assessment 2025-26: 6.3 (Stage 1 response within 10 working days) is met by A
    // and not by B.
    browser
        .click(".sub-nav a[href='/reports/self-assessment']")
        .await;
    browser.choose("#self-assessment-year", "2025-26").await;
    browser
        .click("#self-assessment-form button[type=submit]")
        .await;
    let provisions = rows(&browser, "#self-assessment-rows").await;
    let stage1 = provisions
        .iter()
        .find(|r| r.starts_with("6.3 "))
        .unwrap_or_else(|| panic!("no 6.3: {provisions:?}"));
    assert!(
        stage1.ends_with(&format!(" 1 2 50.00% ✗ No {b_ref}")),
        "{stage1}"
    );
    // Each reference falling short opens the queue searched for it.
    assert!(
        browser
            .exists(&format!("#self-assessment-rows a[href='/cases?q={b_ref}']"))
            .await
    );
    browser.check_page("report-self-assessment").await;
    let csv = fetch_link(&browser, "#self-assessment-csv").await;
    let api = api_csv(
        &app,
        &token,
        "/api/v1/reports/self-assessment?year=2025-26&format=csv",
    )
    .await;
    assert_eq!(csv[3], json!(api));

    // An officer has no reports, in the menu or by address, as in the API.
    sign_out(&browser).await;
    sign_in(&browser, "olu@example.org", PASSWORD).await;
    assert!(!browser.exists("nav a[href='/reports']").await);
    browser.goto("/reports/kpi").await;
    assert_eq!(browser.text("h1").await, "You cannot do this");
    browser.close().await;
}
