//! Procedure automation: each rule acts once, as an ordinary event by an actor naming the
//! rule, with the rule in the history; two instances scanning and a restart never repeat it;
//! and staff entries dated before an automatic one are still taken.

use std::path::Path;
use std::time::Duration;

use casefile_tests::*;

both_backends! {
    new_cases_are_assigned_round_robin_and_acknowledged_once => assign_and_acknowledge,
    a_breached_stage1_is_escalated_once_and_earlier_entries_still_fit => escalate,
    cloud_direct_cases_deadlock_once_after_eight_weeks_and_may_be_referred => deadlock,
    a_scheduled_scan_reads_the_open_cases_in_a_rule_s_reach_a_page_at_a_time => open_case_pages,
}

/// Every page of open cases in `reach`, two at a time: the cases, and how many pages.
async fn in_reach(
    store: &casefile_store::Store,
    reach: &casefile_store::outbox::AutomationReach,
) -> (Vec<casefile_store::outbox::OpenCase>, usize) {
    let (mut seen, mut after, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let page = store.open_cases_in_reach(&after, 2, reach).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 2, "a page holds at most its limit");
        after = last.id.clone();
        pages += 1;
        seen.extend(page);
    }
    (seen, pages)
}

/// A scheduled scan's read of open cases, in pages smaller than the store: every open case
/// a rule may act on, once, with its unmet steps; no closed case, and no case out of every
/// rule's reach (under a procedure without the rule, or not old enough for it).
async fn open_case_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut open = std::collections::BTreeSet::new();
    for _ in 0..5 {
        open.insert(app.new_case().await);
    }
    let withdrawn = app.new_case().await;
    app.act_ok(
        &app.admin_token,
        &withdrawn,
        "withdraw",
        json!({"reason": "The resident withdrew by phone."}),
    )
    .await;
    // Cloud Direct declares deadlock eight weeks (56 days) after receipt: received on the
    // limit's day and the day after it, and a week either side.
    let mut cloud = Vec::new();
    for days in [63, 56, 55, 49] {
        let complaint = backdated_complaint("cloud-direct", "england-and-wales", &days_ago(days));
        let view = app.log_complaint(&app.admin_token, complaint).await;
        cloud.push(str_at(&view, "id"));
    }
    let [nine_weeks, eight_weeks, seven_weeks] =
        [cloud[0].clone(), cloud[1].clone(), cloud[3].clone()];
    let store = casefile_store::Store::open(&app.database_url(), casefile_store::Access::ReadOnly)
        .await
        .unwrap();
    let today: chrono::NaiveDate = days_ago(0).parse().unwrap();
    let nowhere = casefile_store::outbox::AutomationReach {
        today,
        assign: Vec::new(),
        acknowledge: Vec::new(),
        escalate: Vec::new(),
        deadlock: Vec::new(),
    };
    let ids = |cases: &[casefile_store::outbox::OpenCase]| -> Vec<String> {
        cases.iter().map(|c| c.id.clone()).collect()
    };
    assert!(nowhere.is_empty());
    assert!(in_reach(&store, &nowhere).await.0.is_empty());

    let acknowledging = casefile_store::outbox::AutomationReach {
        acknowledge: vec!["chc-2024".into()],
        ..nowhere.clone()
    };
    let (seen, pages) = in_reach(&store, &acknowledging).await;
    assert_eq!(pages, 3, "five open cases in pages of two");
    assert_eq!(
        ids(&seen)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        open
    );
    assert_eq!(seen.len(), open.len(), "each case once");
    for case in &seen {
        let steps: Vec<&str> = case.unmet.iter().map(|(s, _)| s.as_str()).collect();
        assert!(steps.contains(&"acknowledge"), "{}: {steps:?}", case.id);
    }

    let deadlocking = casefile_store::outbox::AutomationReach {
        deadlock: vec![("cloud-direct".into(), today - chrono::Days::new(56))],
        ..nowhere.clone()
    };
    let mut past_limit = vec![nine_weeks, eight_weeks];
    past_limit.sort();
    assert_eq!(ids(&in_reach(&store, &deadlocking).await.0), past_limit);
    let assigning = casefile_store::outbox::AutomationReach {
        assign: vec!["cloud-direct".into()],
        ..nowhere.clone()
    };
    let mut unowned = cloud;
    unowned.sort();
    assert_eq!(ids(&in_reach(&store, &assigning).await.0), unowned);
    app.act_ok(
        &app.admin_token,
        &seven_weeks,
        "assign",
        json!({"owner_id": app.user("Olu Officer", "officer").await.id}),
    )
    .await;
    unowned.retain(|id| *id != seven_weeks);
    assert_eq!(ids(&in_reach(&store, &assigning).await.0), unowned);

    // Stage 1 cases whose response was due before the reach's day: not on the day it
    // is due, from the day after.
    let acknowledged = open.last().unwrap().clone();
    app.act_ok(&app.admin_token, &acknowledged, "acknowledge", json!({}))
        .await;
    let due: chrono::NaiveDate = app.case(&acknowledged).await["deadlines"]["stage1_response"]
        ["due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let escalating = casefile_store::outbox::AutomationReach {
        escalate: vec!["chc-2024".into()],
        ..nowhere.clone()
    };
    assert!(in_reach(&store, &escalating).await.0.is_empty());
    let on_the_day = casefile_store::outbox::AutomationReach {
        today: due,
        ..escalating.clone()
    };
    assert!(in_reach(&store, &on_the_day).await.0.is_empty());
    let the_day_after = casefile_store::outbox::AutomationReach {
        today: due + chrono::Days::new(1),
        ..escalating
    };
    assert_eq!(
        ids(&in_reach(&store, &the_day_after).await.0),
        [acknowledged]
    );

    // Among named cases (as after a burst of commands): the open ones, with their steps.
    let mut named: Vec<String> = open.iter().take(2).cloned().collect();
    named.push(withdrawn.clone());
    named.push(uuid::Uuid::now_v7().to_string());
    let among = store.open_cases_among(&named).await.unwrap();
    let ids: Vec<&str> = among.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        named[..2].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(among
        .iter()
        .all(|c| c.unmet.iter().any(|(step, _)| step == "acknowledge")));
    assert!(store.open_cases_among(&[]).await.unwrap().is_empty());
}

