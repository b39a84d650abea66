//! A case as it stood at any moment: `?as_of=` on the case and on its history, compared
//! with the views the commands answered with at the time.

use casefile_tests::*;
use chrono::{SecondsFormat, Utc};

both_backends! {
    as_of_views_equal_the_views_recorded_during_the_run => views_recorded_during_the_run,
    as_of_a_date_means_the_end_of_that_uk_day => dates_mean_end_of_uk_day,
    as_of_before_the_case_existed_is_not_yet_logged => before_the_case_existed,
    a_malformed_as_of_is_an_invalid_query => malformed_as_of,
    as_of_uses_the_bank_holidays_in_force_then => calendar_in_force_then,
}

const REPLAY: &str = env!("CARGO_BIN_EXE_casefile-replay-under-test");

/// gov.uk's format, adding one made-up bank holiday: Wednesday 5 March 2025 in England and
/// Wales.
const EXTRA_DAY: &str = r#"{
  "england-and-wales": {"division": "england-and-wales", "events": [
    {"title": "Extra one-off day", "date": "2025-03-05", "notes": "", "bunting": true}
  ]},
  "scotland": {"division": "scotland", "events": []},
  "northern-ireland": {"division": "northern-ireland", "events": []}
}"#;

/// `casefile-replay view ID --as-of AT --json` on the app's store.
fn replay_view(app: &TestApp, id: &str, at: &str) -> Value {
    let out = std::process::Command::new(REPLAY)
        .args(["view", id, "--as-of", at, "--json"])
        .env("CASEFILE_DATABASE_URL", app.database_url())
        .env_remove("CASEFILE_BANK_HOLIDAYS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run casefile-replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from casefile-replay view")
}

/// Now, as RFC 3339 with microseconds in UTC (no `+` to escape in a query string).
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn views_recorded_during_the_run(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;

    // Each step: the view the command answered with, and a moment right after it.
    let mut recorded = Vec::new();
    let view = app.log_complaint(&s.advisor.token, valid_complaint()).await;
    let id = str_at(&view, "id");
    recorded.push((view, now()));
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "acknowledge",
            json!({"text": "Received."}),
        )
        .await;
    recorded.push((view, now()));
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "stage1-response",
            stage_response("upheld"),
        )
        .await;
    recorded.push((view, now()));
    let view = app
        .act_ok(
            &s.advisor.token,
            &id,
            "escalate",
            json!({"reason": "Still cold."}),
        )
        .await;
    recorded.push((view, now()));

    let events_now = app.history(&id).await;
    for (step, (view, at)) in recorded.iter().enumerate() {
        let (status, case) = app
            .get(
                &format!("/api/v1/complaints/{id}?as_of={at}"),
                &s.auditor.token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "step {step}: {case}");
        assert_eq!(&case, view, "case as of step {step}");

        let (status, history) = app
            .get(
                &format!("/api/v1/complaints/{id}/history?as_of={at}"),
                &s.auditor.token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "step {step}: {history}");
        assert_eq!(&history["case"], view, "history's case as of step {step}");
        let echoed = chrono::DateTime::parse_from_rfc3339(history["as_of"].as_str().unwrap());
        assert_eq!(
            echoed,
            chrono::DateTime::parse_from_rfc3339(at),
            "as_of echoed"
        );
        // The events up to then are the first `version` events of today's history.
        let version = view["version"].as_u64().unwrap() as usize;
        assert_eq!(
            history["events"].as_array().unwrap(),
            &events_now[..version],
            "events as of step {step}"
        );
    }

    // Without as_of, the history has neither `as_of` nor `case`.
    let (_, history) = app
        .get(
            &format!("/api/v1/complaints/{id}/history"),
            &s.auditor.token,
        )
        .await;
    assert!(
        history.get("case").is_none() && history.get("as_of").is_none(),
        "{history}"
    );
}

