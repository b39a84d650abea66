//! Automation rules on the `Complaint` aggregate: each acts only by its own actor, only when
//! its moment has come, and once; and a person's entry dated before an automatic act is
//! still taken. "Now" is Monday 2025-06-02 12:00 UTC.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::sync::Arc;

use casefile_domain::command::{
    AcknowledgeComplaint, Automate, ExtendDeadline, LogComplaint, RespondToStage,
};
use casefile_domain::procedure::{Assignment, Procedure};
use casefile_domain::values::{Channel, Complainant, Outcome, Remedy, Stage};
use casefile_domain::{
    Action, Actor, AutoRule, Calendar, Clock, Complaint, ComplaintCommand, ComplaintError,
    ComplaintEvent, ComplaintServices, Division, ProcedureRegistry,
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

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

/// chc-2024's rules with every automation on, as `auto`.
fn automated() -> Procedure {
    let mut procedure = ProcedureRegistry::builtin()
        .get("chc-2024")
        .unwrap()
        .clone();
    procedure.id = "auto".to_string();
    procedure.automation.acknowledge_on_logging = true;
    procedure.automation.escalate_breached_stage1 = true;
    procedure.automation.assign = Some(Assignment {
        officers: vec!["olu".to_string()],
        ..Assignment::default()
    });
    procedure
}

fn services() -> ComplaintServices {
    let mut procedures = ProcedureRegistry::builtin();
    procedures.add(automated(), "test").unwrap();
    ComplaintServices {
        procedures: Arc::new(procedures),
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

fn run(history: &[E], actor: Actor, action: Action) -> Result<Vec<E>, ComplaintError> {
    Complaint::replay(history.to_vec()).decide(ComplaintCommand { actor, action }, &services())
}

fn decide(history: &[E], actor: Actor, action: Action) -> Vec<E> {
    run(history, actor, action).unwrap()
}

fn automate(history: &[E], automate: Automate) -> Result<Vec<E>, ComplaintError> {
    let actor = automate.rule().actor();
    run(history, actor, Action::Automate(automate))
}

fn logged(procedure: &str, received_on: &str) -> Vec<E> {
    decide(
        &[],
        officer(),
        Action::Log {
            reference: "CF-2025-000042".to_string(),
            complaint: LogComplaint {
                procedure: procedure.to_string(),
                division: Some(Division::EnglandAndWales),
                received_on: Some(date(received_on)),
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
    )
}

fn acknowledge(on: &str) -> Action {
    Action::Acknowledge(AcknowledgeComplaint {
        text: None,
        occurred_at: Some(at(on)),
    })
}

fn respond(on: &str) -> Action {
    Action::RespondStage1(RespondToStage {
        outcome: Outcome::Upheld,
        decision: "We will repair the gutter".to_string(),
        reasons: "The repair was reported twice".to_string(),
        remedy: Remedy::default(),
        outstanding_actions: vec![],
        occurred_at: Some(at(on)),
    })
}

fn not_due(rule: AutoRule) -> ComplaintError {
    ComplaintError::AutomationNotDue {
        rule: rule.as_str(),
    }
}

#[test]
fn a_breached_stage1_is_escalated_once_by_its_own_actor() {
    // Received Tue 1 April 2025, acknowledged Thu 3 April: ten working days later is
    // Thu 17 April (Good Friday is the 18th), long past on 2 June.
    let mut history = logged("auto", "2025-04-01");
    history.extend(decide(&history, officer(), acknowledge("2025-04-03")));

    let escalated = automate(&history, Automate::Escalate).unwrap();
    let [E::Escalated {
        occurred_at,
        by,
        reason,
    }] = escalated.as_slice()
    else {
        panic!("{escalated:?}")
    };
    assert_eq!(*occurred_at, now());
    assert_eq!(by.id, "system:auto-escalate");
    assert!(reason.contains("2025-04-17"), "{reason}");

    // Nobody else may act for the rule, and the rule acts once.
    assert_eq!(
        run(&history, officer(), Action::Automate(Automate::Escalate)),
        Err(ComplaintError::AutomaticOnly)
    );
    assert_eq!(
        run(
            &history,
            AutoRule::DeadlockAfterLimit.actor(),
            Action::Automate(Automate::Escalate)
        ),
        Err(ComplaintError::AutomaticOnly)
    );
    history.extend(escalated);
    assert_eq!(
        automate(&history, Automate::Escalate),
        Err(not_due(AutoRule::EscalateBreachedStage1))
    );

    // An extension dated before the automatic escalation was a Stage 1 extension; the
    // Stage 1 response dated before it is taken too.
    let extended = decide(
        &history,
        officer(),
        Action::ExtendDeadline(ExtendDeadline {
            working_days: 5,
            reason: "Waiting for a surveyor".to_string(),
            resident_informed_on: None,
            occurred_at: Some(at("2025-04-10")),
        }),
    );
    assert!(
        matches!(
            extended[0],
            E::DeadlineExtended {
                stage: Stage::Stage1,
                ..
            }
        ),
        "{extended:?}"
    );
    history.extend(extended);
    history.extend(decide(&history, officer(), respond("2025-04-22")));
    assert_eq!(Complaint::replay(history).stage(), Stage::Stage2);
}

#[test]
fn stage1_not_yet_breached_is_not_escalated() {
    // Acknowledged Fri 30 May: Stage 1 is due 13 June.
    let mut history = logged("auto", "2025-05-29");
    history.extend(decide(&history, officer(), acknowledge("2025-05-30")));
    assert_eq!(
        automate(&history, Automate::Escalate),
        Err(not_due(AutoRule::EscalateBreachedStage1))
    );
}

#[test]
fn an_acknowledgement_made_before_the_automatic_one_is_still_taken() {
    // Received (and so logged) on Fri 30 May.
    let mut history = logged("auto", "2025-05-30");
    let automatic = automate(&history, Automate::Acknowledge).unwrap();
    assert!(
        matches!(&automatic[..], [E::Acknowledged { by, occurred_at, .. }]
            if by.id == "system:auto-acknowledge" && *occurred_at == now()),
        "{automatic:?}"
    );
    history.extend(automatic);
    assert_eq!(
        automate(&history, Automate::Acknowledge),
        Err(not_due(AutoRule::AcknowledgeOnLogging))
    );
    // Acknowledged by phone at 11:00, entered after the automatic acknowledgement at noon.
    let by_phone = Action::Acknowledge(AcknowledgeComplaint {
        text: None,
        occurred_at: Some(Utc.with_ymd_and_hms(2025, 6, 2, 10, 0, 0).unwrap()),
    });
    history.extend(decide(&history, officer(), by_phone));
    // A second person's acknowledgement is a duplicate as ever.
    assert_eq!(
        run(&history, officer(), acknowledge("2025-06-02")),
        Err(ComplaintError::AlreadyAcknowledged)
    );
    // Procedures without the rule are never acknowledged automatically.
    assert_eq!(
        automate(&logged("chc-2024", "2025-06-02"), Automate::Acknowledge),
        Err(not_due(AutoRule::AcknowledgeOnLogging))
    );
}

#[test]
fn cloud_direct_deadlocks_once_eight_weeks_after_receipt_while_unresolved() {
    // Received Tue 1 April 2025: 56 days later is Tue 27 May, passed on 2 June.
    let history = logged("cloud-direct", "2025-04-01");
    let deadlocked = automate(&history, Automate::Deadlock).unwrap();
    assert!(
        matches!(&deadlocked[..], [E::Deadlocked { by, on_request: false, reason, .. }]
            if by.id == "system:auto-deadlock" && reason.contains("8 weeks after receipt on 2025-04-01")),
        "{deadlocked:?}"
    );
    let after = [history.clone(), deadlocked].concat();
    assert_eq!(
        automate(&after, Automate::Deadlock),
        Err(not_due(AutoRule::DeadlockAfterLimit))
    );
    // Received Thu 10 April: the limit passes on Thu 5 June.
    assert_eq!(
        automate(&logged("cloud-direct", "2025-04-10"), Automate::Deadlock),
        Err(not_due(AutoRule::DeadlockAfterLimit))
    );
    // Answered at Stage 1 and not escalated: nothing unresolved on the landlord's side.
    let mut answered = history;
    answered.extend(decide(&answered, officer(), acknowledge("2025-04-01")));
    answered.extend(decide(&answered, officer(), respond("2025-04-07")));
    assert_eq!(
        automate(&answered, Automate::Deadlock),
        Err(not_due(AutoRule::DeadlockAfterLimit))
    );
}

#[test]
fn a_case_is_assigned_automatically_only_while_it_has_no_owner() {
    let olu = Actor {
        id: "olu".to_string(),
        name: "Olu Officer".to_string(),
    };
    let history = logged("auto", "2025-06-02");
    let assigned = automate(&history, Automate::Assign { owner: olu.clone() }).unwrap();
    assert!(
        matches!(&assigned[..], [E::OwnerAssigned { by, owner, previous: None, .. }]
            if by.id == "system:auto-assign" && *owner == olu),
        "{assigned:?}"
    );
    let after = [history, assigned].concat();
    assert_eq!(
        automate(&after, Automate::Assign { owner: olu.clone() }),
        Err(not_due(AutoRule::AssignNewCases))
    );
    assert_eq!(
        automate(
            &logged("chc-2024", "2025-06-02"),
            Automate::Assign { owner: olu }
        ),
        Err(not_due(AutoRule::AssignNewCases))
    );
}

#[test]
fn automation_settings_are_checked_and_absent_from_older_copies() {
    let base = "id = \"x\"\nversion = 1\nname = \"X\"\nsteps = [{ step = \"stage1_response\", from = \"received\", working_days = 5 }]\n[redress]\nschemes = [\"housing-ombudsman\"]\n";
    let one_stage = format!("stages = 1\n{base}[automation]\nescalate_breached_stage1 = true\n");
    let err = Procedure::parse("x.toml", &one_stage).unwrap_err();
    assert_eq!(err.field, "automation.escalate_breached_stage1");
    let bad_division =
        format!("{base}[automation.assign]\nby_division = {{ wales = [\"olu\"] }}\n");
    let err = Procedure::parse("x.toml", &bad_division).unwrap_err();
    assert_eq!(err.field, "automation.assign.by_division.wales");
    let nobody = format!("{base}[automation.assign]\nofficers = []\n");
    let err = Procedure::parse("x.toml", &nobody).unwrap_err();
    assert_eq!(err.field, "automation.assign");

    // A copy written before automation existed reads with the defaults, and a procedure
    // with the defaults writes no `automation` at all, as before.
    let procedure = Procedure::parse("x.toml", base).unwrap();
    assert!(!procedure.automation.acknowledge_on_logging);
    assert!(procedure.automation.deadlock_after_limit);
    let json = serde_json::to_value(&procedure).unwrap();
    assert!(json.get("automation").is_none(), "{json}");
}
