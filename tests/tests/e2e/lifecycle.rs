//! Whole lives of a case through the HTTP API: the full chc-2024 life, the Cloud Direct
//! deadlock route, withdraw → reopen → continue, refusal, and references.

use std::collections::BTreeSet;

use casefile_tests::*;

both_backends! {
    chc_2024_full_life => full_life,
    cloud_direct_deadlock_route => deadlock_route,
    withdraw_reopen_continue => withdraw_reopen,
    refusal_then_referral => refusal_route,
    references_are_unique => references,
    me_and_users => me_and_users_scenario,
    minimal_answers => minimal_answers_scenario,
}

/// Checks one step of a life: the view's status, stage, deadline keys and version.
#[track_caller]
fn check(view: &Value, status: &str, stage: &str, deadlines: &[&str], version: u64) {
    assert_eq!(view["status"], status, "status: {view}");
    assert_eq!(view["stage"], stage, "stage: {view}");
    assert_eq!(deadline_keys(view), set(deadlines), "deadline keys: {view}");
    assert_eq!(view["version"], version, "version: {view}");
}

#[track_caller]
fn deadline_state(view: &Value, step: &str) -> String {
    view["deadlines"][step]["state"]
        .as_str()
        .unwrap_or_else(|| panic!("no state for deadline `{step}`: {view}"))
        .to_string()
}

