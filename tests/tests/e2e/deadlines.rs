//! Backdated lives with `occurred_at`: the exact due dates of every chc-2024 step,
//! worked out by hand below (day 0 is the day the clock starts; only Monday–Friday less
//! the division's bank holidays count).
//!
//! chc-2024: acknowledge = received + 5; stage1_response = acknowledged + 10;
//! stage2_acknowledge = escalated + 5; stage2_response = stage 2 acknowledged + 20
//! (plus any extension of the stage).

use casefile_tests::*;

both_backends! {
    england_christmas_2019 => england_christmas_2019_scenario,
    england_jubilee_2022 => england_jubilee_2022_scenario,
    scotland_st_andrew_and_new_year => scotland_scenario,
    northern_ireland_twelfth_of_july => northern_ireland_scenario,
    cloud_direct_clocks_start_at_receipt => cloud_direct_scenario,
}

/// A backdated `occurred_at` at 10:00 UTC (the same day in the UK, summer or winter).
fn on(date: &str) -> String {
    format!("{date}T10:00:00Z")
}

/// Asserts one deadline in full.
#[track_caller]
fn expect(
    view: &Value,
    step: &str,
    starts_on: &str,
    working_days: u64,
    extended_by: u64,
    due: &str,
    state: &str,
) {
    let d = &view["deadlines"][step];
    assert!(d.is_object(), "no `{step}` deadline: {view}");
    assert_eq!(d["starts_on"], starts_on, "{step}.starts_on: {d}");
    assert_eq!(d["working_days"], working_days, "{step}.working_days: {d}");
    assert_eq!(d["extended_by"], extended_by, "{step}.extended_by: {d}");
    assert_eq!(d["due"], due, "{step}.due: {d}");
    assert_eq!(d["state"], state, "{step}.state: {d}");
}

#[track_caller]
fn expect_met_on(view: &Value, step: &str, met_on: &str) {
    assert_eq!(
        view["deadlines"][step]["met_on"], met_on,
        "{step}.met_on: {view}"
    );
}

/// The four chc-2024 steps of one life, in order, each with its backdated day.
struct Life<'a> {
    division: &'a str,
    received: &'a str,
    acknowledged: &'a str,
    stage1_responded: &'a str,
    escalated: &'a str,
    stage2_acknowledged: &'a str,
    stage2_responded: &'a str,
}

/// Hand-computed expectations: (due, final state) per step.
struct Expected<'a> {
    acknowledge: (&'a str, &'a str),
    stage1_response: (&'a str, &'a str),
    stage2_acknowledge: (&'a str, &'a str),
    stage2_response: (&'a str, &'a str),
}