/// A procedure with every automation rule on, assigning round robin over `officers`, in a
/// temporary file removed when the returned path is dropped.
fn procedure_file(officers: &[&str]) -> tempfile::TempPath {
    let officers: Vec<String> = officers.iter().map(|id| format!("\"{id}\"")).collect();
    let text = format!(
        r#"
id = "auto-homes"
version = 1
name = "Auto Homes"
steps = [
  {{ step = "acknowledge", from = "received", working_days = 5 }},
  {{ step = "stage1_response", from = "acknowledged", working_days = 10 }},
  {{ step = "stage2_acknowledge", from = "escalated", working_days = 5 }},
  {{ step = "stage2_response", from = "stage2_acknowledged", working_days = 20 }},
]
[extensions.stage1]
max_working_days = 10
[redress]
schemes = ["housing-ombudsman"]
[automation]
acknowledge_on_logging = true
escalate_breached_stage1 = true
[automation.assign]
officers = [{}]
"#,
        officers.join(", ")
    );
    let path = tempfile::Builder::new()
        .prefix("casefile-")
        .suffix("-auto-homes.toml")
        .tempfile()
        .expect("a temp file")
        .into_temp_path();
    std::fs::write(&path, text).expect("the procedure written");
    path
}

/// The watchdog on, and `procedure` loaded.
fn automated(procedure: &Path) -> impl FnOnce(&mut casefile_api::config::Config) {
    let procedure = procedure.to_path_buf();
    move |config| {
        config.watchdog_interval_secs = 60;
        config.procedures = vec![procedure];
    }
}

fn watching(config: &mut casefile_api::config::Config) {
    config.watchdog_interval_secs = 60;
}

async fn count(app: &TestApp, id: &str, event_type: &str) -> usize {
    app.event_types(id)
        .await
        .iter()
        .filter(|t| *t == event_type)
        .count()
}

/// The history entries of one type.
async fn entries(app: &TestApp, id: &str, event_type: &str) -> Vec<Value> {
    app.history(id)
        .await
        .into_iter()
        .filter(|e| e["type"] == event_type)
        .collect()
}

