//! The `Resident` aggregate from the outside: each rule's rejection, the event of each
//! change, and silence when nothing changed. "Now" is Monday 2025-06-02 12:00 UTC.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::sync::Arc;

use casefile_domain::resident::{
    Adjustment, AgreedAdjustment, ResidentAction, ResidentServices, SetAdjustments,
};
use casefile_domain::{Actor, Clock, ComplaintError, Resident, ResidentCommand, ResidentEvent};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap()
}

fn services() -> ResidentServices {
    ResidentServices {
        clock: Arc::new(FixedClock(now())),
    }
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn at(day: &str) -> DateTime<Utc> {
    date(day).and_hms_opt(12, 0, 0).unwrap().and_utc()
}

fn officer() -> Actor {
    Actor {
        id: "alice".to_string(),
        name: "Alice Officer".to_string(),
    }
}

fn reviewer() -> Actor {
    Actor {
        id: "bob".to_string(),
        name: "Bob Reviewer".to_string(),
    }
}

const HEARING: &str = "Hearing loss";
const ANXIETY: &str = "Anxiety about visits";

fn agreed(need: &str, adjustment: &str, on: &str) -> AgreedAdjustment {
    AgreedAdjustment {
        need: need.to_string(),
        adjustment: adjustment.to_string(),
        agreed_on: date(on),
    }
}

fn held(need: &str, adjustment: &str, on: &str, by: Actor) -> Adjustment {
    Adjustment {
        need: need.to_string(),
        adjustment: adjustment.to_string(),
        agreed_on: date(on),
        agreed_by: by,
    }
}

fn set(
    actor: Actor,
    needs: &[&str],
    adjustments: Vec<AgreedAdjustment>,
    review_due: Option<&str>,
) -> ResidentCommand {
    ResidentCommand {
        actor,
        action: ResidentAction::SetAdjustments(SetAdjustments {
            needs: needs.iter().map(|n| n.to_string()).collect(),
            adjustments,
            review_due: review_due.map(date),
            occurred_at: None,
        }),
    }
}

/// Hearing loss with email instead of calls, agreed by the officer on 1 May 2025.
fn on_record() -> Vec<ResidentEvent> {
    vec![ResidentEvent::AdjustmentsSet {
        occurred_at: at("2025-05-01"),
        by: officer(),
        needs: vec![HEARING.to_string()],
        adjustments: vec![held(HEARING, "Email, not phone", "2025-05-01", officer())],
        review_due: Some(date("2025-11-01")),
    }]
}

async fn rejects(given: Vec<ResidentEvent>, command: ResidentCommand, error: ComplaintError) {
    TestFramework::<Resident>::with(services())
        .given(given)
        .when_async(command)
        .await
        .then_expect_error(error);
}

async fn accepts(
    given: Vec<ResidentEvent>,
    command: ResidentCommand,
    expected: Vec<ResidentEvent>,
) {
    TestFramework::<Resident>::with(services())
        .given(given)
        .when_async(command)
        .await
        .then_expect_events(expected);
}

fn invalid(field: &'static str, reason: &str) -> ComplaintError {
    ComplaintError::InvalidField {
        field,
        reason: reason.to_string(),
    }
}

#[test]
fn the_aggregate_is_stored_as_a_resident() {
    assert_eq!(Resident::TYPE, "Resident");
    assert_eq!(on_record()[0].name(), "AdjustmentsSet");
}

#[tokio::test]
async fn first_needs_and_adjustments_are_recorded_sorted_with_who_agreed_each() {
    accepts(
        vec![],
        set(
            officer(),
            &[HEARING, ANXIETY],
            vec![
                agreed(HEARING, "Email, not phone", "2025-06-02"),
                agreed(ANXIETY, "Two named officers only", "2025-05-30"),
            ],
            Some("2025-12-01"),
        ),
        vec![ResidentEvent::AdjustmentsSet {
            occurred_at: now(),
            by: officer(),
            needs: vec![ANXIETY.to_string(), HEARING.to_string()],
            adjustments: vec![
                held(ANXIETY, "Two named officers only", "2025-05-30", officer()),
                held(HEARING, "Email, not phone", "2025-06-02", officer()),
            ],
            review_due: Some(date("2025-12-01")),
        }],
    )
    .await;
}

#[tokio::test]
async fn saving_the_record_as_it_stands_records_nothing() {
    accepts(
        on_record(),
        set(
            reviewer(),
            &[HEARING],
            vec![agreed(HEARING, "Email, not phone", "2025-05-01")],
            Some("2025-11-01"),
        ),
        vec![],
    )
    .await;
}

#[tokio::test]
async fn listing_the_same_needs_in_another_order_is_no_change() {
    let given = vec![ResidentEvent::AdjustmentsSet {
        occurred_at: at("2025-05-01"),
        by: officer(),
        needs: vec![ANXIETY.to_string(), HEARING.to_string()],
        adjustments: vec![],
        review_due: Some(date("2025-11-01")),
    }];
    accepts(
        given,
        set(officer(), &[HEARING, ANXIETY], vec![], Some("2025-11-01")),
        vec![],
    )
    .await;
}

#[tokio::test]
async fn an_adjustment_already_on_record_keeps_who_agreed_it() {
    accepts(
        on_record(),
        set(
            reviewer(),
            &[HEARING, ANXIETY],
            vec![
                agreed(HEARING, "Email, not phone", "2025-05-01"),
                agreed(ANXIETY, "Two named officers only", "2025-06-02"),
            ],
            Some("2025-11-01"),
        ),
        vec![ResidentEvent::AdjustmentsSet {
            occurred_at: now(),
            by: reviewer(),
            needs: vec![ANXIETY.to_string(), HEARING.to_string()],
            adjustments: vec![
                held(ANXIETY, "Two named officers only", "2025-06-02", reviewer()),
                held(HEARING, "Email, not phone", "2025-05-01", officer()),
            ],
            review_due: Some(date("2025-11-01")),
        }],
    )
    .await;
}

#[tokio::test]
async fn moving_only_the_review_date_is_a_change() {
    accepts(
        on_record(),
        set(
            officer(),
            &[HEARING],
            vec![agreed(HEARING, "Email, not phone", "2025-05-01")],
            Some("2026-05-01"),
        ),
        vec![ResidentEvent::AdjustmentsSet {
            occurred_at: now(),
            by: officer(),
            needs: vec![HEARING.to_string()],
            adjustments: vec![held(HEARING, "Email, not phone", "2025-05-01", officer())],
            review_due: Some(date("2026-05-01")),
        }],
    )
    .await;
}

#[tokio::test]
async fn clearing_the_record_is_a_change() {
    accepts(
        on_record(),
        set(officer(), &[], vec![], None),
        vec![ResidentEvent::AdjustmentsSet {
            occurred_at: now(),
            by: officer(),
            needs: vec![],
            adjustments: vec![],
            review_due: None,
        }],
    )
    .await;
}

#[tokio::test]
async fn an_adjustment_must_meet_one_of_the_recorded_needs() {
    rejects(
        vec![],
        set(
            officer(),
            &[HEARING],
            vec![agreed(ANXIETY, "Two named officers only", "2025-06-02")],
            Some("2025-12-01"),
        ),
        invalid("adjustments.need", "must be one of the needs"),
    )
    .await;
}

#[tokio::test]
async fn a_need_cannot_be_listed_twice() {
    rejects(
        vec![],
        set(officer(), &[HEARING, HEARING], vec![], Some("2025-12-01")),
        invalid("needs", "must not repeat a need"),
    )
    .await;
}

#[tokio::test]
async fn an_adjustment_cannot_be_listed_twice() {
    let twice = agreed(HEARING, "Email, not phone", "2025-05-01");
    rejects(
        vec![],
        set(
            officer(),
            &[HEARING],
            vec![twice.clone(), twice],
            Some("2025-12-01"),
        ),
        invalid("adjustments", "must not repeat an adjustment"),
    )
    .await;
}

#[tokio::test]
async fn recorded_needs_need_a_review_date() {
    rejects(
        vec![],
        set(officer(), &[HEARING], vec![], None),
        invalid("review_due", "is required while needs are recorded"),
    )
    .await;
}

#[tokio::test]
async fn a_new_review_date_must_be_after_the_day_it_is_set() {
    rejects(
        on_record(),
        set(officer(), &[HEARING], vec![], Some("2025-06-02")),
        invalid("review_due", "must be after the day it is set"),
    )
    .await;
}

#[tokio::test]
async fn an_overdue_review_date_left_as_it_is_does_not_block_other_changes() {
    let given = vec![ResidentEvent::AdjustmentsSet {
        occurred_at: at("2025-01-02"),
        by: officer(),
        needs: vec![HEARING.to_string()],
        adjustments: vec![],
        review_due: Some(date("2025-05-01")),
    }];
    accepts(
        given,
        set(officer(), &[HEARING, ANXIETY], vec![], Some("2025-05-01")),
        vec![ResidentEvent::AdjustmentsSet {
            occurred_at: now(),
            by: officer(),
            needs: vec![ANXIETY.to_string(), HEARING.to_string()],
            adjustments: vec![],
            review_due: Some(date("2025-05-01")),
        }],
    )
    .await;
}

#[tokio::test]
async fn an_adjustment_cannot_be_agreed_after_the_day_it_is_recorded() {
    rejects(
        vec![],
        set(
            officer(),
            &[HEARING],
            vec![agreed(HEARING, "Email, not phone", "2025-06-03")],
            Some("2025-12-01"),
        ),
        invalid(
            "adjustments.agreed_on",
            "must not be after the day it is recorded",
        ),
    )
    .await;
}

#[tokio::test]
async fn a_blank_need_is_an_invalid_field() {
    rejects(
        vec![],
        set(officer(), &["  "], vec![], Some("2025-12-01")),
        invalid("needs", "must not be empty"),
    )
    .await;
}

#[tokio::test]
async fn a_change_cannot_be_backdated_before_the_previous_one() {
    let mut command = set(officer(), &[], vec![], None);
    let ResidentAction::SetAdjustments(body) = &mut command.action;
    body.occurred_at = Some(at("2025-04-30"));
    rejects(
        on_record(),
        command,
        ComplaintError::OccurredBeforePreviousEvent {
            occurred_at: at("2025-04-30"),
            previous: at("2025-05-01"),
        },
    )
    .await;
}

#[test]
fn the_review_is_due_from_its_date_on() {
    let resident = Resident::replay(on_record());
    assert!(!resident.review_is_due(date("2025-10-31")));
    assert!(resident.review_is_due(date("2025-11-01")));
    assert!(!Resident::default().review_is_due(date("2099-01-01")));
}

#[test]
fn the_body_of_a_put_reads_as_the_command() {
    let body = serde_json::json!({
        "needs": [HEARING],
        "adjustments": [
            {"need": HEARING, "adjustment": "Email, not phone", "agreed_on": "2025-05-01"}
        ],
        "review_due": "2025-11-01"
    });
    let read: SetAdjustments = serde_json::from_value(body).unwrap();
    assert_eq!(
        read,
        SetAdjustments {
            needs: vec![HEARING.to_string()],
            adjustments: vec![agreed(HEARING, "Email, not phone", "2025-05-01")],
            review_due: Some(date("2025-11-01")),
            occurred_at: None,
        }
    );
}
