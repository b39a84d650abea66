//! Every rule's rejection: the exact status (409 when the case is in the wrong state, 422
//! when the request can never succeed as given) and `error` code of docs/api.md, and that a
//! rejected command wrote nothing.

use casefile_tests::*;

both_backends! {
    logging_rules => logging_rules_scenario,
    stage_rules => stage_rules_scenario,
    extension_rules => extension_rules_scenario,
    backdating_rules => backdating_rules_scenario,
    field_rules => field_rules_scenario,
    redress_window_rules => redress_window_scenario,
    deadlock_rules => deadlock_rules_scenario,
}

const CONFLICT: StatusCode = StatusCode::CONFLICT;
const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// Sends an action that must be rejected with `status` and `code`, and checks that the
/// case's history did not change.
async fn rejected(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    body: Value,
    status: StatusCode,
    code: &str,
) {
    let before = app.history(id).await;
    let (got, error) = app.act(token, id, action, body.clone()).await;
    assert_eq!(
        (got, error["error"].as_str()),
        (status, Some(code)),
        "{action} {body}: expected {status} `{code}`, got {got}: {error}"
    );
    assert_error_shape(&error);
    let after = app.history(id).await;
    assert_eq!(
        after.len(),
        before.len(),
        "a rejected {action} wrote events: {after:?}"
    );
    assert_eq!(after, before, "a rejected {action} changed the history");
}

async fn logging_rules_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, advisor) = app.create_user("Ada", &["advisor"]).await;
    app.log_complaint(&advisor, valid_complaint()).await;
    let in_future = (utc_today() + chrono::Days::new(3)).to_string();
    let two_days_ahead = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let cases = [
        (
            json!({"procedure": "no-such-procedure"}),
            "unknown_procedure",
        ),
        (json!({"received_on": in_future}), "received_in_future"),
        (json!({"summary": "   "}), "invalid_field"),
        (json!({"issue_arose_on": days_ago(1)}), "invalid_field"),
        (json!({"occurred_at": two_days_ahead}), "occurred_in_future"),
        (
            json!({"occurred_at": format!("{}T12:00:00Z", days_ago(6))}),
            "occurred_before_receipt",
        ),
    ];
    for (patch, code) in cases {
        let body = merge(valid_complaint(), patch);
        let (status, error) = app.post("/api/v1/complaints", &advisor, body.clone()).await;
        assert_error(status, &error, UNPROCESSABLE, code);
        assert_eq!(
            app.case_total().await,
            1,
            "a rejected log wrote a case: {body}"
        );
    }
}