/// A note through each instance, so each scans again at once; then time for them to act.
/// Dated `at` if given, so that later backdated entries still follow it.
async fn kick_all(instances: &[&TestApp], id: &str, at: Option<&str>) {
    let mut note = json!({"text": "chased"});
    if let Some(at) = at {
        note["occurred_at"] = json!(at);
    }
    for app in instances {
        app.act_ok(&app.admin_token, id, "notes", note.clone())
            .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn assign_and_acknowledge(backend: Backend) {
    // Users first, since the procedure names them; this instance does not scan.
    let app = spawn_app(backend).await;
    let olu = app.user("Olu Officer", "officer").await;
    let pat = app.user("Pat Officer", "officer").await;
    let file = procedure_file(&[&olu.id, &pat.id]);
    let first = app.sibling_with(automated(&file)).await;
    let second = app.sibling_with(automated(&file)).await;

    let received = days_ago(3);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let view = first
            .log_complaint(
                &app.admin_token,
                backdated_complaint("auto-homes", "england-and-wales", &received),
            )
            .await;
        ids.push(str_at(&view, "id"));
    }
    for id in &ids {
        eventually("assignment and acknowledgement", || async {
            count(&app, id, "OwnerAssigned").await == 1
                && count(&app, id, "Acknowledged").await == 1
        })
        .await;
    }

    // Staff entries dated before the automatic acknowledgement are taken: a note, and the
    // acknowledgement really made by phone that morning.
    let morning = format!("{received}T10:00:00Z");
    app.act_ok(
        &app.admin_token,
        &ids[1],
        "notes",
        json!({"text": "rang the resident", "occurred_at": morning}),
    )
    .await;
    app.act_ok(
        &app.admin_token,
        &ids[1],
        "acknowledge",
        json!({"occurred_at": format!("{received}T11:00:00Z")}),
    )
    .await;
    // Once a person's acknowledgement is on record, another one now is a duplicate.
    let (status, body) = app
        .act(&app.admin_token, &ids[1], "acknowledge", json!({}))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_acknowledged");

    // Both instances look again, then one restarts and looks again: nothing repeats.
    kick_all(&[&first, &second], &ids[0], None).await;
    drop(second);
    let restarted = app.sibling_with(automated(&file)).await;
    kick_all(&[&restarted], &ids[0], None).await;

    // Serials 1, 2, 3 in logging order: Olu, Pat, Olu.
    let expected = [&olu.id, &pat.id, &olu.id];
    for (id, owner) in ids.iter().zip(expected) {
        let assigned = entries(&app, id, "OwnerAssigned").await;
        assert_eq!(assigned.len(), 1, "{assigned:?}");
        assert_eq!(assigned[0]["actor"]["id"], "system:auto-assign");
        assert_eq!(assigned[0]["rule"], "automation.assign");
        assert_eq!(assigned[0]["payload"]["owner"]["id"], owner.as_str());
    }
    let acknowledged = entries(&app, &ids[0], "Acknowledged").await;
    assert_eq!(acknowledged.len(), 1, "{acknowledged:?}");
    assert_eq!(acknowledged[0]["actor"]["id"], "system:auto-acknowledge");
    assert_eq!(acknowledged[0]["rule"], "automation.acknowledge_on_logging");
    // The acknowledgement letter goes with it, once, by the same rule.
    let letters = entries(&app, &ids[0], "LetterIssued").await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["actor"]["id"], "system:auto-acknowledge");
    assert_eq!(letters[0]["rule"], "automation.acknowledge_on_logging");
    assert_eq!(letters[0]["payload"]["kind"], "acknowledgement");
    let reference = str_at(&app.case(&ids[0]).await, "reference");
    assert!(
        letters[0]["payload"]["text"]
            .as_str()
            .unwrap()
            .contains(&reference),
        "the letter names the case: {}",
        letters[0]
    );
    // The staff acknowledgement follows the automatic one, carrying no rule.
    let acknowledged = entries(&app, &ids[1], "Acknowledged").await;
    assert_eq!(acknowledged.len(), 2, "{acknowledged:?}");
    assert_eq!(acknowledged[1]["actor"]["id"], "admin");
    assert!(acknowledged[1].get("rule").is_none(), "{}", acknowledged[1]);
}

