//! Evidence, the chain check and the case as of a moment, on the case page: an upload
//! refused in place for each of the API's reasons, then stored and downloaded whole; the
//! chain found intact, then broken where a payload was altered; the case as it stood
//! before and after a command, and before it existed.

use std::time::Duration;

use casefile_tests::{spawn_app_with, str_at, valid_complaint, Backend};
use chrono::{SubsecRound, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::driver::Browser;
use crate::journeys::{sign_in, web_user, PASSWORD};
use crate::reports::{fetch_link, set_value};

/// The evidence limit of this test's service, small enough to pass with a small file.
const LIMIT: usize = 4096;

/// Writes `content` to a fresh file called `name` and chooses it in the upload form.
async fn choose_file(browser: &Browser, name: &str, content: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("casefile-upload-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    browser
        .find("#evidence-file")
        .await
        .send_keys(&path.display().to_string())
        .await
        .expect("choose a file");
    path
}

async fn upload(browser: &Browser) {
    browser
        .click("form[action$='/evidence'] button[type=submit]")
        .await;
}

async fn file_error(browser: &Browser) -> String {
    let error = browser.text("#evidence-file-error").await;
    let described = browser
        .find("#evidence-file")
        .await
        .attr("aria-describedby")
        .await
        .unwrap();
    assert_eq!(
        described,
        Some("evidence-file-hint evidence-file-error".to_string())
    );
    assert!(
        browser
            .exists(".error-summary a[href='#evidence-file']")
            .await
    );
    error.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_uploads_evidence_checks_the_chain_and_reads_the_case_as_it_stood() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.evidence_limit_bytes = LIMIT;
    })
    .await;
    web_user(&app, "Mo Manager", &["manager"], "mo@example.org").await;
    let view = app.log_complaint(&app.admin_token, valid_complaint()).await;
    let id = str_at(&view, "id");
    // A moment after the case was logged and before it is acknowledged, to the second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let between = Utc::now().trunc_subsecs(0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.act_ok(&app.admin_token, &id, "acknowledge", json!({}))
        .await;

    let browser = Browser::start(&app.address).await;
    sign_in(&browser, "mo@example.org", PASSWORD).await;
    browser.goto(&format!("/cases/{id}")).await;
    assert!(browser
        .text("#evidence-heading + p")
        .await
        .contains("No evidence yet"));

    // Sent without a file.
    browser.toggle("#action-evidence summary").await;
    upload(&browser).await;
    assert_eq!(file_error(&browser).await, "Error: Choose a file to upload");
    browser.check_page("case-evidence-no-file").await;

    // A file of a kind the API refuses, with its message.
    let zip = choose_file(&browser, "photos.zip", b"PK\x03\x04 not really a zip").await;
    upload(&browser).await;
    assert_eq!(
        file_error(&browser).await,
        "Error: Evidence files must be PDF, JPEG, PNG, GIF, WebP, plain text, Word (docx), \
         Excel (xlsx) or a saved e-mail (msg, eml)"
    );

    // One byte over the limit.
    let big = choose_file(&browser, "big.txt", &vec![b'x'; LIMIT + 1]).await;
    browser
        .fill("#evidence-description", "Too long a log")
        .await;
    upload(&browser).await;
    assert_eq!(
        file_error(&browser).await,
        "Error: The request body is larger than the server accepts: choose a file of 4 KB or less"
    );
    // What was typed is kept to send again.
    assert_eq!(
        browser
            .find("#evidence-description")
            .await
            .prop("value")
            .await
            .unwrap(),
        Some("Too long a log".to_string())
    );
    browser.check_page("case-evidence-too-large").await;
    assert_eq!(
        app.event_types(&id).await,
        vec!["Logged", "Defined", "Acknowledged"],
        "nothing refused was recorded"
    );

    // A file within the limit is stored, listed and downloads whole.
    let content = b"Damp readings: bedroom 28%, hall 19%.\n".repeat(20);
    let report = choose_file(&browser, "damp-readings.txt", &content).await;
    browser
        .fill("#evidence-description", "Readings of the damp")
        .await;
    upload(&browser).await;
    assert_eq!(browser.path().await, format!("/cases/{id}?done=evidence"));
    assert!(browser
        .text(".notice")
        .await
        .contains("The evidence file is stored"));
    let listed = browser.text("#evidence-list").await;
    assert!(listed.contains("Download damp-readings.txt"), "{listed}");
    assert!(listed.contains("Readings of the damp"), "{listed}");
    let sha256 = hex::encode(Sha256::digest(&content));
    assert!(listed.contains(&sha256), "{listed}");
    let evidence = &app.case(&id).await["evidence"][0];
    assert_eq!(evidence["sha256"], json!(sha256));
    assert_eq!(evidence["size_bytes"], json!(content.len()));
    assert_eq!(evidence["media_type"], json!("text/plain"));
    let download = fetch_link(&browser, "#evidence-list a").await;
    assert_eq!(download[0], json!(200));
    assert_eq!(download[1], json!("text/plain"));
    assert_eq!(
        download[2],
        json!("attachment; filename=\"damp-readings.txt\"; filename*=UTF-8''damp-readings.txt")
    );
    assert_eq!(
        download[3],
        json!(String::from_utf8(content.clone()).unwrap())
    );
    browser.check_page("case-evidence").await;
    for file in [zip, big, report] {
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }

    // The chain: intact, with the API's digest over the four events (the complaint was
    // logged with its definition, so Logged and Defined, then Acknowledged and
    // EvidenceAttached).
    browser.click("#verify-link").await;
    assert!(browser.text("#chain-result").await.contains("Intact."));
    let (_, verdict) = app
        .get(&format!("/api/v1/complaints/{id}/verify"), &app.admin_token)
        .await;
    let facts = browser.text("#chain-facts").await;
    assert!(facts.contains("Events checked\n4"), "{facts}");
    assert!(facts.contains(&str_at(&verdict, "digest")), "{facts}");
    assert!(facts.contains("First break\nNone"), "{facts}");
    browser.check_page("case-chain").await;
    // One word of the evidence event's payload changed behind the service's back.
    let changed = app
        .sql(&format!(
            "UPDATE events SET payload = replace(payload, 'Readings of the damp', \
             'Readings of the dry') WHERE aggregate_id = '{id}' AND sequence = 4"
        ))
        .await;
    assert_eq!(changed, 1);
    browser.click("a[href$='/verify']").await;
    let result = browser.text("#chain-result").await;
    assert!(
        result.contains("Broken. The chain breaks at event 4: altered."),
        "{result}"
    );
    assert!(browser
        .text("#chain-facts")
        .await
        .contains("First break\nEvent 4, altered"));
    browser.check_page("case-chain-broken").await;
    // No bundle vouches for a broken chain: the page says why, as the API's 409 does.
    browser.goto(&format!("/cases/{id}/bundle")).await;
    assert_eq!(browser.text("h1").await, "This cannot be done now");
    let said = browser.text("main").await;
    assert!(said.contains("chain"), "{said}");

    // The case as it stood between logging and acknowledging: logged and defined, the
    // acknowledgement still to do.
    browser.goto(&format!("/cases/{id}")).await;
    browser.click("#audit-link").await;
    browser.check_page("case-audit-form").await;
    let uk = between.with_timezone(&chrono_tz::Europe::London);
    set_value(&browser, "#audit-date", &uk.format("%Y-%m-%d").to_string()).await;
    set_value(&browser, "#audit-time", &uk.format("%H:%M:%S").to_string()).await;
    browser.click("#audit-form button[type=submit]").await;
    let events = browser.text("#audit-events tbody").await;
    assert!(events.starts_with("1 Logged"), "{events}");
    assert!(events.contains("2 Defined"), "{events}");
    assert!(!events.contains("Acknowledged"), "{events}");
    assert!(browser
        .text("#audit-later")
        .await
        .contains("2 events were recorded after this moment"));
    let deadlines = browser.text("#audit-deadlines").await;
    assert!(deadlines.contains("Acknowledgement"), "{deadlines}");
    assert!(deadlines.contains("Not yet"), "{deadlines}");
    browser.check_page("case-audit").await;

    // The end of today: every event.
    set_value(&browser, "#audit-time", "").await;
    browser.click("#audit-form button[type=submit]").await;
    let events = browser.text("#audit-events tbody").await;
    assert!(events.contains("Acknowledged"), "{events}");
    assert!(events.contains("Evidence attached"), "{events}");

    // A day before the case existed: said plainly, not an error page.
    let before = (uk.date_naive() - chrono::Days::new(1)).to_string();
    set_value(&browser, "#audit-date", &before).await;
    browser.click("#audit-form button[type=submit]").await;
    let said = browser.text("#audit-not-yet").await;
    assert!(
        said.contains("The case did not exist yet at the end of"),
        "{said}"
    );
    assert!(!browser.exists("#audit-events").await);
    browser.check_page("case-audit-before").await;

    // A time the field cannot read (sent by hand: a time input sends none) is tied to it.
    browser
        .goto(&format!(
            "/cases/{id}/audit?date={before}&time=half+past+ten"
        ))
        .await;
    assert!(browser
        .text("#audit-time-error")
        .await
        .contains("Enter a time of day, for example 14:30"));
    browser.close().await;
}