async fn stage_rules_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let m = &s.manager.token;
    let id = app.new_case().await;

    // Before acknowledgement.
    let resp = stage_response("upheld");
    rejected(
        &app,
        m,
        &id,
        "stage1-response",
        resp.clone(),
        CONFLICT,
        "not_acknowledged",
    )
    .await;
    let reason = json!({"reason": "unhappy"});
    rejected(
        &app,
        m,
        &id,
        "escalate",
        reason.clone(),
        CONFLICT,
        "stage1_not_responded",
    )
    .await;
    rejected(
        &app,
        m,
        &id,
        "stage2-acknowledge",
        json!({}),
        CONFLICT,
        "not_escalated",
    )
    .await;
    rejected(
        &app,
        m,
        &id,
        "stage2-response",
        resp.clone(),
        CONFLICT,
        "not_escalated",
    )
    .await;
    rejected(
        &app,
        m,
        &id,
        "close",
        json!({}),
        CONFLICT,
        "response_outstanding",
    )
    .await;
    rejected(
        &app,
        m,
        &id,
        "reopen",
        reason.clone(),
        CONFLICT,
        "case_not_closed",
    )
    .await;
    let refer = json!({"scheme": "housing-ombudsman", "reference": "HOS-1"});
    rejected(
        &app,
        m,
        &id,
        "refer",
        refer.clone(),
        CONFLICT,
        "procedure_not_exhausted",
    )
    .await;
    let deadlock = json!({"reason": "stuck", "on_request": true});
    rejected(
        &app,
        m,
        &id,
        "deadlock",
        deadlock,
        UNPROCESSABLE,
        "no_deadlock_rule",
    )
    .await;
    // The issue arose 17 days before receipt: not older than twelve months.
    let refuse = json!({"reason": "older_than_twelve_months", "explanation": "too old"});
    rejected(
        &app,
        m,
        &id,
        "refuse",
        refuse,
        UNPROCESSABLE,
        "not_older_than_limit",
    )
    .await;
    let unknown = json!({"owner_id": uuid::Uuid::new_v4().to_string()});
    rejected(
        &app,
        m,
        &id,
        "assign",
        unknown,
        UNPROCESSABLE,
        "unknown_user",
    )
    .await;

    app.act_ok(m, &id, "acknowledge", json!({})).await;
    rejected(
        &app,
        m,
        &id,
        "acknowledge",
        json!({}),
        CONFLICT,
        "already_acknowledged",
    )
    .await;

    app.act_ok(m, &id, "stage1-response", resp.clone()).await;
    rejected(
        &app,
        m,
        &id,
        "stage1-response",
        resp.clone(),
        CONFLICT,
        "already_responded",
    )
    .await;
    let extend = json!({"working_days": 2, "reason": "more time"});
    rejected(
        &app,
        m,
        &id,
        "extend",
        extend.clone(),
        CONFLICT,
        "nothing_to_extend",
    )
    .await;

    // Stage 2 can be defined only once the resident has asked for it.
    rejected(
        &app,
        m,
        &id,
        "definition",
        definition("stage2"),
        CONFLICT,
        "not_escalated",
    )
    .await;

    app.act_ok(m, &id, "escalate", reason.clone()).await;
    rejected(
        &app,
        m,
        &id,
        "escalate",
        reason.clone(),
        CONFLICT,
        "already_escalated",
    )
    .await;
    rejected(
        &app,
        m,
        &id,
        "stage2-response",
        resp.clone(),
        CONFLICT,
        "not_acknowledged",
    )
    .await;

    app.act_ok(m, &id, "stage2-acknowledge", json!({})).await;
    rejected(
        &app,
        m,
        &id,
        "stage2-acknowledge",
        json!({}),
        CONFLICT,
        "already_acknowledged",
    )
    .await;
    // The manager answered Stage 1, so cannot answer Stage 2.
    rejected(
        &app,
        m,
        &id,
        "stage2-response",
        resp.clone(),
        CONFLICT,
        "same_reviewer",
    )
    .await;

    // Stage 2 is answered on its own definition, recorded since the escalation.
    let r = &s.reviewer.token;
    rejected(
        &app,
        r,
        &id,
        "stage2-response",
        resp.clone(),
        CONFLICT,
        "definition_missing",
    )
    .await;
    app.define_stage2(r, &id, None).await;
    app.act_ok(r, &id, "stage2-response", resp.clone()).await;
    rejected(
        &app,
        r,
        &id,
        "stage2-response",
        resp.clone(),
        CONFLICT,
        "already_responded",
    )
    .await;

    // Each response's actions are tracked: closing with them open needs a reason.
    rejected(&app, r, &id, "close", json!({}), CONFLICT, "open_actions").await;
    let view = app
        .act_ok(
            r,
            &id,
            "close",
            json!({"open_actions_reason": "The new boiler is on order"}),
        )
        .await;
    assert_eq!(
        view["closure"]["open_actions"],
        json!(["s1-a1", "s1-a2", "s2-a1", "s2-a2"]),
        "{view}"
    );
    rejected(&app, m, &id, "close", json!({}), CONFLICT, "case_closed").await;
    rejected(
        &app,
        m,
        &id,
        "stage2-acknowledge",
        json!({}),
        CONFLICT,
        "case_closed",
    )
    .await;
    rejected(
        &app,
        m,
        &id,
        "withdraw",
        reason.clone(),
        CONFLICT,
        "case_closed",
    )
    .await;
    rejected(
        &app,
        m,
        &id,
        "acknowledge",
        json!({}),
        CONFLICT,
        "case_closed",
    )
    .await;

    let wrong = json!({"scheme": "property-redress-scheme", "reference": "PRS-1"});
    rejected(
        &app,
        m,
        &id,
        "refer",
        wrong,
        UNPROCESSABLE,
        "scheme_not_allowed",
    )
    .await;
    app.act_ok(m, &id, "refer", refer.clone()).await;
    rejected(&app, m, &id, "refer", refer, CONFLICT, "already_referred").await;

    let types = app.event_types(&id).await;
    assert_eq!(
        types,
        [
            "Logged",
            "Defined",
            "Acknowledged",
            "Stage1Responded",
            "ActionTracked",
            "ActionTracked",
            "Escalated",
            "Stage2Acknowledged",
            "Defined",
            "Stage2Responded",
            "ActionTracked",
            "ActionTracked",
            "Closed",
            "ReferredToRedress"
        ]
    );
}

