//! Letters and the ombudsman bundle on the case page: a letter the case is not ready for
//! refused in place, one it is ready for issued and shown word for word as the API has it,
//! and the bundle downloaded byte for byte as the API sends it, for the roles allowed.

use casefile_tests::{spawn_app, str_at, valid_complaint, Backend, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::driver::Browser;
use crate::journeys::{sign_in, sign_out, web_user, PASSWORD};

/// Fetches a link of the page as the signed-in browser: `[status, content type, content
/// disposition, SHA-256 of the body in hex]`.
async fn fetch_digest(browser: &Browser, css: &str) -> Vec<Value> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        fetch(document.querySelector(arguments[0]).href)
          .then(r => r.arrayBuffer().then(b => crypto.subtle.digest('SHA-256', b)).then(d =>
              done([r.status, r.headers.get('content-type'), r.headers.get('content-disposition'),
                    Array.from(new Uint8Array(d)).map(x => x.toString(16).padStart(2, '0')).join('')])))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_issues_a_letter_and_downloads_the_bundle() {
    let app = spawn_app(Backend::Sqlite).await;
    web_user(&app, "Mo Manager", &["manager"], "mo@example.org").await;
    web_user(&app, "Olu Officer", &["officer"], "olu@example.org").await;
    let view = app.log_complaint(&app.admin_token, valid_complaint()).await;
    let id = str_at(&view, "id");
    let reference = str_at(&view, "reference");

    let browser = Browser::start(&app.address).await;
    sign_in(&browser, "mo@example.org", PASSWORD).await;
    browser.goto(&format!("/cases/{id}")).await;
    assert!(browser
        .text("#letters-heading + p")
        .await
        .contains("No letter issued yet"));

    // A Stage 1 response letter before any response: refused in place, nothing recorded.
    browser.toggle("#action-letters summary").await;
    browser.choose("#letters-kind", "stage1_response").await;
    browser.click("#action-letters button[type=submit]").await;
    let problem = browser.text("#letters-problem").await;
    assert!(
        problem.contains("This letter does not fit the case yet"),
        "{problem}"
    );
    assert!(
        browser
            .exists(".error-summary a[href='#letters-problem']")
            .await
    );
    browser.check_page("case-letter-refused").await;
    let events = app.event_types(&id).await;
    assert!(!events.contains(&"LetterIssued".to_string()), "{events:?}");

    // Acknowledged, the acknowledgement letter is issued and shown as the API keeps it.
    app.act_ok(&app.admin_token, &id, "acknowledge", json!({}))
        .await;
    browser.goto(&format!("/cases/{id}")).await;
    browser.toggle("#action-letters summary").await;
    browser.choose("#letters-kind", "acknowledgement").await;
    browser.click("#action-letters button[type=submit]").await;
    let path = browser.path().await;
    let prefix = format!("/cases/{id}/letters/");
    assert!(
        path.starts_with(&prefix) && path.ends_with("?done=issued"),
        "{path}"
    );
    let letter_id = path[prefix.len()..path.len() - "?done=issued".len()].to_string();
    let (status, letter) = app
        .get(
            &format!("/api/v1/complaints/{id}/letters/{letter_id}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{letter}");
    assert_eq!(letter["kind"], json!("acknowledgement"));
    assert_eq!(letter["issued_by"]["name"], json!("Mo Manager"));
    assert_eq!(browser.text("h1").await, str_at(&letter, "subject"));
    let shown = browser
        .client()
        .execute(
            "return document.querySelector('#letter-text').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, letter["text"]);
    assert!(browser
        .text(".notice")
        .await
        .contains("The letter is issued"));
    browser.check_page("letter").await;
    // Its own HTML, to print, is the letter's HTML as issued.
    let html = crate::reports::fetch_link(&browser, "#letter-html").await;
    assert_eq!(html[0], json!(200));
    assert_eq!(html[1], json!("text/html; charset=utf-8"));
    assert_eq!(html[3], letter["html"]);

    // The case lists it, as correspondence too.
    browser.click("a[href$='#letters-heading']").await;
    let listed = browser.text("#letter-list").await;
    assert!(listed.contains(&str_at(&letter, "subject")), "{listed}");
    assert!(
        browser
            .exists(&format!(
                "#letter-list a[href='/cases/{id}/letters/{letter_id}']"
            ))
            .await
    );

    // The bundle link sends exactly the API's bundle (the same case gives the same bytes).
    let bundle = fetch_digest(&browser, "#bundle-link").await;
    assert_eq!(bundle[0], json!(200));
    assert_eq!(bundle[1], json!("application/zip"));
    assert_eq!(
        bundle[2],
        json!(format!("attachment; filename=\"{reference}-bundle.zip\""))
    );
    let api = app
        .client
        .get(app.url(&format!("/api/v1/complaints/{id}/bundle")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let bytes = api.bytes().await.unwrap();
    assert_eq!(bundle[3], json!(hex::encode(Sha256::digest(&bytes))));
    browser.check_page("case-with-letter").await;

    // An officer issues letters but, as in the API, downloads no bundle.
    sign_out(&browser).await;
    sign_in(&browser, "olu@example.org", PASSWORD).await;
    browser.goto(&format!("/cases/{id}")).await;
    assert!(browser.exists("#action-letters").await);
    assert!(!browser.exists("#bundle-link").await);
    browser.goto(&format!("/cases/{id}/bundle")).await;
    assert_eq!(browser.text("h1").await, "You cannot do this");
    browser.close().await;
}
