//! What an operator configures at start-up: gov.uk bank-holiday files and the
//! organisation's own procedures.

use std::path::PathBuf;

use casefile_api::config::Config;
use casefile_api::startup::Application;
use casefile_tests::*;

both_backends! {
    a_loaded_govuk_one_off_day_moves_the_due_dates => govuk_file_moves_dates,
    an_organisations_own_procedure_is_used_for_its_cases => own_procedure,
}

/// A file in the temp folder, unique to the test.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("casefile-{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, text).expect("a temp file");
    path
}

/// gov.uk's format with one made-up extra day, Wednesday 5 March 2025, in England and Wales.
const GOVUK: &str = r#"{
  "england-and-wales": {"division": "england-and-wales", "events": [
    {"title": "New Year's Day", "date": "2025-01-01", "notes": "", "bunting": true},
    {"title": "Extra one-off day", "date": "2025-03-05", "notes": "", "bunting": true}
  ]},
  "scotland": {"division": "scotland", "events": []},
  "northern-ireland": {"division": "northern-ireland", "events": []}
}"#;

async fn govuk_file_moves_dates(backend: Backend) {
    let received = backdated_complaint("chc-2024", "england-and-wales", "2025-03-03");

    // Without the file: received Mon 3 Mar; Tue 4 (1), Wed 5 (2), Thu 6 (3), Fri 7 (4),
    // Mon 10 (5) → due 2025-03-10.
    let plain = spawn_app(backend).await;
    let case = plain
        .log_complaint(&plain.admin_token, received.clone())
        .await;
    assert_eq!(case["deadlines"]["acknowledge"]["due"], "2025-03-10");
    let builtin = casefile_domain::Calendar::builtin().version();
    assert_eq!(case["calendar_version"], builtin.as_str());

    // With Wed 5 Mar a bank holiday: Tue 4 (1), Thu 6 (2), Fri 7 (3), Mon 10 (4),
    // Tue 11 (5) → due 2025-03-11.
    let file = temp_file("bank-holidays.json", GOVUK);
    let path = file.clone();
    let loaded = spawn_app_with(backend, move |config| config.bank_holidays = Some(path)).await;
    let case = loaded.log_complaint(&loaded.admin_token, received).await;
    assert_eq!(case["deadlines"]["acknowledge"]["due"], "2025-03-11");
    assert_ne!(case["calendar_version"], builtin.as_str());
    let _ = std::fs::remove_file(file);
}

const ACME: &str = r#"
id = "acme-homes"
version = 2
name = "Acme Homes complaints policy"
stages = 1
steps = [
  { step = "acknowledge", from = "received", working_days = 3 },
  { step = "stage1_response", from = "acknowledged", working_days = 7 },
]
[redress]
schemes = ["housing-ombudsman"]
"#;

async fn own_procedure(backend: Backend) {
    let file = temp_file("acme.toml", ACME);
    let path = file.clone();
    let app = spawn_app_with(backend, move |config| config.procedures = vec![path]).await;
    let token = app.admin_token.clone();

    // Received Mon 3 Mar 2025: Tue 4 (1), Wed 5 (2), Thu 6 (3) → acknowledge due 2025-03-06.
    let case = app
        .log_complaint(
            &token,
            backdated_complaint("acme-homes", "england-and-wales", "2025-03-03"),
        )
        .await;
    assert_eq!(case["procedure"]["id"], "acme-homes");
    assert_eq!(case["procedure"]["version"], 2);
    assert_eq!(case["deadlines"]["acknowledge"]["due"], "2025-03-06");
    let id = str_at(&case, "id");

    // Acknowledged Wed 5 Mar: seven working days later is Fri 14 Mar.
    let case = app
        .act_ok(
            &token,
            &id,
            "acknowledge",
            json!({"occurred_at": "2025-03-05T10:00:00Z"}),
        )
        .await;
    assert_eq!(case["deadlines"]["stage1_response"]["due"], "2025-03-14");
    assert_eq!(case["deadlines"]["acknowledge"]["state"], "met");

    // A one-stage procedure has no Stage 2 to escalate to.
    app.act_ok(
        &token,
        &id,
        "stage1-response",
        json!({"outcome": "not_upheld", "decision": "No fault found", "reasons": "Records show visits",
               "occurred_at": "2025-03-10T10:00:00Z"}),
    )
    .await;
    let (status, body) = app
        .act(&token, &id, "escalate", json!({"reason": "Disagree"}))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_stage_two",
    );

    // The procedure is offered in the API document.
    let (status, doc) = app.get("/api/v1/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    let offered = &doc["components"]["schemas"]["LogComplaint"]["properties"]["procedure"]["enum"];
    assert!(
        offered
            .as_array()
            .is_some_and(|ids| ids.contains(&json!("acme-homes"))),
        "{offered}"
    );
    let _ = std::fs::remove_file(file);
}

/// A procedure file with a mistake stops the start-up, naming the file and the field.
#[tokio::test]
async fn a_malformed_procedure_file_is_rejected_at_start_up_naming_the_field() {
    let file = temp_file(
        "broken.toml",
        &ACME.replace("working_days = 7", "working_days = \"seven\""),
    );
    let store = std::env::temp_dir().join(format!(
        "casefile-test-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let mut config = Config::for_tests(&format!("sqlite://{}", store.display()));
    config.procedures = vec![file.clone()];
    let err = match Application::build(config).await {
        Ok(_) => panic!("a broken procedure file was accepted"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("steps[1].working_days"), "{err}");
    assert!(err.contains("broken.toml"), "{err}");
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(store);
}
