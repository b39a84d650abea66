//! A resident's needs and reasonable adjustments: recorded as events on the resident, shown
//! on every case of theirs to the roles the API guide names, logged when read, and absent
//! from queue rows, the event feed and the roles not named.

use casefile_tests::*;
use reqwest::Method;

both_backends! {
    adjustments_follow_the_resident_onto_every_case_for_the_named_roles_only => residents_scenario,
}

fn for_resident(resident_id: &str) -> Value {
    let mut body = valid_complaint();
    body["complainant"]["resident_id"] = json!(resident_id);
    body
}

async fn put(app: &TestApp, token: &str, resident: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .send(
            Method::PUT,
            &format!("/api/v1/residents/{resident}/adjustments"),
            Some(token),
            Body::Json(body),
            &[],
        )
        .await;
    (r.status, r.json)
}

async fn residents_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff().await;
    let review_due = (utc_today() + chrono::Days::new(60)).to_string();
    let need = "Hearing impairment";

    let a = str_at(
        &app.log_complaint(&app.admin_token, for_resident("T-77"))
            .await,
        "id",
    );
    let b = str_at(
        &app.log_complaint(&app.admin_token, for_resident("T-77"))
            .await,
        "id",
    );
    let other = str_at(
        &app.log_complaint(&app.admin_token, for_resident("T-88"))
            .await,
        "id",
    );

    // Nothing recorded yet: an empty record, and no adjustments on the case.
    let (status, empty) = app
        .get("/api/v1/residents/T-77/adjustments", &staff.advisor.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(
        (&empty["version"], &empty["needs"]),
        (&json!(0), &json!([]))
    );
    assert_eq!(app.case(&a).await["adjustments"], Value::Null);

    let body = json!({
        "needs": [need],
        "adjustments": [{"need": need, "adjustment": "Contact by email only",
                         "agreed_on": utc_today().to_string()}],
        "review_due": review_due,
    });
    let (status, denied) = put(&app, &staff.compliance.token, "T-77", body.clone()).await;
    assert_error(status, &denied, StatusCode::FORBIDDEN, "forbidden");
    let (status, set) = put(&app, &staff.officer.token, "T-77", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["version"], json!(1));
    assert_eq!(set["needs"], json!([need]));
    assert_eq!(set["review_due"], json!(review_due));
    assert_eq!(set["adjustments"][0]["adjustment"], "Contact by email only");
    assert_eq!(
        set["adjustments"][0]["agreed_by"]["id"],
        json!(staff.officer.id)
    );
    let (status, bad) = put(&app, &staff.officer.token, "T-77", json!({"needs": "deaf"})).await;
    assert_error(
        status,
        &bad,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    // A second change is a second event.
    let (status, set) = put(
        &app,
        &staff.manager.token,
        "T-77",
        merge(body.clone(), json!({"needs": [need, "Anxiety"]})),
    )
    .await;
    assert_eq!(
        (status, &set["version"]),
        (StatusCode::OK, &json!(2)),
        "{set}"
    );

    // The needs are kept sorted. The roles the guide names read them; auditor and
    // compliance do not.
    for token in [
        &staff.advisor.token,
        &staff.reviewer.token,
        &app.admin_token,
    ] {
        let (status, read) = app.get("/api/v1/residents/T-77/adjustments", token).await;
        assert_eq!(
            (status, &read["needs"]),
            (StatusCode::OK, &json!(["Anxiety", need]))
        );
    }
    for token in [&staff.auditor.token, &staff.compliance.token] {
        let (status, read) = app.get("/api/v1/residents/T-77/adjustments", token).await;
        assert_error(status, &read, StatusCode::FORBIDDEN, "forbidden");
    }

    // Both of T-77's cases carry them; T-88's does not; auditors see the case without them.
    for id in [&a, &b] {
        let (status, view) = app
            .get(&format!("/api/v1/complaints/{id}"), &staff.officer.token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            view["adjustments"]["needs"],
            json!(["Anxiety", need]),
            "{view}"
        );
        assert_eq!(view["adjustments"]["resident_id"], "T-77");
        let (_, seen_by_auditor) = app
            .get(&format!("/api/v1/complaints/{id}"), &staff.auditor.token)
            .await;
        assert_eq!(seen_by_auditor["adjustments"], Value::Null);
    }
    assert_eq!(app.case(&other).await["adjustments"], Value::Null);

    // Never in the queue rows, the resident's case list or the event feed.
    for path in [
        "/api/v1/complaints",
        "/api/v1/complainants/T-77/complaints",
        "/api/v1/events?after=0&limit=1000",
    ] {
        let r = app
            .send(Method::GET, path, Some(&app.admin_token), Body::None, &[])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert!(!r.text.contains(need), "{path} shows the resident's needs");
    }

    // Residents' events take no place in the feed's dense positions.
    let (_, feed) = app
        .get("/api/v1/events?after=0&limit=1000", &app.admin_token)
        .await;
    let positions: Vec<u64> = feed["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events: {feed}"))
        .iter()
        .filter_map(|e| e["position"].as_u64())
        .collect();
    assert!(!positions.is_empty(), "{feed}");
    assert_eq!(positions, (1..=positions.len() as u64).collect::<Vec<_>>());

    // T-88's review, agreed three days ago, is due today: the dashboard counts their open case and its filter
    // lists it. (Setting is not reading: no read is logged for T-88.)
    let (status, _) = put(
        &app,
        &staff.officer.token,
        "T-88",
        json!({"needs": ["Dyslexia"], "review_due": utc_today().to_string(),
               "occurred_at": format!("{}T10:00:00Z", days_ago(3))}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, dashboard) = app.get("/api/v1/dashboard", &staff.auditor.token).await;
    assert_eq!(
        dashboard["adjustments_review_due"],
        json!({"count": 1, "filter": "status=open&adjustments=review_due"}),
        "{dashboard}"
    );
    let (_, queue) = app
        .get(
            "/api/v1/complaints?status=open&adjustments=review_due",
            &staff.manager.token,
        )
        .await;
    assert_eq!(queue["total"], json!(1), "{queue}");
    assert_eq!(queue["items"][0]["id"], json!(other));
    assert!(!queue.to_string().contains("Dyslexia"));

    // Every read was logged: the empty record, 3 reads by named roles, and the 2 case views
    // read by the officer and 1 by the admin (`app.case` on T-77's first case) = 1 + 3 + 2 + 1.
    // (Refused reads and reads of cases without a record are not reads of the data.)
    let reads = app
        .sql_texts("SELECT CAST(COUNT(*) AS TEXT) FROM resident_reads WHERE resident_id = 'T-77'")
        .await;
    assert_eq!(reads, vec!["6".to_string()]);

    // The resident's events are chained like a case's.
    let chain = app
        .sql_texts(
            "SELECT CAST(sequence AS TEXT) || ' ' || event_type || ' ' || \
             CASE WHEN prev_hash = '' THEN 'first' ELSE 'linked' END \
             FROM events WHERE aggregate_type = 'Resident' AND aggregate_id = 'T-77' \
             ORDER BY sequence",
        )
        .await;
    assert_eq!(
        chain,
        vec![
            "1 AdjustmentsSet first".to_string(),
            "2 AdjustmentsSet linked".to_string()
        ]
    );
}
