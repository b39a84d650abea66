//! SLA alerts on the `Complaint` aggregate: raised once, only by the watchdog, never in the
//! way of a backdated staff entry, and resolved by their own event when an entry shows the
//! step met. "Now" is Monday 2025-06-02 12:00 UTC.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::sync::Arc;

use casefile_domain::command::{AcknowledgeComplaint, LogComplaint, RaiseSlaAlert, RespondToStage};
use casefile_domain::values::{Channel, Complainant, Outcome, Remedy};
use casefile_domain::{
    deadlines, watchdog_actor, Action, Actor, AlertResolution, AlertState, Calendar, Clock,
    Complaint, ComplaintCommand, ComplaintError, ComplaintEvent, ComplaintServices, DeadlineStep,
    Division, ProcedureRegistry, Step,
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;

type E = ComplaintEvent;

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

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Noon UTC: the same UK civil date all year.
fn at(day: &str) -> DateTime<Utc> {
    date(day).and_hms_opt(12, 0, 0).unwrap().and_utc()
}

fn services() -> ComplaintServices {
    ComplaintServices {
        procedures: Arc::new(ProcedureRegistry::builtin()),
        calendar: Arc::new(Calendar::builtin()),
        clock: Arc::new(FixedClock(now())),
        default_division: Division::EnglandAndWales,
    }
}

fn officer() -> Actor {
    Actor {
        id: "alice".to_string(),
        name: "Alice Officer".to_string(),
    }
}

fn response(occurred_at: DateTime<Utc>) -> Action {
    Action::RespondStage1(RespondToStage {
        outcome: Outcome::Upheld,
        decision: "We will repair the gutter".to_string(),
        reasons: "The repair was reported twice".to_string(),
        remedy: Remedy::default(),
        outstanding_actions: vec![],
        occurred_at: Some(occurred_at),
    })
}

fn decide(history: &[E], actor: Actor, action: Action) -> Vec<E> {
    Complaint::replay(history.to_vec())
        .decide(ComplaintCommand { actor, action }, &services())
        .unwrap()
}

/// chc-2024, received 2025-04-01 with its definition, acknowledged at noon on 2025-04-03;
/// Stage 1 unanswered, so breached by now.
fn acknowledged() -> Vec<E> {
    let logged = decide(
        &[],
        officer(),
        Action::Log {
            reference: "CF-2025-0042".to_string(),
            complaint: LogComplaint {
                procedure: "chc-2024".to_string(),
                division: Some(Division::EnglandAndWales),
                received_on: Some(date("2025-04-01")),
                issue_arose_on: None,
                channel: Channel::Email,
                complainant: Complainant {
                    name: "Dana Resident".to_string(),
                    email: None,
                    phone: None,
                    address: None,
                    resident_id: None,
                    postcode: None,
                    preferred_contact: None,
                },
                summary: "Damp in the back bedroom".to_string(),
                description: String::new(),
                tenure: None,
                occurred_at: None,
                definition: Some("Mould has returned after two repairs".to_string()),
                outcomes_sought: vec![],
            },
        },
    );
    let acknowledged = decide(
        &logged,
        officer(),
        Action::Acknowledge(AcknowledgeComplaint {
            text: None,
            occurred_at: Some(at("2025-04-03")),
        }),
    );
    [logged, acknowledged].concat()
}

const STEP: DeadlineStep = DeadlineStep::Procedure(Step::Stage1Response);

/// The Stage 1 response's due date, as the deadline rules compute it.
fn stage1_due() -> NaiveDate {
    deadlines(
        &Complaint::replay(acknowledged()),
        &Calendar::builtin(),
        date("2025-06-02"),
    )
    .into_iter()
    .find(|deadline| deadline.step == STEP)
    .unwrap()
    .due
}

fn raise(state: AlertState, due: NaiveDate) -> ComplaintCommand {
    ComplaintCommand {
        actor: watchdog_actor(),
        action: Action::RaiseSlaAlert(RaiseSlaAlert {
            step: STEP,
            state,
            due,
        }),
    }
}

fn raised() -> E {
    E::SlaAlertRaised {
        occurred_at: now(),
        by: watchdog_actor(),
        step: STEP,
        state: AlertState::Breached,
        due: stage1_due(),
    }
}

fn resolved(reason: AlertResolution) -> E {
    E::SlaAlertResolved {
        occurred_at: now(),
        by: watchdog_actor(),
        step: STEP,
        state: AlertState::Breached,
        due: stage1_due(),
        reason,
    }
}

#[tokio::test]
async fn a_breached_step_raises_an_alert_by_the_watchdog() {
    TestFramework::<Complaint>::with(services())
        .given(acknowledged())
        .when_async(raise(AlertState::Breached, stage1_due()))
        .await
        .then_expect_events(vec![raised()]);
}

#[tokio::test]
async fn the_same_alert_is_never_raised_twice() {
    TestFramework::<Complaint>::with(services())
        .given([acknowledged(), vec![raised()]].concat())
        .when_async(raise(AlertState::Breached, stage1_due()))
        .await
        .then_expect_error(ComplaintError::AlertAlreadyRaised {
            step: "stage1_response",
            state: "breached",
            due: stage1_due(),
        });
}

#[tokio::test]
async fn an_alert_for_a_state_the_step_is_not_in_is_refused() {
    TestFramework::<Complaint>::with(services())
        .given(acknowledged())
        .when_async(raise(AlertState::DueSoon, stage1_due()))
        .await
        .then_expect_error(ComplaintError::AlertNotDue {
            step: "stage1_response",
            state: "due_soon",
            due: stage1_due(),
        });
}

#[tokio::test]
async fn only_the_watchdog_raises_alerts() {
    let mut command = raise(AlertState::Breached, stage1_due());
    command.actor = officer();
    TestFramework::<Complaint>::with(services())
        .given(acknowledged())
        .when_async(command)
        .await
        .then_expect_error(ComplaintError::AutomaticOnly);
}

#[tokio::test]
async fn a_response_backdated_before_the_alert_is_accepted_and_resolves_it_as_met() {
    let history = [acknowledged(), vec![raised()]].concat();
    let events = decide(&history, officer(), response(at(&stage1_due().to_string())));
    assert_eq!(events.first().map(E::name), Some("Stage1Responded"));
    assert_eq!(events.last(), Some(&resolved(AlertResolution::Met)));
}

#[tokio::test]
async fn a_late_response_entered_after_the_alert_resolves_it_as_met_late() {
    let history = [acknowledged(), vec![raised()]].concat();
    let events = decide(&history, officer(), response(at("2025-05-30")));
    assert_eq!(events.last(), Some(&resolved(AlertResolution::MetLate)));
}

#[tokio::test]
async fn an_entry_that_leaves_the_step_unmet_resolves_nothing() {
    let history = [acknowledged(), vec![raised()]].concat();
    let note = Action::RecordNote(casefile_domain::command::RecordNote {
        text: "Chased the contractor".to_string(),
        kind: Default::default(),
        direction: None,
        channel: None,
        occurred_at: Some(at("2025-04-04")),
    });
    let events = decide(&history, officer(), note);
    assert_eq!(
        events.iter().map(E::name).collect::<Vec<_>>(),
        ["NoteRecorded"]
    );
}

#[tokio::test]
async fn staff_entries_still_may_not_precede_the_previous_staff_entry() {
    TestFramework::<Complaint>::with(services())
        .given([acknowledged(), vec![raised()]].concat())
        .when_async(ComplaintCommand {
            actor: officer(),
            action: response(at("2025-04-02")),
        })
        .await
        .then_expect_error(ComplaintError::OccurredBeforePreviousEvent {
            occurred_at: at("2025-04-02"),
            previous: at("2025-04-03"),
        });
}