/// Drives a life through both stages and checks every deadline after each step. Every
/// date lies in the past, so an unmet step is `breached`.
async fn drive(backend: Backend, life: Life<'_>, want: Expected<'_>) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    let body = backdated_complaint("chc-2024", life.division, life.received);
    let view = app.log_complaint(&s.advisor.token, body).await;
    let id = str_at(&view, "id");
    assert_eq!(deadline_keys(&view), set(&["acknowledge"]), "{view}");
    expect(
        &view,
        "acknowledge",
        life.received,
        5,
        0,
        want.acknowledge.0,
        "breached",
    );

    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "acknowledge",
            json!({"occurred_at": on(life.acknowledged)}),
        )
        .await;
    assert_eq!(view["acknowledged_on"], life.acknowledged);
    expect(
        &view,
        "acknowledge",
        life.received,
        5,
        0,
        want.acknowledge.0,
        want.acknowledge.1,
    );
    expect_met_on(&view, "acknowledge", life.acknowledged);
    let s1 = want.stage1_response.0;
    expect(
        &view,
        "stage1_response",
        life.acknowledged,
        10,
        0,
        s1,
        "breached",
    );

    let mut body = stage_response("partly_upheld");
    body["occurred_at"] = json!(on(life.stage1_responded));
    let view = app
        .act_ok(&s.officer.token, &id, "stage1-response", body)
        .await;
    let s1_state = want.stage1_response.1;
    expect(
        &view,
        "stage1_response",
        life.acknowledged,
        10,
        0,
        s1,
        s1_state,
    );
    expect_met_on(&view, "stage1_response", life.stage1_responded);

    let view = app
        .act_ok(
            &s.advisor.token,
            &id,
            "escalate",
            json!({"reason": "Not satisfied", "occurred_at": on(life.escalated)}),
        )
        .await;
    assert_eq!(view["escalated_on"], life.escalated);
    let s2a = want.stage2_acknowledge.0;
    expect(
        &view,
        "stage2_acknowledge",
        life.escalated,
        5,
        0,
        s2a,
        "breached",
    );

    let view = app
        .act_ok(
            &s.reviewer.token,
            &id,
            "stage2-acknowledge",
            json!({"occurred_at": on(life.stage2_acknowledged)}),
        )
        .await;
    let s2a_state = want.stage2_acknowledge.1;
    expect(
        &view,
        "stage2_acknowledge",
        life.escalated,
        5,
        0,
        s2a,
        s2a_state,
    );
    expect_met_on(&view, "stage2_acknowledge", life.stage2_acknowledged);
    let s2r = want.stage2_response.0;
    expect(
        &view,
        "stage2_response",
        life.stage2_acknowledged,
        20,
        0,
        s2r,
        "breached",
    );

    // Stage 2 is defined on the day it is acknowledged.
    app.define_stage2(&s.reviewer.token, &id, Some(&on(life.stage2_acknowledged)))
        .await;
    let mut body = stage_response("upheld");
    body["occurred_at"] = json!(on(life.stage2_responded));
    let view = app
        .act_ok(&s.reviewer.token, &id, "stage2-response", body)
        .await;
    // Every step at the end, with its hand-computed due date and state.
    expect(
        &view,
        "acknowledge",
        life.received,
        5,
        0,
        want.acknowledge.0,
        want.acknowledge.1,
    );
    expect(
        &view,
        "stage1_response",
        life.acknowledged,
        10,
        0,
        s1,
        s1_state,
    );
    expect(
        &view,
        "stage2_acknowledge",
        life.escalated,
        5,
        0,
        s2a,
        s2a_state,
    );
    let s2r_state = want.stage2_response.1;
    expect(
        &view,
        "stage2_response",
        life.stage2_acknowledged,
        20,
        0,
        s2r,
        s2r_state,
    );
    expect_met_on(&view, "stage2_response", life.stage2_responded);

    // The stored view says the same.
    let stored = app.case(&id).await;
    assert_eq!(stored["deadlines"], view["deadlines"]);
    let events = app.history(&id).await;
    assert_gapless(&events);
    // Logged and defined, acknowledged, answered with two tracked actions, escalated,
    // acknowledged and defined, answered with two more.
    assert_eq!(events.len(), 12);
    let logged_at = events[0]["occurred_at"].as_str().unwrap_or("");
    let want_at = format!("{}T09:00:00Z", life.received);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(logged_at).ok(),
        chrono::DateTime::parse_from_rfc3339(&want_at).ok(),
        "Logged.occurred_at is the backdated time: {}",
        events[0]
    );
}

async fn england_christmas_2019_scenario(backend: Backend) {
    drive(
        backend,
        Life {
            division: "england-and-wales",
            // Friday 20 December 2019.
            received: "2019-12-20",
            acknowledged: "2019-12-23",
            stage1_responded: "2020-01-08",
            escalated: "2020-01-10",
            stage2_acknowledged: "2020-01-20",
            stage2_responded: "2020-02-14",
        },
        Expected {
            // From Fri 20 Dec: Mon 23 (1), Tue 24 (2), [Wed 25, Thu 26 Christmas, Boxing Day],
            // Fri 27 (3), Mon 30 (4), Tue 31 (5). Acknowledged Mon 23: met.
            acknowledge: ("2019-12-31", "met"),
            // From Mon 23 Dec: Tue 24 (1), Fri 27 (2), Mon 30 (3), Tue 31 (4),
            // [Wed 1 Jan New Year], Thu 2 (5), Fri 3 (6), Mon 6 (7), Tue 7 (8), Wed 8 (9),
            // Thu 9 (10). Responded Wed 8 Jan: met.
            stage1_response: ("2020-01-09", "met"),
            // From Fri 10 Jan: Mon 13 … Fri 17 (5). Acknowledged Mon 20: late.
            stage2_acknowledge: ("2020-01-17", "met_late"),
            // From Mon 20 Jan: Tue 21–Fri 24 (4), 27–31 Jan (9), 3–7 Feb (14), 10–14 Feb (19),
            // Mon 17 Feb (20). No holidays. Responded Fri 14 Feb: met.
            stage2_response: ("2020-02-17", "met"),
        },
    )
    .await;
}