async fn full_life(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let today = uk_today_candidates();

    // Log (advisor).
    let view = app.log_complaint(&s.advisor.token, valid_complaint()).await;
    let id = str_at(&view, "id");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "id is a UUID: {id}");
    check(&view, "open", "stage1", &["acknowledge"], 2);
    assert_eq!(view["procedure"]["id"], "chc-2024");
    assert_eq!(view["division"], "england-and-wales");
    assert_eq!(view["received_on"], days_ago(3));
    assert_eq!(view["channel"], "email");
    assert_eq!(view["complainant"]["name"], "Alex Morgan");
    assert_eq!(view["summary"], "Repeated boiler failure");
    // Logged with its definition: the Stage 1 definition, with the outcomes sought.
    assert_eq!(
        view["definitions"]["stage1"]["definition"],
        valid_complaint()["definition"]
    );
    assert_eq!(
        view["definitions"]["stage1"]["outcomes_sought"],
        valid_complaint()["outcomes_sought"]
    );
    assert!(view["acknowledged_on"].is_null(), "{view}");
    assert_eq!(view["deadlines"]["acknowledge"]["starts_on"], days_ago(3));
    assert_eq!(view["deadlines"]["acknowledge"]["working_days"], 5);
    // Received three calendar days ago: at most three of the five working days have gone.
    let state = deadline_state(&view, "acknowledge");
    assert!(
        state == "pending" || state == "due_soon",
        "acknowledge state {state}: {view}"
    );
    // GET returns the same view.
    let got = app.case(&id).await;
    assert_eq!(got["reference"], view["reference"]);
    assert_eq!(got["deadlines"], view["deadlines"]);

    // Acknowledge (officer).
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "acknowledge",
            json!({"text": "We have your complaint."}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        3,
    );
    let ack_on = str_at(&view, "acknowledged_on");
    assert!(today.contains(&ack_on), "acknowledged today: {view}");
    assert_eq!(deadline_state(&view, "acknowledge"), "met");
    assert_eq!(view["deadlines"]["acknowledge"]["met_on"], ack_on);
    assert_eq!(view["deadlines"]["stage1_response"]["starts_on"], ack_on);
    assert_eq!(view["deadlines"]["stage1_response"]["working_days"], 10);
    assert_eq!(view["deadlines"]["stage1_response"]["extended_by"], 0);
    // Ten working days left.
    assert_eq!(deadline_state(&view, "stage1_response"), "pending");

    // Assign (manager) to the officer.
    let view = app
        .act_ok(
            &s.manager.token,
            &id,
            "assign",
            json!({"owner_id": s.officer.id}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        4,
    );
    assert_eq!(view["owner"]["id"], s.officer.id.as_str());
    assert_eq!(view["owner"]["name"], s.officer.name.as_str());

    // A note and a piece of correspondence (officer).
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "notes",
            json!({"text": "Called the engineer.", "kind": "note"}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        5,
    );
    assert_eq!(view["notes"].as_array().map(Vec::len), Some(1), "{view}");
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "notes",
            json!({"text": "Letter to the resident.", "kind": "correspondence",
                   "direction": "outbound", "channel": "letter"}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        6,
    );
    assert_eq!(view["notes"].as_array().map(Vec::len), Some(1), "{view}");
    assert_eq!(
        view["correspondence"].as_array().map(Vec::len),
        Some(1),
        "{view}"
    );

    // Evidence (officer).
    let sha = "a".repeat(64);
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "evidence",
            json!({"name": "boiler.jpg", "media_type": "image/jpeg", "size_bytes": 48213, "sha256": sha}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        7,
    );
    assert_eq!(view["evidence"].as_array().map(Vec::len), Some(1), "{view}");

    // Link a repair (officer).
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "links",
            json!({"kind": "repair", "reference": "R-88121", "note": "boiler job"}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        8,
    );
    assert_eq!(view["links"].as_array().map(Vec::len), Some(1), "{view}");

    // Categorise (officer).
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "categorise",
            json!({"theme": "repairs", "root_cause": "ageing boiler"}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        9,
    );
    assert_eq!(view["theme"], "repairs");
    assert_eq!(view["root_cause"], "ageing boiler");

    // Extend Stage 1 by 5 working days (officer).
    let due_before = str_at(&view, "/deadlines/stage1_response/due");
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "extend",
            json!({"working_days": 5, "reason": "Waiting for the engineer's report"}),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        10,
    );
    assert_eq!(view["deadlines"]["stage1_response"]["extended_by"], 5);
    assert_eq!(view["deadlines"]["stage1_response"]["working_days"], 10);
    let due_after = str_at(&view, "/deadlines/stage1_response/due");
    assert!(
        due_after > due_before,
        "extension moves the due date: {due_before} → {due_after}"
    );
    assert_eq!(
        view["extensions"].as_array().map(Vec::len),
        Some(1),
        "{view}"
    );

    // Stage 1 response (officer).
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "stage1-response",
            stage_response("partly_upheld"),
        )
        .await;
    check(
        &view,
        "open",
        "stage1",
        &["acknowledge", "stage1_response"],
        13,
    );
    assert!(view["stage1_response"].is_object(), "{view}");
    assert_eq!(deadline_state(&view, "stage1_response"), "met");
    // The remedy's and the outstanding actions are tracked until done.
    let actions: Vec<&str> = view["actions"]
        .as_array()
        .map(|a| a.iter().filter_map(|a| a["action_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["s1-a1", "s1-a2"], "{view}");

    // Escalate (advisor, on the resident's request).
    let view = app
        .act_ok(
            &s.advisor.token,
            &id,
            "escalate",
            json!({"reason": "The resident disagrees with the remedy."}),
        )
        .await;
    check(
        &view,
        "open",
        "stage2",
        &["acknowledge", "stage1_response", "stage2_acknowledge"],
        14,
    );
    let escalated_on = str_at(&view, "escalated_on");
    assert!(today.contains(&escalated_on), "{view}");
    assert_eq!(
        view["deadlines"]["stage2_acknowledge"]["starts_on"],
        escalated_on
    );
    assert_eq!(view["deadlines"]["stage2_acknowledge"]["working_days"], 5);
    assert_eq!(deadline_state(&view, "stage2_acknowledge"), "pending");

    // Stage 2 acknowledge (reviewer).
    let all = [
        "acknowledge",
        "stage1_response",
        "stage2_acknowledge",
        "stage2_response",
    ];
    let view = app
        .act_ok(&s.reviewer.token, &id, "stage2-acknowledge", json!({}))
        .await;
    check(&view, "open", "stage2", &all, 15);
    let s2_ack = str_at(&view, "stage2_acknowledged_on");
    assert!(today.contains(&s2_ack), "{view}");
    assert_eq!(deadline_state(&view, "stage2_acknowledge"), "met");
    assert_eq!(view["deadlines"]["stage2_response"]["starts_on"], s2_ack);
    assert_eq!(view["deadlines"]["stage2_response"]["working_days"], 20);
    assert_eq!(deadline_state(&view, "stage2_response"), "pending");

    // Stage 2 defined, then answered (a reviewer, not the Stage 1 responder).
    let view = app.define_stage2(&s.reviewer.token, &id, None).await;
    check(&view, "open", "stage2", &all, 16);
    assert_eq!(
        view["definitions"]["stage2"]["definition"],
        definition("stage2")["definition"]
    );
    let view = app
        .act_ok(
            &s.reviewer.token,
            &id,
            "stage2-response",
            stage_response("upheld"),
        )
        .await;
    check(&view, "open", "stage2", &all, 19);
    assert!(view["stage2_response"].is_object(), "{view}");
    assert_eq!(deadline_state(&view, "stage2_response"), "met");

    // Close (reviewer).
    let view = app
        .act_ok(
            &s.reviewer.token,
            &id,
            "close",
            json!({"remedy": {"actions": ["Boiler replaced"], "compensation_pence": 25000},
                   "learning": ["Inspect boilers older than 10 years"],
                   "open_actions_reason": "The radiators are booked for next week"}),
        )
        .await;
    check(&view, "closed", "stage2", &all, 20);
    assert!(view["closure"].is_object(), "{view}");
    for step in all {
        assert_eq!(deadline_state(&view, step), "met", "{step} after closing");
    }

    // Refer to the Housing Ombudsman (compliance).
    let view = app
        .act_ok(
            &s.compliance.token,
            &id,
            "refer",
            json!({"scheme": "housing-ombudsman", "reference": "HOS-2025-1234"}),
        )
        .await;
    check(&view, "closed", "stage2", &all, 21);
    assert_eq!(view["referral"]["scheme"], "housing-ombudsman", "{view}");

    // The history: every event, in order, with who did it.
    let (status, body) = app
        .get(
            &format!("/api/v1/complaints/{id}/history"),
            &s.auditor.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["reference"], view["reference"]);
    let events = body["events"].as_array().cloned().unwrap_or_default();
    assert_gapless(&events);
    let expected: [(&str, &User, &str); 21] = [
        ("Logged", &s.advisor, "advisor"),
        ("Defined", &s.advisor, "advisor"),
        ("Acknowledged", &s.officer, "officer"),
        ("OwnerAssigned", &s.manager, "manager"),
        ("NoteRecorded", &s.officer, "officer"),
        ("CorrespondenceRecorded", &s.officer, "officer"),
        ("EvidenceAttached", &s.officer, "officer"),
        ("LinkedCaseAdded", &s.officer, "officer"),
        ("Categorised", &s.officer, "officer"),
        ("DeadlineExtended", &s.officer, "officer"),
        ("Stage1Responded", &s.officer, "officer"),
        ("ActionTracked", &s.officer, "officer"),
        ("ActionTracked", &s.officer, "officer"),
        ("Escalated", &s.advisor, "advisor"),
        ("Stage2Acknowledged", &s.reviewer, "reviewer"),
        ("Defined", &s.reviewer, "reviewer"),
        ("Stage2Responded", &s.reviewer, "reviewer"),
        ("ActionTracked", &s.reviewer, "reviewer"),
        ("ActionTracked", &s.reviewer, "reviewer"),
        ("Closed", &s.reviewer, "reviewer"),
        ("ReferredToRedress", &s.compliance, "compliance"),
    ];
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    let expected_types: Vec<&str> = expected.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(types, expected_types);
    for (event, (ty, user, role)) in events.iter().zip(expected.iter()) {
        assert_eq!(
            event["actor"]["id"],
            user.id.as_str(),
            "actor of {ty}: {event}"
        );
        assert_eq!(event["actor"]["role"], *role, "role of {ty}: {event}");
        assert_eq!(
            event["actor"]["name"],
            user.name.as_str(),
            "name of {ty}: {event}"
        );
        for key in ["recorded_at", "occurred_at"] {
            let at = event[key].as_str().unwrap_or("");
            assert!(
                chrono::DateTime::parse_from_rfc3339(at).is_ok(),
                "{ty}.{key} is RFC 3339: {event}"
            );
        }
        assert!(
            event["version"].as_str().is_some_and(|v| !v.is_empty()),
            "{ty} has a version: {event}"
        );
        assert!(event["payload"].is_object(), "{ty} has a payload: {event}");
    }
    assert_eq!(events[4]["payload"]["text"], "Called the engineer.");
    assert_eq!(events[5]["payload"]["direction"], "outbound");
    assert_eq!(events[9]["payload"]["working_days"], 5);
    assert_eq!(
        events[19]["payload"]["open_actions"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(events[20]["payload"]["scheme"], "housing-ombudsman");
    // recorded_at never goes backwards.
    let recorded: Vec<_> = events
        .iter()
        .filter_map(|e| e["recorded_at"].as_str())
        .filter_map(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .collect();
    assert!(recorded.windows(2).all(|w| w[0] <= w[1]), "{recorded:?}");
}

async fn deadlock_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let body = merge(valid_complaint(), json!({"procedure": "cloud-direct"}));
    let view = app.log_complaint(&s.advisor.token, body).await;
    let id = str_at(&view, "id");
    assert_eq!(view["procedure"]["id"], "cloud-direct");

    app.act_ok(&s.officer.token, &id, "acknowledge", json!({}))
        .await;
    let view = app
        .act_ok(
            &s.reviewer.token,
            &id,
            "deadlock",
            json!({"reason": "The resident asked for a deadlock letter.", "on_request": true}),
        )
        .await;
    assert!(
        uk_today_candidates().contains(view["deadlocked_on"].as_str().unwrap_or("")),
        "deadlocked today: {view}"
    );
    let view = app
        .act_ok(
            &s.compliance.token,
            &id,
            "refer",
            json!({"scheme": "ombudsman-services", "reference": "OS-77"}),
        )
        .await;
    assert_eq!(view["referral"]["scheme"], "ombudsman-services", "{view}");
    let events = app.history(&id).await;
    assert_gapless(&events);
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "Logged",
            "Defined",
            "Acknowledged",
            "Deadlocked",
            "ReferredToRedress"
        ]
    );
    assert_eq!(events[3]["payload"]["on_request"], true);
    assert_eq!(events[3]["actor"]["role"], "reviewer");
}

async fn withdraw_reopen(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let view = app.log_complaint(&s.officer.token, valid_complaint()).await;
    let id = str_at(&view, "id");
    app.act_ok(&s.officer.token, &id, "acknowledge", json!({}))
        .await;

    let view = app
        .act_ok(
            &s.advisor.token,
            &id,
            "withdraw",
            json!({"reason": "The resident withdrew by phone."}),
        )
        .await;
    assert_eq!(view["status"], "withdrawn", "{view}");

    // A withdrawn case takes no stage commands.
    let (status, body) = app
        .act(
            &s.officer.token,
            &id,
            "stage1-response",
            stage_response("upheld"),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "case_closed");

    let view = app
        .act_ok(
            &s.manager.token,
            &id,
            "reopen",
            json!({"reason": "The resident asked us to continue."}),
        )
        .await;
    assert_eq!(view["status"], "open", "{view}");
    assert_eq!(view["stage"], "stage1", "{view}");

    // And the case continues where it was.
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "stage1-response",
            stage_response("not_upheld"),
        )
        .await;
    assert!(view["stage1_response"].is_object(), "{view}");
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "close",
            json!({"open_actions_reason": "The repairs are booked"}),
        )
        .await;
    assert_eq!(view["status"], "closed", "{view}");

    let events = app.history(&id).await;
    assert_gapless(&events);
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "Logged",
            "Defined",
            "Acknowledged",
            "Withdrawn",
            "Reopened",
            "Stage1Responded",
            "ActionTracked",
            "ActionTracked",
            "Closed"
        ]
    );
}