async fn extension_rules_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let o = &s.officer.token;
    let id = app.new_case().await;
    app.act_ok(o, &id, "acknowledge", json!({})).await;

    let ext = |days: u64| json!({"working_days": days, "reason": "waiting for a contractor"});
    // Stage 1 cap: 10 working days in all.
    rejected(
        &app,
        o,
        &id,
        "extend",
        ext(11),
        UNPROCESSABLE,
        "extension_exceeds_cap",
    )
    .await;
    let view = app.act_ok(o, &id, "extend", ext(6)).await;
    assert_eq!(view["deadlines"]["stage1_response"]["extended_by"], 6);
    rejected(
        &app,
        o,
        &id,
        "extend",
        ext(5),
        UNPROCESSABLE,
        "extension_exceeds_cap",
    )
    .await;
    let view = app.act_ok(o, &id, "extend", ext(4)).await;
    assert_eq!(view["deadlines"]["stage1_response"]["extended_by"], 10);
    rejected(
        &app,
        o,
        &id,
        "extend",
        ext(1),
        UNPROCESSABLE,
        "extension_exceeds_cap",
    )
    .await;
    rejected(
        &app,
        o,
        &id,
        "extend",
        ext(0),
        UNPROCESSABLE,
        "invalid_field",
    )
    .await;

    // Stage 2 cap: 20 working days, counted apart from Stage 1.
    app.act_ok(o, &id, "stage1-response", stage_response("not_upheld"))
        .await;
    app.act_ok(o, &id, "escalate", json!({"reason": "unhappy"}))
        .await;
    app.act_ok(&s.reviewer.token, &id, "stage2-acknowledge", json!({}))
        .await;
    rejected(
        &app,
        o,
        &id,
        "extend",
        ext(21),
        UNPROCESSABLE,
        "extension_exceeds_cap",
    )
    .await;
    let view = app.act_ok(o, &id, "extend", ext(20)).await;
    assert_eq!(view["deadlines"]["stage2_response"]["extended_by"], 20);
    assert_eq!(view["deadlines"]["stage1_response"]["extended_by"], 10);
    rejected(
        &app,
        o,
        &id,
        "extend",
        ext(1),
        UNPROCESSABLE,
        "extension_exceeds_cap",
    )
    .await;

    // CloudRooms allows no extension at all.
    let body = merge(valid_complaint(), json!({"procedure": "cloudrooms"}));
    let view = app.log_complaint(o, body).await;
    let other = str_at(&view, "id");
    app.act_ok(o, &other, "acknowledge", json!({})).await;
    rejected(
        &app,
        o,
        &other,
        "extend",
        ext(1),
        UNPROCESSABLE,
        "extension_not_allowed",
    )
    .await;
}

async fn backdating_rules_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();
    let id = app.new_case().await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let note = |at: String| json!({"text": "backdated", "occurred_at": at});
    rejected(
        &app,
        &token,
        &id,
        "notes",
        note(tomorrow.clone()),
        UNPROCESSABLE,
        "occurred_in_future",
    )
    .await;
    rejected(
        &app,
        &token,
        &id,
        "acknowledge",
        json!({"occurred_at": tomorrow}),
        UNPROCESSABLE,
        "occurred_in_future",
    )
    .await;
    // Logged at the start of its receipt day (three days ago); ten days ago is before that.
    let early = format!("{}T12:00:00Z", days_ago(10));
    rejected(
        &app,
        &token,
        &id,
        "notes",
        note(early),
        UNPROCESSABLE,
        "occurred_before_previous_event",
    )
    .await;
    // A backdated entry after the previous event is fine, and then fixes the new floor.
    let yesterday = format!("{}T12:00:00Z", days_ago(1));
    app.act_ok(&token, &id, "notes", note(yesterday)).await;
    let two_days_ago = format!("{}T12:00:00Z", days_ago(2));
    rejected(
        &app,
        &token,
        &id,
        "acknowledge",
        json!({"occurred_at": two_days_ago}),
        UNPROCESSABLE,
        "occurred_before_previous_event",
    )
    .await;
}