async fn england_jubilee_2022_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    // Friday 27 May 2022; the spring bank holiday moved to Thu 2 June and Fri 3 June was
    // the Platinum Jubilee, so Mon 30 May was a working day.
    let body = backdated_complaint("chc-2024", "england-and-wales", "2022-05-27");
    let view = app.log_complaint(&s.advisor.token, body).await;
    let id = str_at(&view, "id");
    // Mon 30 May (1), Tue 31 (2), Wed 1 Jun (3), [Thu 2, Fri 3], Mon 6 (4), Tue 7 (5).
    expect(
        &view,
        "acknowledge",
        "2022-05-27",
        5,
        0,
        "2022-06-07",
        "breached",
    );

    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "acknowledge",
            json!({"occurred_at": on("2022-06-01")}),
        )
        .await;
    expect(
        &view,
        "acknowledge",
        "2022-05-27",
        5,
        0,
        "2022-06-07",
        "met",
    );
    // From Wed 1 Jun: [Thu 2, Fri 3], Mon 6 (1) … Fri 10 (5), Mon 13 (6) … Fri 17 (10).
    expect(
        &view,
        "stage1_response",
        "2022-06-01",
        10,
        0,
        "2022-06-17",
        "breached",
    );

    // Extended by 3 on Fri 10 June: Mon 20 (11), Tue 21 (12), Wed 22 (13).
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "extend",
            json!({"working_days": 3, "reason": "Specialist survey booked",
                   "resident_informed_on": "2022-06-10", "occurred_at": on("2022-06-10")}),
        )
        .await;
    expect(
        &view,
        "stage1_response",
        "2022-06-01",
        10,
        3,
        "2022-06-22",
        "breached",
    );

    let mut body = stage_response("upheld");
    body["occurred_at"] = json!(on("2022-06-21"));
    let view = app
        .act_ok(&s.officer.token, &id, "stage1-response", body)
        .await;
    expect(
        &view,
        "stage1_response",
        "2022-06-01",
        10,
        3,
        "2022-06-22",
        "met",
    );

    // Escalated Fri 26 Aug: [Mon 29 Aug summer bank holiday], Tue 30 (1), Wed 31 (2),
    // Thu 1 Sep (3), Fri 2 (4), Mon 5 (5).
    let view = app
        .act_ok(
            &s.advisor.token,
            &id,
            "escalate",
            json!({"reason": "Works not done", "occurred_at": on("2022-08-26")}),
        )
        .await;
    expect(
        &view,
        "stage2_acknowledge",
        "2022-08-26",
        5,
        0,
        "2022-09-05",
        "breached",
    );

    // Acknowledged on the due day: met.
    let view = app
        .act_ok(
            &s.reviewer.token,
            &id,
            "stage2-acknowledge",
            json!({"occurred_at": on("2022-09-05")}),
        )
        .await;
    expect(
        &view,
        "stage2_acknowledge",
        "2022-08-26",
        5,
        0,
        "2022-09-05",
        "met",
    );
    // From Mon 5 Sep: Tue 6–Fri 9 (4), Mon 12–Fri 16 (9), [Mon 19 the Queen's funeral],
    // Tue 20–Fri 23 (13), Mon 26–Fri 30 (18), Mon 3 Oct (19), Tue 4 Oct (20).
    expect(
        &view,
        "stage2_response",
        "2022-09-05",
        20,
        0,
        "2022-10-04",
        "breached",
    );

    app.define_stage2(&s.reviewer.token, &id, Some(&on("2022-09-05")))
        .await;
    let mut body = stage_response("upheld");
    body["occurred_at"] = json!(on("2022-10-05"));
    let view = app
        .act_ok(&s.reviewer.token, &id, "stage2-response", body)
        .await;
    expect(
        &view,
        "stage2_response",
        "2022-09-05",
        20,
        0,
        "2022-10-04",
        "met_late",
    );
    expect(
        &view,
        "acknowledge",
        "2022-05-27",
        5,
        0,
        "2022-06-07",
        "met",
    );
    expect(
        &view,
        "stage1_response",
        "2022-06-01",
        10,
        3,
        "2022-06-22",
        "met",
    );
    expect(
        &view,
        "stage2_acknowledge",
        "2022-08-26",
        5,
        0,
        "2022-09-05",
        "met",
    );

    let view = app
        .act_ok(
            &s.reviewer.token,
            &id,
            "close",
            json!({"occurred_at": on("2022-10-06"),
                   "open_actions_reason": "The boiler is on order"}),
        )
        .await;
    assert_eq!(view["status"], "closed");
    expect(
        &view,
        "stage2_response",
        "2022-09-05",
        20,
        0,
        "2022-10-04",
        "met_late",
    );
}