async fn dates_mean_end_of_uk_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.new_case().await;
    let current = app.case(&id).await;
    // The end of today in the UK is after every event recorded so far.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        .to_string();
    let (status, case) = app
        .get(
            &format!("/api/v1/complaints/{id}?as_of={today}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case, current);
    // The end of a day two days ago is before the case was logged today.
    let (status, body) = app
        .get(
            &format!("/api/v1/complaints/{id}?as_of={}", days_ago(2)),
            &app.admin_token,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_yet_logged");
}

async fn before_the_case_existed(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = now();
    let id = app.new_case().await;
    for path in [
        format!("/api/v1/complaints/{id}?as_of={before}"),
        format!("/api/v1/complaints/{id}/history?as_of={before}"),
    ] {
        let (status, body) = app.get(&path, &app.admin_token).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_yet_logged");
    }
    // A case that never existed is still plain not found.
    let unknown = uuid::Uuid::now_v7();
    let (status, body) = app
        .get(
            &format!("/api/v1/complaints/{unknown}?as_of={before}"),
            &app.admin_token,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

async fn malformed_as_of(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.new_case().await;
    for raw in [
        "yesterday",
        "2025-13-01",
        "2025-02-30",
        "2025-03-01T25:00:00Z",
        "",
    ] {
        for path in [
            format!("/api/v1/complaints/{id}?as_of={raw}"),
            format!("/api/v1/complaints/{id}/history?as_of={raw}"),
        ] {
            let (status, body) = app.get(&path, &app.admin_token).await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
        }
    }
}

/// A case logged under the built-in calendar; the service restarted with a file adding a
/// bank holiday inside the case's first deadline; then restarted without it again. Each
/// moment's view uses the calendar the service had then; today's view uses today's.
async fn calendar_in_force_then(backend: Backend) {
    let mut first = spawn_app(backend).await;
    // Received Mon 3 Mar 2025. Built in: Tue 4 (1), Wed 5 (2), Thu 6 (3), Fri 7 (4),
    // Mon 10 (5) → acknowledge by 2025-03-10. With Wed 5 a holiday: … Tue 11 (5).
    let logged = first
        .log_complaint(
            &first.admin_token,
            backdated_complaint("chc-2024", "england-and-wales", "2025-03-03"),
        )
        .await;
    let id = str_at(&logged, "id");
    assert_eq!(logged["deadlines"]["acknowledge"]["due"], "2025-03-10");
    let builtin = casefile_domain::Calendar::builtin().version();
    assert_eq!(logged["calendar_version"], builtin.as_str());
    let under_builtin = now();
    first.stop().await;

    let file = std::env::temp_dir().join(format!(
        "casefile-{}-bank-holidays.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, EXTRA_DAY).expect("a temp file");
    let path = file.clone();
    let mut second = first
        .sibling_with(move |config| config.bank_holidays = Some(path))
        .await;
    // Today's view of the case uses today's calendar; the case still names the calendar it
    // was logged under.
    let today = second.case(&id).await;
    assert_eq!(today["deadlines"]["acknowledge"]["due"], "2025-03-11");
    assert_eq!(today["calendar_version"], builtin.as_str());
    let under_file = now();

    for (at, expected, due) in [
        (&under_builtin, &logged, "2025-03-10"),
        (&under_file, &today, "2025-03-11"),
    ] {
        let (status, case) = second
            .get(
                &format!("/api/v1/complaints/{id}?as_of={at}"),
                &second.admin_token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{case}");
        assert_eq!(&case, expected, "as of {at}");
        let (status, history) = second
            .get(
                &format!("/api/v1/complaints/{id}/history?as_of={at}"),
                &second.admin_token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{history}");
        assert_eq!(&history["case"], expected, "history as of {at}");
        let tool = replay_view(&second, &id, at);
        assert_eq!(
            tool["deadlines"]["acknowledge"]["due"], due,
            "tool as of {at}"
        );
    }
    second.stop().await;

    // Back on the built-in calendar: the file's day still counts for the moment it was in
    // force, and no longer counts today.
    let third = first.sibling().await;
    assert_eq!(
        third.case(&id).await["deadlines"]["acknowledge"]["due"],
        "2025-03-10"
    );
    let (status, case) = third
        .get(
            &format!("/api/v1/complaints/{id}?as_of={under_file}"),
            &third.admin_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case, today);
    let _ = std::fs::remove_file(file);
}