async fn field_rules_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.admin_token.clone();
    let t = &token;
    let id = app.new_case().await;
    let bad = [
        ("notes", json!({"text": "  "})),
        ("notes", json!({"text": "letter", "kind": "correspondence"})),
        (
            "evidence",
            json!({"name": "a.jpg", "media_type": "image/jpeg", "size_bytes": 1, "sha256": "xyz"}),
        ),
        (
            "evidence",
            json!({"name": "a.jpg", "media_type": "jpeg", "size_bytes": 1, "sha256": "a".repeat(64)}),
        ),
        ("links", json!({"kind": "repair", "reference": ""})),
        ("categorise", json!({"theme": " "})),
        ("definition", json!({"stage": "stage1", "definition": " "})),
        ("escalate", json!({"reason": ""})),
        ("withdraw", json!({"reason": ""})),
    ];
    for (action, body) in bad {
        rejected(&app, t, &id, action, body, UNPROCESSABLE, "invalid_field").await;
    }
    app.act_ok(t, &id, "acknowledge", json!({})).await;
    let mut empty_decision = stage_response("upheld");
    empty_decision["decision"] = json!("");
    rejected(
        &app,
        t,
        &id,
        "stage1-response",
        empty_decision,
        UNPROCESSABLE,
        "invalid_field",
    )
    .await;
}

async fn redress_window_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let m = &s.manager.token;
    let at = |d: &str| format!("{d}T10:00:00Z");
    // CloudRooms: referral to the Property Redress Scheme within 12 months of the final
    // viewpoint. Final viewpoint on 1 February 2022: the window closed on 1 February 2023.
    let body = backdated_complaint("cloudrooms", "england-and-wales", "2022-01-10");
    let view = app.log_complaint(m, body).await;
    let id = str_at(&view, "id");
    app.act_ok(
        m,
        &id,
        "acknowledge",
        json!({"occurred_at": at("2022-01-11")}),
    )
    .await;
    let mut s1 = stage_response("not_upheld");
    s1["occurred_at"] = json!(at("2022-01-20"));
    app.act_ok(m, &id, "stage1-response", s1).await;
    app.act_ok(
        m,
        &id,
        "escalate",
        json!({"reason": "senior review", "occurred_at": at("2022-01-24")}),
    )
    .await;
    app.define_stage2(&s.reviewer.token, &id, Some(&at("2022-01-24")))
        .await;
    let mut s2 = stage_response("not_upheld");
    s2["occurred_at"] = json!(at("2022-02-01"));
    app.act_ok(&s.reviewer.token, &id, "stage2-response", s2)
        .await;

    let wrong = json!({"scheme": "housing-ombudsman", "reference": "X"});
    rejected(
        &app,
        m,
        &id,
        "refer",
        wrong,
        UNPROCESSABLE,
        "scheme_not_allowed",
    )
    .await;
    let late = json!({"scheme": "property-redress-scheme", "reference": "PRS-1"});
    rejected(
        &app,
        m,
        &id,
        "refer",
        late,
        UNPROCESSABLE,
        "referral_window_expired",
    )
    .await;
    // Recorded as having happened inside the window, it is accepted.
    let view = app
        .act_ok(
            m,
            &id,
            "refer",
            json!({"scheme": "property-redress-scheme", "reference": "PRS-1",
                   "occurred_at": at("2022-06-01")}),
        )
        .await;
    assert_eq!(view["referral"]["scheme"], "property-redress-scheme");
}

async fn deadlock_rules_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let m = &s.manager.token;
    // Cloud Direct: deadlock after 8 weeks unresolved, or at once on request.
    let body = merge(valid_complaint(), json!({"procedure": "cloud-direct"}));
    let view = app.log_complaint(m, body).await;
    let id = str_at(&view, "id");
    let timed = json!({"reason": "eight weeks passed", "on_request": false});
    rejected(
        &app,
        m,
        &id,
        "deadlock",
        timed,
        CONFLICT,
        "deadlock_too_early",
    )
    .await;
    let refer = json!({"scheme": "ombudsman-services", "reference": "OS-1"});
    rejected(
        &app,
        m,
        &id,
        "refer",
        refer.clone(),
        CONFLICT,
        "procedure_not_exhausted",
    )
    .await;
    let asked = json!({"reason": "resident asked for a deadlock letter", "on_request": true});
    app.act_ok(m, &id, "deadlock", asked.clone()).await;
    rejected(
        &app,
        m,
        &id,
        "deadlock",
        asked,
        CONFLICT,
        "already_deadlocked",
    )
    .await;
    app.act_ok(m, &id, "refer", refer).await;

    // The eight weeks count from receipt: received 9 weeks ago, it may be declared.
    let body = merge(
        valid_complaint(),
        json!({"procedure": "cloud-direct", "received_on": days_ago(63), "issue_arose_on": days_ago(70)}),
    );
    let view = app.log_complaint(m, body).await;
    let old = str_at(&view, "id");
    let view = app
        .act_ok(
            m,
            &old,
            "deadlock",
            json!({"reason": "eight weeks passed", "on_request": false}),
        )
        .await;
    assert!(view["deadlocked_on"].is_string(), "{view}");
}