async fn refusal_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    // The issue arose two years before the complaint was received.
    let body = merge(
        valid_complaint(),
        json!({"issue_arose_on": days_ago(3 + 2 * 366)}),
    );
    let view = app.log_complaint(&s.advisor.token, body).await;
    let id = str_at(&view, "id");
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "refuse",
            json!({"reason": "older_than_twelve_months",
                   "explanation": "The boiler issue arose in an earlier tenancy year."}),
        )
        .await;
    assert_eq!(view["status"], "refused", "{view}");
    assert!(view["refusal"].is_object(), "{view}");
    // A refusal ends the in-house procedure: the resident may go to the ombudsman.
    let view = app
        .act_ok(
            &s.manager.token,
            &id,
            "refer",
            json!({"scheme": "housing-ombudsman", "reference": "HOS-9"}),
        )
        .await;
    assert_eq!(view["referral"]["scheme"], "housing-ombudsman", "{view}");
    assert_eq!(
        app.event_types(&id).await,
        ["Logged", "Defined", "Refused", "ReferredToRedress"]
    );
}

async fn references(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, advisor) = app.create_user("Ada", &["advisor"]).await;
    // Four one after the other and four at once.
    let mut refs = Vec::new();
    let mut ids = BTreeSet::new();
    for _ in 0..4 {
        let view = app.log_complaint(&advisor, valid_complaint()).await;
        refs.push(str_at(&view, "reference"));
        ids.insert(str_at(&view, "id"));
    }
    let together =
        futures::future::join_all((0..4).map(|_| app.log_complaint(&advisor, valid_complaint())))
            .await;
    for view in together {
        refs.push(str_at(&view, "reference"));
        ids.insert(str_at(&view, "id"));
    }
    // The year of logging: now, in UTC or an hour ahead (the UK).
    let years: BTreeSet<String> = uk_today_candidates()
        .iter()
        .map(|d| d[..4].to_string())
        .collect();
    for r in &refs {
        let ok = r.len() == 14
            && r.starts_with("CF-")
            && years.contains(&r[3..7])
            && &r[7..8] == "-"
            && r[8..].chars().all(|c| c.is_ascii_digit());
        assert!(ok, "reference `{r}` is not CF-YYYY-NNNNNN of this year");
    }
    let unique: BTreeSet<&String> = refs.iter().collect();
    assert_eq!(unique.len(), refs.len(), "references repeat: {refs:?}");
    assert_eq!(ids.len(), 8, "ids repeat");
    assert_eq!(app.case_total().await, 8);
    let serial = |r: &String| r[8..].parse::<u64>().unwrap();
    let mut serials: Vec<u64> = refs.iter().map(serial).collect();
    serials.sort_unstable();
    assert_eq!(serials, (1..=8).collect::<Vec<_>>(), "no gaps: {refs:?}");
    if backend == Backend::Sqlite {
        // Another process on the same file takes five serials: the next log's guess from
        // the last serial this one took is wrong, and it takes the right one instead.
        app.sql("UPDATE reference_counters SET last = last + 5")
            .await;
        for expected in [14, 15] {
            let view = app.log_complaint(&advisor, valid_complaint()).await;
            assert_eq!(serial(&str_at(&view, "reference")), expected, "{view}");
        }
        assert_eq!(
            app.case_total().await,
            10,
            "the refused guess wrote nothing"
        );
        // Both outcomes happened (the counters are the process's, shared by every test in
        // it, so only their presence is this test's).
        let metrics = app.metrics_text().await;
        for outcome in ["right", "wrong"] {
            let line = format!("casefile_sqlite_serial_guesses_total{{outcome=\"{outcome}\"}} ");
            assert!(metrics.contains(&line), "{line}in\n{metrics}");
        }
        // The writer's transactions and its commits' waits are timed, in seconds' buckets.
        for histogram in ["write", "commit_wait"] {
            let line = format!("casefile_sqlite_{histogram}_seconds_bucket{{le=\"0.001\"}} ");
            assert!(metrics.contains(&line), "{line}in\n{metrics}");
        }
    }
}