async fn scotland_scenario(backend: Backend) {
    drive(
        backend,
        Life {
            division: "scotland",
            // Monday 27 November 2023.
            received: "2023-11-27",
            acknowledged: "2023-12-18",
            stage1_responded: "2024-01-05",
            escalated: "2024-01-08",
            stage2_acknowledged: "2024-01-09",
            stage2_responded: "2024-02-01",
        },
        Expected {
            // Tue 28 (1), Wed 29 (2), [Thu 30 Nov St Andrew's Day], Fri 1 Dec (3), Mon 4 (4),
            // Tue 5 (5). Acknowledged Mon 18 Dec: late.
            acknowledge: ("2023-12-05", "met_late"),
            // From Mon 18 Dec: Tue 19 (1), Wed 20 (2), Thu 21 (3), Fri 22 (4),
            // [Mon 25, Tue 26 Dec], Wed 27 (5), Thu 28 (6), Fri 29 (7),
            // [Mon 1, Tue 2 Jan — 2 January is a Scottish bank holiday], Wed 3 (8),
            // Thu 4 (9), Fri 5 (10). (England and Wales would say Thu 4.) Met on the day.
            stage1_response: ("2024-01-05", "met"),
            // From Mon 8 Jan: Tue 9 … Mon 15 (5). Acknowledged Tue 9: met.
            stage2_acknowledge: ("2024-01-15", "met"),
            // From Tue 9 Jan: Wed 10–Fri 12 (3), 15–19 (8), 22–26 (13), 29 Jan–2 Feb (18),
            // Mon 5 (19), Tue 6 Feb (20). Responded Thu 1 Feb: met.
            stage2_response: ("2024-02-06", "met"),
        },
    )
    .await;
}

async fn northern_ireland_scenario(backend: Backend) {
    drive(
        backend,
        Life {
            division: "northern-ireland",
            // Monday 10 July 2023.
            received: "2023-07-10",
            acknowledged: "2023-07-11",
            stage1_responded: "2023-07-27",
            escalated: "2023-08-25",
            stage2_acknowledged: "2023-08-29",
            stage2_responded: "2023-09-26",
        },
        Expected {
            // Tue 11 (1), [Wed 12 July, Battle of the Boyne], Thu 13 (2), Fri 14 (3),
            // Mon 17 (4), Tue 18 (5). Acknowledged Tue 11: met.
            acknowledge: ("2023-07-18", "met"),
            // From Tue 11: [Wed 12], Thu 13 (1), Fri 14 (2), Mon 17–Fri 21 (7), Mon 24 (8),
            // Tue 25 (9), Wed 26 (10). Responded Thu 27: late.
            stage1_response: ("2023-07-26", "met_late"),
            // From Fri 25 Aug: [Mon 28 Aug summer bank holiday], Tue 29 (1), Wed 30 (2),
            // Thu 31 (3), Fri 1 Sep (4), Mon 4 (5). Acknowledged Tue 29 Aug: met.
            stage2_acknowledge: ("2023-09-04", "met"),
            // From Tue 29 Aug: Wed 30 (1), Thu 31 (2), Fri 1 Sep (3), 4–8 (8), 11–15 (13),
            // 18–22 (18), Mon 25 (19), Tue 26 Sep (20). Responded on the day: met.
            stage2_response: ("2023-09-26", "met"),
        },
    )
    .await;
}

async fn cloud_direct_scenario(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.staff().await;
    // Cloud Direct: acknowledge 1 working day from receipt; resolution plan 5 working
    // days from receipt, so both clocks run from logging.
    let body = backdated_complaint("cloud-direct", "england-and-wales", "2019-12-20");
    let view = app.log_complaint(&s.advisor.token, body).await;
    let id = str_at(&view, "id");
    assert_eq!(
        deadline_keys(&view),
        set(&["acknowledge", "stage1_response"]),
        "{view}"
    );
    // From Fri 20 Dec 2019: Mon 23 (1).
    expect(
        &view,
        "acknowledge",
        "2019-12-20",
        1,
        0,
        "2019-12-23",
        "breached",
    );
    // Mon 23 (1), Tue 24 (2), [25, 26], Fri 27 (3), Mon 30 (4), Tue 31 (5).
    expect(
        &view,
        "stage1_response",
        "2019-12-20",
        5,
        0,
        "2019-12-31",
        "breached",
    );

    // Acknowledged Tue 24: a day late.
    let view = app
        .act_ok(
            &s.officer.token,
            &id,
            "acknowledge",
            json!({"occurred_at": on("2019-12-24")}),
        )
        .await;
    expect(
        &view,
        "acknowledge",
        "2019-12-20",
        1,
        0,
        "2019-12-23",
        "met_late",
    );
    expect(
        &view,
        "stage1_response",
        "2019-12-20",
        5,
        0,
        "2019-12-31",
        "breached",
    );
}