async fn escalate(backend: Backend) {
    let app = spawn_app(backend).await;
    let olu = app.user("Olu Officer", "officer").await;
    let file = procedure_file(&[&olu.id]);
    let first = app.sibling_with(automated(&file)).await;
    let second = app.sibling_with(automated(&file)).await;

    // Received and acknowledged Monday 3 March 2025: Stage 1 is due ten working days
    // later, Monday 17 March (no bank holiday between), long breached.
    let view = first
        .log_complaint(
            &app.admin_token,
            backdated_complaint("auto-homes", "england-and-wales", "2025-03-03"),
        )
        .await;
    let id = str_at(&view, "id");
    // Taken whether or not the automatic acknowledgement came first.
    app.act_ok(
        &app.admin_token,
        &id,
        "acknowledge",
        json!({"occurred_at": "2025-03-03T10:00:00Z"}),
    )
    .await;
    eventually("the escalation", || async {
        count(&app, &id, "Escalated").await == 1
    })
    .await;
    let at = Some("2025-03-03T10:00:00Z");
    kick_all(&[&first, &second], &id, at).await;
    drop(second);
    let restarted = app.sibling_with(automated(&file)).await;
    kick_all(&[&restarted], &id, at).await;

    let escalated = entries(&app, &id, "Escalated").await;
    assert_eq!(escalated.len(), 1, "{escalated:?}");
    assert_eq!(escalated[0]["actor"]["id"], "system:auto-escalate");
    assert_eq!(escalated[0]["rule"], "automation.escalate_breached_stage1");
    let reason = escalated[0]["payload"]["reason"].as_str().unwrap();
    assert!(reason.contains("2025-03-17"), "{reason}");

    // Entries dated before the automatic escalation still fit: an extension then was a
    // Stage 1 extension, and the Stage 1 response is taken.
    let view = app
        .act_ok(
            &app.admin_token,
            &id,
            "extend",
            json!({"working_days": 5, "reason": "waiting for a surveyor", "occurred_at": "2025-03-12T10:00:00Z"}),
        )
        .await;
    assert_eq!(view["status"], "open", "{view}");
    let extended = entries(&app, &id, "DeadlineExtended").await;
    assert_eq!(extended[0]["payload"]["stage"], "stage1");
    let mut response = stage_response("upheld");
    response["occurred_at"] = json!("2025-03-20T10:00:00Z");
    app.act_ok(&app.admin_token, &id, "stage1-response", response)
        .await;
}

async fn deadlock(backend: Backend) {
    let app = spawn_app_with(backend, watching).await;
    let sibling = app.sibling_with(watching).await;
    // Received Monday 3 March 2025: eight weeks later is 28 April 2025, long past.
    let old = app
        .log_complaint(
            &app.admin_token,
            backdated_complaint("cloud-direct", "england-and-wales", "2025-03-03"),
        )
        .await;
    let old = str_at(&old, "id");
    // Received 50 days ago: 56 days are not up yet.
    let recent = app
        .log_complaint(
            &app.admin_token,
            backdated_complaint("cloud-direct", "england-and-wales", &days_ago(50)),
        )
        .await;
    let recent = str_at(&recent, "id");
    eventually("the deadlock", || async {
        count(&app, &old, "Deadlocked").await == 1
    })
    .await;
    let at = Some("2025-03-03T09:00:00Z");
    kick_all(&[&app, &sibling], &old, at).await;
    drop(sibling);
    let restarted = app.sibling_with(watching).await;
    kick_all(&[&restarted], &old, at).await;
    kick_all(&[&restarted], &recent, None).await;

    let deadlocked = entries(&app, &old, "Deadlocked").await;
    assert_eq!(deadlocked.len(), 1, "{deadlocked:?}");
    assert_eq!(deadlocked[0]["actor"]["id"], "system:auto-deadlock");
    assert_eq!(deadlocked[0]["rule"], "automation.deadlock_after_limit");
    assert_eq!(deadlocked[0]["payload"]["on_request"], false);
    let reason = deadlocked[0]["payload"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("8 weeks after receipt on 2025-03-03"),
        "{reason}"
    );
    assert_eq!(count(&app, &recent, "Deadlocked").await, 0);

    // The deadlock is what opens the way to the scheme.
    let refer = json!({"scheme": "ombudsman-services"});
    let (status, body) = app
        .act(&app.admin_token, &recent, "refer", refer.clone())
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "procedure_not_exhausted",
    );
    // A deadlock the resident asked for before the automatic one is still recorded.
    app.act_ok(
        &app.admin_token,
        &old,
        "deadlock",
        json!({"on_request": true, "reason": "asked for by phone", "occurred_at": "2025-04-01T10:00:00Z"}),
    )
    .await;
    app.act_ok(&app.admin_token, &old, "refer", refer).await;
}