async fn me_and_users_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, created) = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": "Sam Patel", "roles": ["officer", "reviewer"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "Sam Patel");
    assert_eq!(created["roles"], json!(["officer", "reviewer"]));
    let id = str_at(&created, "id");
    let token = str_at(&created, "token");
    assert!(token.starts_with("cf_"), "token shape: {token}");

    let (status, me) = app.get("/api/v1/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["name"], "Sam Patel");
    assert_eq!(me["roles"], json!(["officer", "reviewer"]));
    assert!(me.get("token").is_none(), "GET /me shows no token: {me}");

    let (status, users) = app.get("/api/v1/users", &app.admin_token).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert!(
        users.to_string().contains(&id),
        "GET /users lists the new user: {users}"
    );
    assert!(
        !users.to_string().contains(&token),
        "GET /users never shows a token again: {users}"
    );

    // A new token for the same user works alongside.
    let (status, issued) = app
        .post(
            &format!("/api/v1/users/{id}/tokens"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!(issued["id"], id.as_str());
    let second = str_at(&issued, "token");
    assert_ne!(second, token);
    let (status, me) = app.get("/api/v1/me", &second).await;
    assert_eq!((status, me["id"].clone()), (StatusCode::OK, json!(id)));

    // An unknown role is refused, and no user is created.
    let (status, body) = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            json!({"name": "Nobody", "roles": ["wizard"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error_shape(&body);
    let (_, after) = app.get("/api/v1/users", &app.admin_token).await;
    assert!(!after.to_string().contains("Nobody"), "{after}");
}

/// `Prefer: return=minimal` leaves the four lists out of a command's answer and nothing
/// else; the case keeps them, and an answer without the preference has them all.
async fn minimal_answers_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.new_case().await;
    let lists = ["notes", "correspondence", "evidence", "links"];
    let full = app
        .act_ok(
            &app.admin_token,
            &id,
            "notes",
            json!({"text": "First call"}),
        )
        .await;
    let path = format!("/api/v1/complaints/{id}/notes");
    for prefer in ["return=minimal", "respond-async, RETURN = \"minimal\"; x=1"] {
        let answer = app
            .post_with_headers(
                &path,
                &app.admin_token,
                json!({"text": "Second call"}),
                &[("prefer", prefer)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.header("preference-applied"), Some("return=minimal"));
        let minimal = answer.json.as_object().unwrap();
        for list in lists {
            assert!(
                !minimal.contains_key(list),
                "{list} left out: {}",
                answer.text
            );
        }
        for (key, value) in full.as_object().unwrap() {
            if !lists.contains(&key.as_str()) && !["version", "updated_at"].contains(&key.as_str())
            {
                assert_eq!(minimal.get(key), Some(value), "{key} as in a full answer");
            }
        }
    }
    let case = app.case(&id).await;
    let notes: Vec<&str> = case["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["First call", "Second call", "Second call"]);
    // Without the preference, the answer has every list again.
    let answer = app
        .post_with_headers(
            &path,
            &app.admin_token,
            json!({"text": "Third"}),
            &[("prefer", "return=representation")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header("preference-applied"), None);
    assert_eq!(
        answer.json["notes"].as_array().unwrap().len(),
        4,
        "{}",
        answer.text
    );
    for list in lists {
        assert!(answer.json[list].is_array(), "{list}: {}", answer.text);
    }
}
