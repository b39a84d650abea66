//! The `Complaint` aggregate from the outside: every rule's rejection and the events of
//! each accepted transition (`rules`), due dates and SLA states worked out by hand
//! (`deadlines`), and invariants over random command sequences (`properties`).
//!
//! "Now" is fixed at Monday 2025-06-02 12:00 UTC so every test is deterministic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

/// Builders shared by the three modules.
mod support {
    use std::sync::Arc;

    use casefile_domain::command::{
        AcknowledgeComplaint, CloseComplaint, DeclareDeadlock, DefineComplaint, Escalate,
        ExtendDeadline, ReferToRedress, RefuseComplaint, ReopenComplaint, RespondToStage,
        WithdrawComplaint,
    };
    use casefile_domain::values::{
        ActionSource, Channel, Complainant, Outcome, RefusalReason, Remedy, Stage, StageResponse,
    };
    use casefile_domain::{
        Action, Actor, Calendar, Clock, Complaint, ComplaintCommand, ComplaintEvent,
        ComplaintServices, Division, Procedure, ProcedureRegistry, Scheme,
    };
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};
    use cqrs_es::Aggregate;

    /// A clock that always reads the same instant.
    #[derive(Debug)]
    pub struct FixedClock(pub DateTime<Utc>);

    impl Clock for FixedClock {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    /// Monday 2025-06-02, 12:00 UTC (13:00 in London).
    pub fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap()
    }

    pub fn date(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    /// Noon UTC of a day: the same UK civil date in winter (GMT) and summer (BST).
    pub fn at(day: &str) -> DateTime<Utc> {
        date(day).and_hms_opt(12, 0, 0).unwrap().and_utc()
    }

    pub fn services() -> ComplaintServices {
        services_with(ProcedureRegistry::builtin())
    }

    pub fn services_with(procedures: ProcedureRegistry) -> ComplaintServices {
        ComplaintServices {
            procedures: Arc::new(procedures),
            calendar: Arc::new(Calendar::builtin()),
            clock: Arc::new(FixedClock(now())),
            default_division: casefile_domain::Division::EnglandAndWales,
        }
    }

    pub fn procedure(id: &str) -> Procedure {
        ProcedureRegistry::builtin()
            .get(id)
            .cloned()
            .expect("builtin procedure")
    }

    fn person(id: &str, name: &str) -> Actor {
        Actor {
            id: id.to_string(),
            name: name.to_string(),
        }
    }

    /// The contact-centre advisor who logs complaints.
    pub fn advisor() -> Actor {
        person("carol", "Carol Advisor")
    }

    /// The investigating officer who owns Stage 1.
    pub fn officer() -> Actor {
        person("alice", "Alice Officer")
    }

    /// The reviewer who owns Stage 2.
    pub fn reviewer() -> Actor {
        person("bob", "Bob Reviewer")
    }

    pub fn people() -> [Actor; 3] {
        [advisor(), officer(), reviewer()]
    }

    pub fn by(actor: Actor, action: Action) -> ComplaintCommand {
        ComplaintCommand { actor, action }
    }

    pub fn complainant() -> Complainant {
        Complainant {
            name: "Dana Resident".to_string(),
            email: Some("dana@example.org".to_string()),
            phone: None,
            address: None,
            resident_id: Some("T-1001".to_string()),
            postcode: None,
            preferred_contact: None,
        }
    }

    pub const SUMMARY: &str = "Damp and mould in the back bedroom";

    // ----- actions with valid bodies -----

    pub fn acknowledge() -> Action {
        Action::Acknowledge(AcknowledgeComplaint::default())
    }

    pub fn acknowledge_stage2() -> Action {
        Action::AcknowledgeStage2(AcknowledgeComplaint::default())
    }

    pub fn response() -> RespondToStage {
        RespondToStage {
            outcome: Outcome::PartlyUpheld,
            decision: "We will treat the mould and repair the gutter".to_string(),
            reasons: "The repair was reported twice and not done".to_string(),
            remedy: Remedy {
                actions: vec!["Mould wash".to_string()],
                compensation_pence: 15_000,
            },
            outstanding_actions: vec![],
            occurred_at: None,
        }
    }

    /// The response `response()` becomes in an event.
    pub fn stage_response() -> StageResponse {
        let r = response();
        StageResponse {
            outcome: r.outcome,
            decision: r.decision,
            reasons: r.reasons,
            remedy: r.remedy,
            outstanding_actions: r.outstanding_actions,
        }
    }

    pub fn respond_stage1() -> Action {
        Action::RespondStage1(response())
    }

    pub fn respond_stage2() -> Action {
        Action::RespondStage2(response())
    }

    pub const DEFINITION: &str =
        "The resident says mould has returned to the back bedroom after two repairs";

    pub fn outcomes_sought() -> Vec<String> {
        vec![
            "A lasting repair".to_string(),
            "Compensation for damaged clothes".to_string(),
        ]
    }

    pub fn define(stage: Stage) -> Action {
        Action::Define(DefineComplaint {
            stage,
            definition: DEFINITION.to_string(),
            outcomes_sought: outcomes_sought(),
            occurred_at: None,
        })
    }

    pub const ESCALATION_REASON: &str = "The mould came back within a month";

    pub fn escalate() -> Action {
        Action::Escalate(Escalate {
            reason: ESCALATION_REASON.to_string(),
            occurred_at: None,
        })
    }

    pub const EXTENSION_REASON: &str = "Waiting for a damp survey";

    pub fn extend(working_days: u32) -> Action {
        Action::ExtendDeadline(ExtendDeadline {
            working_days,
            reason: EXTENSION_REASON.to_string(),
            resident_informed_on: None,
            occurred_at: None,
        })
    }

    pub fn close() -> Action {
        Action::Close(CloseComplaint::default())
    }

    pub fn declare_deadlock(on_request: bool) -> Action {
        Action::DeclareDeadlock(DeclareDeadlock {
            on_request,
            reason: "No agreement on the remedy".to_string(),
            occurred_at: None,
        })
    }

    pub fn refer(scheme: Scheme) -> Action {
        Action::ReferToRedress(ReferToRedress {
            scheme,
            reference: Some("OMB-42".to_string()),
            occurred_at: None,
        })
    }

    pub const REFUSAL_EXPLANATION: &str = "The leak was fixed in 2022";

    pub fn refuse(reason: RefusalReason) -> Action {
        Action::Refuse(RefuseComplaint {
            reason,
            explanation: REFUSAL_EXPLANATION.to_string(),
            occurred_at: None,
        })
    }

    pub fn withdraw() -> Action {
        Action::Withdraw(WithdrawComplaint {
            reason: "Resolved informally".to_string(),
            occurred_at: None,
        })
    }

    pub const REOPEN_REASON: &str = "The resident was not sent the response";

    pub fn reopen() -> Action {
        Action::Reopen(ReopenComplaint {
            reason: REOPEN_REASON.to_string(),
            occurred_at: None,
        })
    }

    // ----- events, one a day at noon UTC -----

    pub fn logged(procedure_id: &str, received_on: &str) -> ComplaintEvent {
        logged_in(procedure_id, Division::EnglandAndWales, received_on, None)
    }

    pub fn logged_in(
        procedure_id: &str,
        division: Division,
        received_on: &str,
        issue_arose_on: Option<&str>,
    ) -> ComplaintEvent {
        ComplaintEvent::Logged {
            occurred_at: at(received_on),
            by: advisor(),
            reference: "CF-2024-0001".to_string(),
            procedure: procedure(procedure_id),
            division,
            calendar_version: casefile_domain::Calendar::builtin().version(),
            received_on: date(received_on),
            issue_arose_on: issue_arose_on.map(date),
            channel: Channel::Email,
            complainant: complainant(),
            summary: SUMMARY.to_string(),
            description: String::new(),
            tenure: None,
        }
    }

    pub fn acknowledged(day: &str) -> ComplaintEvent {
        ComplaintEvent::Acknowledged {
            occurred_at: at(day),
            by: officer(),
            text: None,
        }
    }

    pub fn stage1_responded(day: &str, by: Actor) -> ComplaintEvent {
        ComplaintEvent::Stage1Responded {
            occurred_at: at(day),
            by,
            response: stage_response(),
            signposted_to: vec![],
        }
    }

    pub fn defined(day: &str, stage: Stage) -> ComplaintEvent {
        ComplaintEvent::Defined {
            occurred_at: at(day),
            by: officer(),
            stage,
            definition: DEFINITION.to_string(),
            outcomes_sought: outcomes_sought(),
        }
    }

    /// The tracked action a `response()` writes for its one remedy action.
    pub fn mould_wash_tracked(
        occurred_at: DateTime<Utc>,
        stage: Stage,
        by: Actor,
    ) -> ComplaintEvent {
        ComplaintEvent::ActionTracked {
            occurred_at,
            by,
            action_id: match stage {
                Stage::Stage1 => "s1-a1",
                Stage::Stage2 => "s2-a1",
            }
            .to_string(),
            stage,
            source: ActionSource::Remedy,
            description: "Mould wash".to_string(),
        }
    }

    pub fn escalated(day: &str) -> ComplaintEvent {
        ComplaintEvent::Escalated {
            occurred_at: at(day),
            by: advisor(),
            reason: ESCALATION_REASON.to_string(),
        }
    }

    pub fn stage2_acknowledged(day: &str) -> ComplaintEvent {
        ComplaintEvent::Stage2Acknowledged {
            occurred_at: at(day),
            by: reviewer(),
            text: None,
        }
    }

    pub fn stage2_responded(day: &str, by: Actor) -> ComplaintEvent {
        ComplaintEvent::Stage2Responded {
            occurred_at: at(day),
            by,
            response: stage_response(),
            signposted_to: vec![],
        }
    }

    pub fn extended(day: &str, stage: Stage, working_days: u32) -> ComplaintEvent {
        ComplaintEvent::DeadlineExtended {
            occurred_at: at(day),
            by: officer(),
            stage,
            working_days,
            reason: EXTENSION_REASON.to_string(),
            resident_informed_on: date(day),
        }
    }

    pub fn closed(day: &str) -> ComplaintEvent {
        ComplaintEvent::Closed {
            occurred_at: at(day),
            by: officer(),
            remedy: Remedy::default(),
            learning: vec![],
            open_actions: vec![],
            open_actions_reason: None,
        }
    }

    pub fn withdrawn(day: &str) -> ComplaintEvent {
        ComplaintEvent::Withdrawn {
            occurred_at: at(day),
            by: advisor(),
            reason: "Resolved informally".to_string(),
        }
    }

    pub fn refused(day: &str, signposted_to: Vec<Scheme>) -> ComplaintEvent {
        ComplaintEvent::Refused {
            occurred_at: at(day),
            by: officer(),
            reason: RefusalReason::LegalProceedings,
            explanation: REFUSAL_EXPLANATION.to_string(),
            signposted_to,
        }
    }

    pub fn deadlocked(day: &str, on_request: bool) -> ComplaintEvent {
        ComplaintEvent::Deadlocked {
            occurred_at: at(day),
            by: officer(),
            on_request,
            reason: "No agreement on the remedy".to_string(),
        }
    }

    pub fn referred(day: &str, scheme: Scheme) -> ComplaintEvent {
        ComplaintEvent::ReferredToRedress {
            occurred_at: at(day),
            by: advisor(),
            scheme,
            reference: Some("OMB-42".to_string()),
        }
    }

    pub fn reopened(day: &str) -> ComplaintEvent {
        ComplaintEvent::Reopened {
            occurred_at: at(day),
            by: officer(),
            reason: REOPEN_REASON.to_string(),
        }
    }

    pub const UPDATE_SUMMARY: &str = "Told the resident the survey is booked";

    pub fn update_given(day: &str, next_update_due: Option<&str>) -> ComplaintEvent {
        ComplaintEvent::UpdateRecorded {
            occurred_at: at(day),
            by: officer(),
            channel: Channel::Phone,
            summary: UPDATE_SUMMARY.to_string(),
            next_update_due: next_update_due.map(date),
        }
    }

    /// The state a stream of events leaves.
    pub fn case_from(events: Vec<ComplaintEvent>) -> Complaint {
        let mut case = Complaint::default();
        for event in events {
            case.apply(event);
        }
        case
    }
}

/// Given events, when a command, then the events or the broken rule.
mod rules {
    use casefile_domain::command::{
        AddRepresentative, AttachEvidence, CloseComplaint, CompleteAction, CompleteLearning,
        EndRepresentative, ExtendDeadline, LearningAction, LearningEntry, LogComplaint, NoteKind,
        RecordLearning, RecordNote, RecordReferralReference, RecordUpdate, RespondToStage,
        SetAction, SetTenure,
    };
    use casefile_domain::error::ErrorKind;
    use casefile_domain::procedure::DeadlockRule;
    use casefile_domain::values::{
        ActionSource, Authority, Channel, Contact, CorrespondenceTo, Direction, RefusalReason,
        Relationship, Remedy, Stage, StageResponse, Tenure,
    };
    use casefile_domain::{
        Action, Actor, Complaint, ComplaintCommand, ComplaintError, ComplaintEvent, Division,
        ProcedureRegistry, Scheme, Status,
    };
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use cqrs_es::test::TestFramework;

    use super::support::*;

    type E = ComplaintEvent;

    async fn rejects(given: Vec<E>, command: ComplaintCommand, error: ComplaintError) {
        TestFramework::<Complaint>::with(services())
            .given(given)
            .when_async(command)
            .await
            .then_expect_error(error);
    }

    async fn accepts(given: Vec<E>, command: ComplaintCommand, expected: Vec<E>) {
        TestFramework::<Complaint>::with(services())
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

    // ----- case histories (chc-2024 unless named), oldest first -----

    /// chc-2024, received Tuesday 2025-04-01.
    fn chc_logged() -> Vec<E> {
        vec![logged("chc-2024", "2025-04-01")]
    }

    /// Acknowledged with the Stage 1 definition of the complaint, as the Code asks.
    fn chc_acknowledged() -> Vec<E> {
        [
            chc_acknowledged_undefined(),
            vec![defined("2025-04-03", Stage::Stage1)],
        ]
        .concat()
    }

    fn chc_acknowledged_undefined() -> Vec<E> {
        [chc_logged(), vec![acknowledged("2025-04-03")]].concat()
    }

    /// Stage 1 answered by the officer.
    fn chc_stage1_answered() -> Vec<E> {
        [
            chc_acknowledged(),
            vec![stage1_responded("2025-04-10", officer())],
        ]
        .concat()
    }

    /// Escalated, with the definition restated for Stage 2.
    fn chc_escalated() -> Vec<E> {
        [
            chc_escalated_undefined(),
            vec![defined("2025-04-15", Stage::Stage2)],
        ]
        .concat()
    }

    fn chc_escalated_undefined() -> Vec<E> {
        [chc_stage1_answered(), vec![escalated("2025-04-15")]].concat()
    }

    fn chc_stage2_acknowledged() -> Vec<E> {
        [chc_escalated(), vec![stage2_acknowledged("2025-04-16")]].concat()
    }

    /// Stage 2 answered by the reviewer: the in-house procedure is exhausted.
    fn chc_stage2_answered() -> Vec<E> {
        [
            chc_stage2_acknowledged(),
            vec![stage2_responded("2025-05-01", reviewer())],
        ]
        .concat()
    }

    fn log_complaint(procedure: &str, received_on: &str) -> LogComplaint {
        LogComplaint {
            procedure: procedure.to_string(),
            division: Some(Division::EnglandAndWales),
            received_on: Some(date(received_on)),
            issue_arose_on: None,
            channel: Channel::Email,
            complainant: complainant(),
            summary: SUMMARY.to_string(),
            description: String::new(),
            tenure: None,
            occurred_at: None,
            definition: None,
            outcomes_sought: vec![],
        }
    }

    fn log(complaint: LogComplaint) -> ComplaintCommand {
        by(
            advisor(),
            Action::Log {
                reference: "CF-2025-0042".to_string(),
                complaint,
            },
        )
    }

    // ----- logging -----

    /// The `Logged` event of `complaint`, logged now with the given fields settled.
    fn decided_log(complaint: LogComplaint) -> E {
        let events = Complaint::default()
            .decide(log(complaint), &services())
            .expect("accepted");
        events.into_iter().next().expect("a Logged event")
    }

    #[test]
    fn a_complaint_logged_without_a_date_was_received_today_in_the_uk() {
        let mut complaint = log_complaint("chc-2024", "2025-06-02");
        complaint.received_on = None;
        let E::Logged { received_on, .. } = decided_log(complaint) else {
            panic!("not Logged")
        };
        // "Now" is 2025-06-02 13:00 in London.
        assert_eq!(received_on, date("2025-06-02"));
    }

    #[test]
    fn a_complaint_logged_without_a_division_takes_the_organisations_default() {
        let mut complaint = log_complaint("chc-2024", "2025-06-02");
        complaint.division = None;
        let mut scottish = services();
        scottish.default_division = Division::Scotland;
        let events = Complaint::default()
            .decide(log(complaint), &scottish)
            .expect("accepted");
        let Some(E::Logged { division, .. }) = events.first() else {
            panic!("not Logged")
        };
        assert_eq!(*division, Division::Scotland);
    }

    #[test]
    fn a_postcode_is_stored_in_its_usual_form() {
        for (given, stored) in [
            ("sw1a1aa", "SW1A 1AA"),
            (" m1  1ae ", "M1 1AE"),
            ("EH6 8RE", "EH6 8RE"),
            ("bt7 1nn", "BT7 1NN"),
            ("gir0aa", "GIR 0AA"),
        ] {
            let mut complaint = log_complaint("chc-2024", "2025-06-02");
            complaint.complainant.postcode = Some(given.to_string());
            let E::Logged { complainant, .. } = decided_log(complaint) else {
                panic!("not Logged")
            };
            assert_eq!(complainant.postcode.as_deref(), Some(stored), "{given}");
        }
    }

    #[tokio::test]
    async fn a_complaint_with_a_postcode_that_is_not_one_is_refused() {
        for given in ["12345", "SW1A", "SW1A 1A1", "ABC1 1AA", "Ω1 1AA", ""] {
            let mut complaint = log_complaint("chc-2024", "2025-06-02");
            complaint.complainant.postcode = Some(given.to_string());
            rejects(
                vec![],
                log(complaint),
                invalid("complainant.postcode", "is not a UK postcode"),
            )
            .await;
        }
    }

    #[tokio::test]
    async fn logging_records_the_procedure_copy_the_calendar_version_and_the_reference() {
        // Received on Friday 2025-05-30, logged on Monday: the entry happened, in the
        // real world, at the start of the UK day of receipt, 00:00 BST = 23:00 UTC the
        // day before.
        let midnight_bst = Utc.with_ymd_and_hms(2025, 5, 29, 23, 0, 0).unwrap();
        accepts(
            vec![],
            log(log_complaint("chc-2024", "2025-05-30")),
            vec![E::Logged {
                occurred_at: midnight_bst,
                by: advisor(),
                reference: "CF-2025-0042".to_string(),
                procedure: procedure("chc-2024"),
                division: Division::EnglandAndWales,
                calendar_version: casefile_domain::Calendar::builtin().version(),
                received_on: date("2025-05-30"),
                issue_arose_on: None,
                channel: Channel::Email,
                complainant: complainant(),
                summary: SUMMARY.to_string(),
                description: String::new(),
                tenure: None,
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_complaint_received_today_is_logged_at_the_current_time() {
        let events = TestFramework::<Complaint>::with(services())
            .given_no_previous_events()
            .when_async(log(log_complaint("ocasa", "2025-06-02")))
            .await
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].occurred_at(), now());
    }

    #[tokio::test]
    async fn a_complaint_cannot_be_logged_twice() {
        rejects(
            chc_logged(),
            log(log_complaint("chc-2024", "2025-04-01")),
            ComplaintError::AlreadyLogged,
        )
        .await;
    }

    #[tokio::test]
    async fn a_command_on_a_case_never_logged_is_not_found() {
        rejects(
            vec![],
            by(officer(), acknowledge()),
            ComplaintError::NotLogged,
        )
        .await;
        assert_eq!(ComplaintError::NotLogged.code(), "not_found");
    }

    #[tokio::test]
    async fn an_unknown_procedure_is_rejected() {
        rejects(
            vec![],
            log(log_complaint("acme-homes", "2025-05-30")),
            ComplaintError::UnknownProcedure("acme-homes".to_string()),
        )
        .await;
    }

    #[tokio::test]
    async fn a_complaint_cannot_be_received_in_the_future() {
        rejects(
            vec![],
            log(log_complaint("chc-2024", "2025-06-03")),
            ComplaintError::ReceivedInFuture {
                received_on: date("2025-06-03"),
                today: date("2025-06-02"),
            },
        )
        .await;
    }

    #[tokio::test]
    async fn a_log_cannot_be_dated_in_the_future() {
        let later = now() + Duration::hours(1);
        let complaint = LogComplaint {
            occurred_at: Some(later),
            ..log_complaint("chc-2024", "2025-06-02")
        };
        rejects(
            vec![],
            log(complaint),
            ComplaintError::OccurredInFuture { occurred_at: later },
        )
        .await;
    }

    #[tokio::test]
    async fn a_stage_command_cannot_be_dated_in_the_future() {
        let later = now() + Duration::minutes(1);
        let action = Action::Acknowledge(casefile_domain::command::AcknowledgeComplaint {
            text: None,
            occurred_at: Some(later),
        });
        rejects(
            chc_logged(),
            by(officer(), action),
            ComplaintError::OccurredInFuture { occurred_at: later },
        )
        .await;
    }

    #[tokio::test]
    async fn an_entry_cannot_be_backdated_before_the_previous_event() {
        // Acknowledged at noon on 2025-04-03; a Stage 1 response backdated to 04-02.
        let earlier = at("2025-04-02");
        let action = Action::RespondStage1(casefile_domain::command::RespondToStage {
            occurred_at: Some(earlier),
            ..response()
        });
        rejects(
            chc_acknowledged(),
            by(officer(), action),
            ComplaintError::OccurredBeforePreviousEvent {
                occurred_at: earlier,
                previous: at("2025-04-03"),
            },
        )
        .await;
    }

    #[tokio::test]
    async fn a_log_cannot_be_dated_before_the_complaint_was_received() {
        let before = at("2025-05-29");
        let complaint = LogComplaint {
            occurred_at: Some(before),
            ..log_complaint("chc-2024", "2025-05-30")
        };
        rejects(
            vec![],
            log(complaint),
            ComplaintError::OccurredBeforeReceipt {
                occurred_at: before,
                received_on: date("2025-05-30"),
            },
        )
        .await;
    }

    #[tokio::test]
    async fn a_blank_summary_is_an_invalid_field() {
        let complaint = LogComplaint {
            summary: "   ".to_string(),
            ..log_complaint("chc-2024", "2025-05-30")
        };
        rejects(
            vec![],
            log(complaint),
            invalid("summary", "must not be empty"),
        )
        .await;
    }

    #[tokio::test]
    async fn a_resident_id_over_200_bytes_is_an_invalid_field() {
        let with_id = |id: String| {
            let mut complaint = log_complaint("chc-2024", "2025-05-30");
            complaint.complainant.resident_id = Some(id);
            complaint
        };
        // 67 three-byte characters: 201 bytes, though only 67 characters.
        rejects(
            vec![],
            log(with_id("€".repeat(67))),
            invalid("complainant.resident_id", "must be at most 200 bytes"),
        )
        .await;
        let accepted = TestFramework::<Complaint>::with(services())
            .given_no_previous_events()
            .when_async(log(with_id("T".repeat(200))))
            .await
            .inspect_result();
        assert!(accepted.is_ok(), "{accepted:?}");
    }

    #[tokio::test]
    async fn an_issue_cannot_arise_after_the_complaint_was_received() {
        let complaint = LogComplaint {
            issue_arose_on: Some(date("2025-05-31")),
            ..log_complaint("chc-2024", "2025-05-30")
        };
        rejects(
            vec![],
            log(complaint),
            invalid("issue_arose_on", "must not be after received_on"),
        )
        .await;
    }

    #[tokio::test]
    async fn correspondence_without_a_direction_is_an_invalid_field() {
        let action = Action::RecordNote(RecordNote {
            kind: NoteKind::Correspondence,
            text: "Called the resident back".to_string(),
            direction: None,
            channel: Some(Channel::Phone),
            occurred_at: None,
        });
        rejects(
            chc_logged(),
            by(officer(), action),
            invalid("direction", "is required for correspondence"),
        )
        .await;
    }

    #[tokio::test]
    async fn correspondence_defaults_to_email() {
        let action = Action::RecordNote(RecordNote {
            kind: NoteKind::Correspondence,
            text: "Sent the acknowledgement letter".to_string(),
            direction: Some(Direction::Outbound),
            channel: None,
            occurred_at: None,
        });
        accepts(
            chc_logged(),
            by(officer(), action),
            vec![E::CorrespondenceRecorded {
                occurred_at: now(),
                by: officer(),
                direction: Direction::Outbound,
                channel: Channel::Email,
                text: "Sent the acknowledgement letter".to_string(),
            }],
        )
        .await;
    }

    fn evidence(sha256: &str) -> Action {
        Action::AttachEvidence(AttachEvidence {
            name: "bedroom.jpg".to_string(),
            media_type: "image/jpeg".to_string(),
            size_bytes: 2048,
            sha256: sha256.to_string(),
            description: None,
            occurred_at: None,
            stored: false,
        })
    }

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn evidence_attached(occurred_at: DateTime<Utc>, id: &str) -> E {
        E::EvidenceAttached {
            occurred_at,
            by: officer(),
            evidence_id: id.to_string(),
            name: "bedroom.jpg".to_string(),
            media_type: "image/jpeg".to_string(),
            size_bytes: 2048,
            sha256: SHA.to_string(),
            description: None,
            stored: false,
        }
    }

    #[tokio::test]
    async fn evidence_with_an_upper_case_or_short_sha256_is_an_invalid_field() {
        let reason = "must be 64 lower-case hex digits";
        rejects(
            chc_logged(),
            by(officer(), evidence(&SHA.to_uppercase())),
            invalid("sha256", reason),
        )
        .await;
        rejects(
            chc_logged(),
            by(officer(), evidence(&SHA[..63])),
            invalid("sha256", reason),
        )
        .await;
    }

    #[tokio::test]
    async fn evidence_ids_count_up_from_one() {
        accepts(
            chc_logged(),
            by(officer(), evidence(SHA)),
            vec![evidence_attached(now(), "ev-1")],
        )
        .await;
        accepts(
            [
                chc_logged(),
                vec![evidence_attached(at("2025-04-02"), "ev-1")],
            ]
            .concat(),
            by(officer(), evidence(SHA)),
            vec![evidence_attached(now(), "ev-2")],
        )
        .await;
    }

    #[tokio::test]
    async fn an_extension_of_zero_working_days_is_an_invalid_field() {
        rejects(
            chc_acknowledged(),
            by(officer(), extend(0)),
            invalid("working_days", "must be between 1 and 260"),
        )
        .await;
    }

    #[tokio::test]
    async fn an_extension_beyond_a_year_of_working_days_is_an_invalid_field_even_uncapped() {
        rejects(
            vec![
                logged("ocasa", "2025-04-01"),
                acknowledged("2025-04-02"),
                stage1_responded("2025-04-08", officer()),
                escalated("2025-04-09"),
                stage2_acknowledged("2025-04-10"),
            ],
            by(officer(), extend(261)),
            invalid("working_days", "must be between 1 and 260"),
        )
        .await;
    }

    // ----- closed, withdrawn and refused cases -----

    #[tokio::test]
    async fn a_closed_case_takes_no_stage_commands() {
        rejects(
            [chc_stage1_answered(), vec![closed("2025-04-11")]].concat(),
            by(advisor(), escalate()),
            ComplaintError::CaseClosed(Status::Closed),
        )
        .await;
    }

    #[tokio::test]
    async fn a_withdrawn_case_takes_no_stage_commands() {
        rejects(
            [chc_logged(), vec![withdrawn("2025-04-02")]].concat(),
            by(officer(), acknowledge()),
            ComplaintError::CaseClosed(Status::Withdrawn),
        )
        .await;
    }

    #[tokio::test]
    async fn a_refused_case_takes_no_stage_commands() {
        rejects(
            [
                chc_logged(),
                vec![refused("2025-04-02", vec![Scheme::HousingOmbudsman])],
            ]
            .concat(),
            by(officer(), acknowledge()),
            ComplaintError::CaseClosed(Status::Refused),
        )
        .await;
    }

    #[tokio::test]
    async fn a_case_cannot_be_withdrawn_twice() {
        rejects(
            [chc_logged(), vec![withdrawn("2025-04-02")]].concat(),
            by(advisor(), withdraw()),
            ComplaintError::CaseClosed(Status::Withdrawn),
        )
        .await;
    }

    #[tokio::test]
    async fn withdrawing_an_open_case_is_recorded() {
        accepts(
            chc_acknowledged(),
            by(advisor(), withdraw()),
            vec![E::Withdrawn {
                occurred_at: now(),
                by: advisor(),
                reason: "Resolved informally".to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn notes_can_still_be_recorded_on_a_closed_case() {
        let action = Action::RecordNote(RecordNote {
            kind: NoteKind::Note,
            text: "Resident thanked us".to_string(),
            direction: None,
            channel: None,
            occurred_at: None,
        });
        accepts(
            [chc_stage1_answered(), vec![closed("2025-04-11")]].concat(),
            by(officer(), action),
            vec![E::NoteRecorded {
                occurred_at: now(),
                by: officer(),
                text: "Resident thanked us".to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn an_open_case_cannot_be_reopened() {
        rejects(
            chc_acknowledged(),
            by(officer(), reopen()),
            ComplaintError::CaseNotClosed,
        )
        .await;
    }

    #[tokio::test]
    async fn a_closed_case_can_be_reopened() {
        accepts(
            [chc_stage1_answered(), vec![closed("2025-04-11")]].concat(),
            by(officer(), reopen()),
            vec![E::Reopened {
                occurred_at: now(),
                by: officer(),
                reason: REOPEN_REASON.to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_reopened_case_takes_stage_commands_again() {
        let history = [
            chc_stage1_answered(),
            vec![closed("2025-04-11"), reopened("2025-04-14")],
        ]
        .concat();
        accepts(
            history,
            by(advisor(), escalate()),
            vec![E::Escalated {
                occurred_at: now(),
                by: advisor(),
                reason: ESCALATION_REASON.to_string(),
            }],
        )
        .await;

        let history = [
            chc_logged(),
            vec![withdrawn("2025-04-02"), reopened("2025-04-03")],
        ]
        .concat();
        accepts(
            history,
            by(officer(), acknowledge()),
            vec![E::Acknowledged {
                occurred_at: now(),
                by: officer(),
                text: None,
            }],
        )
        .await;
    }

    // ----- acknowledgement and Stage 1 -----

    #[tokio::test]
    async fn acknowledging_an_open_complaint_is_recorded() {
        let action = Action::Acknowledge(casefile_domain::command::AcknowledgeComplaint {
            text: Some("We will reply by 17 April".to_string()),
            occurred_at: Some(at("2025-04-03")),
        });
        accepts(
            chc_logged(),
            by(officer(), action),
            vec![E::Acknowledged {
                occurred_at: at("2025-04-03"),
                by: officer(),
                text: Some("We will reply by 17 April".to_string()),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_complaint_cannot_be_acknowledged_twice() {
        rejects(
            chc_acknowledged(),
            by(officer(), acknowledge()),
            ComplaintError::AlreadyAcknowledged,
        )
        .await;
    }

    #[tokio::test]
    async fn stage_one_cannot_be_answered_before_acknowledgement() {
        rejects(
            chc_logged(),
            by(officer(), respond_stage1()),
            ComplaintError::NotAcknowledged,
        )
        .await;
    }

    #[tokio::test]
    async fn stage_one_answered_after_acknowledgement_is_recorded() {
        accepts(
            chc_acknowledged(),
            by(officer(), respond_stage1()),
            // Stage 1 of a two-stage procedure is not final: nothing is signposted yet.
            vec![
                E::Stage1Responded {
                    occurred_at: now(),
                    by: officer(),
                    response: stage_response(),
                    signposted_to: vec![],
                },
                mould_wash_tracked(now(), Stage::Stage1, officer()),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn stage_one_cannot_be_answered_twice() {
        rejects(
            chc_stage1_answered(),
            by(officer(), respond_stage1()),
            ComplaintError::AlreadyResponded(Stage::Stage1),
        )
        .await;
    }

    // ----- escalation and Stage 2 -----

    #[tokio::test]
    async fn a_complaint_cannot_be_escalated_before_its_stage_one_response() {
        rejects(
            chc_acknowledged(),
            by(advisor(), escalate()),
            ComplaintError::Stage1NotResponded,
        )
        .await;
    }

    #[tokio::test]
    async fn escalating_after_the_stage_one_response_is_recorded() {
        accepts(
            chc_stage1_answered(),
            by(advisor(), escalate()),
            vec![E::Escalated {
                occurred_at: now(),
                by: advisor(),
                reason: ESCALATION_REASON.to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_complaint_cannot_be_escalated_twice() {
        rejects(
            chc_escalated(),
            by(advisor(), escalate()),
            ComplaintError::AlreadyEscalated,
        )
        .await;
    }

    #[tokio::test]
    async fn the_stage_one_response_of_a_one_stage_procedure_signposts_its_schemes() {
        let mut one_stage = procedure("chc-2024");
        one_stage.id = "one-stage".to_string();
        one_stage.stages = 1;
        one_stage
            .steps
            .retain(|rule| rule.step.stage() == Stage::Stage1);
        one_stage.extensions.stage2 = None;
        let mut registry = ProcedureRegistry::builtin();
        registry.add(one_stage.clone(), "one-stage.toml").unwrap();
        let mut history = chc_acknowledged();
        if let E::Logged { procedure, .. } = &mut history[0] {
            *procedure = one_stage;
        }
        TestFramework::<Complaint>::with(services_with(registry))
            .given(history)
            .when_async(by(officer(), respond_stage1()))
            .await
            .then_expect_events(vec![
                E::Stage1Responded {
                    occurred_at: now(),
                    by: officer(),
                    response: stage_response(),
                    signposted_to: vec![Scheme::HousingOmbudsman],
                },
                mould_wash_tracked(now(), Stage::Stage1, officer()),
            ]);
    }

    #[tokio::test]
    async fn a_one_stage_procedure_has_no_stage_two() {
        let mut one_stage = procedure("chc-2024");
        one_stage.id = "one-stage".to_string();
        one_stage.stages = 1;
        one_stage
            .steps
            .retain(|rule| rule.step.stage() == Stage::Stage1);
        one_stage.extensions.stage2 = None;
        let mut registry = ProcedureRegistry::builtin();
        registry.add(one_stage.clone(), "one-stage.toml").unwrap();
        let mut history = chc_stage1_answered();
        if let E::Logged { procedure, .. } = &mut history[0] {
            *procedure = one_stage;
        }
        TestFramework::<Complaint>::with(services_with(registry))
            .given(history)
            .when_async(by(advisor(), escalate()))
            .await
            .then_expect_error(ComplaintError::NoStageTwo);
    }

    #[tokio::test]
    async fn stage_two_cannot_be_acknowledged_before_escalation() {
        rejects(
            chc_stage1_answered(),
            by(reviewer(), acknowledge_stage2()),
            ComplaintError::NotEscalated,
        )
        .await;
    }

    #[tokio::test]
    async fn acknowledging_stage_two_is_recorded() {
        accepts(
            chc_escalated(),
            by(reviewer(), acknowledge_stage2()),
            vec![E::Stage2Acknowledged {
                occurred_at: now(),
                by: reviewer(),
                text: None,
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_cannot_be_acknowledged_twice() {
        rejects(
            chc_stage2_acknowledged(),
            by(reviewer(), acknowledge_stage2()),
            ComplaintError::AlreadyAcknowledged,
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_cannot_be_answered_before_escalation() {
        rejects(
            chc_stage1_answered(),
            by(reviewer(), respond_stage2()),
            ComplaintError::NotEscalated,
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_cannot_be_answered_before_its_acknowledgement_on_chc_2024() {
        rejects(
            chc_escalated(),
            by(reviewer(), respond_stage2()),
            ComplaintError::NotAcknowledged,
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_needs_no_acknowledgement_where_the_procedure_has_none() {
        // CloudRooms' senior review has no Stage 2 acknowledgement step.
        let history = vec![
            logged("cloudrooms", "2025-04-01"),
            acknowledged("2025-04-03"),
            stage1_responded("2025-04-10", officer()),
            escalated("2025-04-15"),
            defined("2025-04-15", Stage::Stage2),
        ];
        accepts(
            history,
            by(reviewer(), respond_stage2()),
            vec![
                E::Stage2Responded {
                    occurred_at: now(),
                    by: reviewer(),
                    response: stage_response(),
                    signposted_to: vec![Scheme::PropertyRedressScheme],
                },
                mould_wash_tracked(now(), Stage::Stage2, reviewer()),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_cannot_be_answered_by_the_stage_one_responder() {
        rejects(
            chc_stage2_acknowledged(),
            by(officer(), respond_stage2()),
            ComplaintError::SameReviewer,
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_answered_by_a_different_person_is_recorded() {
        accepts(
            chc_stage2_acknowledged(),
            by(reviewer(), respond_stage2()),
            // The final response signposts the procedure's scheme.
            vec![
                E::Stage2Responded {
                    occurred_at: now(),
                    by: reviewer(),
                    response: stage_response(),
                    signposted_to: vec![Scheme::HousingOmbudsman],
                },
                mould_wash_tracked(now(), Stage::Stage2, reviewer()),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_cannot_be_answered_twice() {
        rejects(
            chc_stage2_answered(),
            by(advisor(), respond_stage2()),
            ComplaintError::AlreadyResponded(Stage::Stage2),
        )
        .await;
    }

    // ----- the definition of the complaint -----

    #[tokio::test]
    async fn defining_the_complaint_is_recorded_with_the_outcomes_sought() {
        accepts(
            chc_logged(),
            by(officer(), define(Stage::Stage1)),
            vec![E::Defined {
                occurred_at: now(),
                by: officer(),
                stage: Stage::Stage1,
                definition: DEFINITION.to_string(),
                outcomes_sought: outcomes_sought(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_definition_given_when_logging_is_recorded_as_the_stage_one_definition() {
        let complaint = LogComplaint {
            definition: Some(DEFINITION.to_string()),
            outcomes_sought: outcomes_sought(),
            ..log_complaint("chc-2024", "2025-06-02")
        };
        let events = TestFramework::<Complaint>::with(services())
            .given_no_previous_events()
            .when_async(log(complaint))
            .await
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].name(), "Logged");
        assert_eq!(
            events[1],
            E::Defined {
                occurred_at: now(),
                by: advisor(),
                stage: Stage::Stage1,
                definition: DEFINITION.to_string(),
                outcomes_sought: outcomes_sought(),
            }
        );
    }

    #[tokio::test]
    async fn outcomes_sought_without_a_definition_are_an_invalid_field_when_logging() {
        let complaint = LogComplaint {
            outcomes_sought: outcomes_sought(),
            ..log_complaint("chc-2024", "2025-05-30")
        };
        rejects(
            vec![],
            log(complaint),
            invalid("outcomes_sought", "needs a definition"),
        )
        .await;
    }

    #[tokio::test]
    async fn a_blank_definition_is_an_invalid_field() {
        let action = Action::Define(casefile_domain::command::DefineComplaint {
            stage: Stage::Stage1,
            definition: " ".to_string(),
            outcomes_sought: vec![],
            occurred_at: None,
        });
        rejects(
            chc_logged(),
            by(officer(), action),
            invalid("definition", "must not be empty"),
        )
        .await;
    }

    #[tokio::test]
    async fn stage_one_cannot_be_answered_without_a_definition_of_the_complaint() {
        rejects(
            chc_acknowledged_undefined(),
            by(officer(), respond_stage1()),
            ComplaintError::DefinitionMissing(Stage::Stage1),
        )
        .await;
    }

    #[tokio::test]
    async fn a_missing_definition_is_a_state_conflict_with_its_own_code() {
        let error = ComplaintError::DefinitionMissing(Stage::Stage2);
        assert_eq!(error.code(), "definition_missing");
        assert_eq!(error.kind(), ErrorKind::Conflict);
    }

    #[tokio::test]
    async fn a_stage_two_definition_cannot_be_recorded_before_escalation() {
        rejects(
            chc_stage1_answered(),
            by(reviewer(), define(Stage::Stage2)),
            ComplaintError::NotEscalated,
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_cannot_be_answered_on_the_stage_one_definition_alone() {
        let history = [
            chc_escalated_undefined(),
            vec![stage2_acknowledged("2025-04-16")],
        ]
        .concat();
        rejects(
            history,
            by(reviewer(), respond_stage2()),
            ComplaintError::DefinitionMissing(Stage::Stage2),
        )
        .await;
    }

    #[tokio::test]
    async fn a_stage_one_definition_restated_after_escalation_does_not_define_stage_two() {
        let history = [
            chc_escalated_undefined(),
            vec![
                defined("2025-04-15", Stage::Stage1),
                stage2_acknowledged("2025-04-16"),
            ],
        ]
        .concat();
        rejects(
            history,
            by(reviewer(), respond_stage2()),
            ComplaintError::DefinitionMissing(Stage::Stage2),
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_can_be_defined_once_escalated() {
        accepts(
            chc_escalated_undefined(),
            by(reviewer(), define(Stage::Stage2)),
            vec![E::Defined {
                occurred_at: now(),
                by: reviewer(),
                stage: Stage::Stage2,
                definition: DEFINITION.to_string(),
                outcomes_sought: outcomes_sought(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn stage_two_restated_after_its_acknowledgement_can_be_answered() {
        let history = [
            chc_escalated_undefined(),
            vec![
                stage2_acknowledged("2025-04-16"),
                defined("2025-04-17", Stage::Stage2),
            ],
        ]
        .concat();
        accepts(
            history,
            by(reviewer(), respond_stage2()),
            vec![
                E::Stage2Responded {
                    occurred_at: now(),
                    by: reviewer(),
                    response: stage_response(),
                    signposted_to: vec![Scheme::HousingOmbudsman],
                },
                mould_wash_tracked(now(), Stage::Stage2, reviewer()),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn a_one_stage_procedure_takes_no_stage_two_definition() {
        let mut one_stage = procedure("chc-2024");
        one_stage.id = "one-stage".to_string();
        one_stage.stages = 1;
        one_stage
            .steps
            .retain(|rule| rule.step.stage() == Stage::Stage1);
        one_stage.extensions.stage2 = None;
        let mut registry = ProcedureRegistry::builtin();
        registry.add(one_stage.clone(), "one-stage.toml").unwrap();
        let mut history = chc_acknowledged();
        if let E::Logged { procedure, .. } = &mut history[0] {
            *procedure = one_stage;
        }
        TestFramework::<Complaint>::with(services_with(registry))
            .given(history)
            .when_async(by(officer(), define(Stage::Stage2)))
            .await
            .then_expect_error(ComplaintError::NoStageTwo);
    }

    #[tokio::test]
    async fn a_closed_case_takes_no_new_definition() {
        rejects(
            [chc_stage1_answered(), vec![closed("2025-04-11")]].concat(),
            by(officer(), define(Stage::Stage1)),
            ComplaintError::CaseClosed(Status::Closed),
        )
        .await;
    }

    // ----- representatives -----

    fn advocate_contact() -> Contact {
        Contact {
            email: Some("lee@advocacy.example.org".to_string()),
            phone: None,
            address: None,
        }
    }

    fn consent() -> Authority {
        Authority {
            how: "Signed consent form, scanned to the case".to_string(),
            given_on: date("2025-04-02"),
        }
    }

    fn representative(contact: Contact, correspondence_to: CorrespondenceTo) -> AddRepresentative {
        AddRepresentative {
            name: "Lee Advocate".to_string(),
            relationship: Relationship::Advocate,
            contact,
            authority: consent(),
            correspondence_to,
            occurred_at: None,
        }
    }

    fn add_representative(contact: Contact, correspondence_to: CorrespondenceTo) -> Action {
        Action::AddRepresentative(representative(contact, correspondence_to))
    }

    fn representative_added(occurred_at: DateTime<Utc>, id: &str) -> E {
        E::RepresentativeAdded {
            occurred_at,
            by: officer(),
            representative_id: id.to_string(),
            name: "Lee Advocate".to_string(),
            relationship: Relationship::Advocate,
            contact: advocate_contact(),
            authority: consent(),
            correspondence_to: CorrespondenceTo::Both,
        }
    }

    const ENDING_REASON: &str = "The resident asked us to deal with them directly";

    fn end_representative(id: &str) -> Action {
        Action::EndRepresentative(EndRepresentative {
            representative_id: id.to_string(),
            reason: ENDING_REASON.to_string(),
            occurred_at: None,
        })
    }

    #[tokio::test]
    async fn adding_a_representative_is_recorded_under_the_next_id() {
        let add = || {
            by(
                officer(),
                add_representative(advocate_contact(), CorrespondenceTo::Both),
            )
        };
        accepts(
            chc_logged(),
            add(),
            vec![representative_added(now(), "rep-1")],
        )
        .await;
        // Ended representatives keep their ids: the next is still new.
        let history = [
            chc_logged(),
            vec![
                representative_added(at("2025-04-02"), "rep-1"),
                E::RepresentativeEnded {
                    occurred_at: at("2025-04-03"),
                    by: officer(),
                    representative_id: "rep-1".to_string(),
                    reason: ENDING_REASON.to_string(),
                },
            ],
        ]
        .concat();
        accepts(history, add(), vec![representative_added(now(), "rep-2")]).await;
    }

    #[tokio::test]
    async fn a_representative_who_is_to_receive_correspondence_needs_a_contact() {
        for to in [CorrespondenceTo::Representative, CorrespondenceTo::Both] {
            rejects(
                chc_logged(),
                by(officer(), add_representative(Contact::default(), to)),
                invalid(
                    "contact",
                    "is needed when correspondence goes to the representative",
                ),
            )
            .await;
        }
    }

    #[tokio::test]
    async fn a_representative_writing_only_to_the_resident_needs_no_contact() {
        let events = TestFramework::<Complaint>::with(services())
            .given(chc_logged())
            .when_async(by(
                officer(),
                add_representative(Contact::default(), CorrespondenceTo::Resident),
            ))
            .await
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name(), "RepresentativeAdded");
    }

    #[tokio::test]
    async fn consent_cannot_be_dated_after_the_day_it_is_recorded() {
        let action = Action::AddRepresentative(AddRepresentative {
            authority: Authority {
                given_on: date("2025-06-03"),
                ..consent()
            },
            ..representative(advocate_contact(), CorrespondenceTo::Both)
        });
        rejects(
            chc_logged(),
            by(officer(), action),
            invalid(
                "authority.given_on",
                "must not be after the day it is recorded",
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn ending_a_representative_records_who_ended_it_and_why() {
        let history = [
            chc_logged(),
            vec![representative_added(at("2025-04-02"), "rep-1")],
        ]
        .concat();
        accepts(
            history,
            by(advisor(), end_representative("rep-1")),
            vec![E::RepresentativeEnded {
                occurred_at: now(),
                by: advisor(),
                representative_id: "rep-1".to_string(),
                reason: ENDING_REASON.to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_representative_the_case_does_not_have_cannot_be_ended() {
        rejects(
            chc_logged(),
            by(advisor(), end_representative("rep-1")),
            ComplaintError::UnknownRepresentative("rep-1".to_string()),
        )
        .await;
        let error = ComplaintError::UnknownRepresentative("rep-1".to_string());
        assert_eq!(error.kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn a_representative_cannot_be_ended_twice() {
        let history = [
            chc_logged(),
            vec![
                representative_added(at("2025-04-02"), "rep-1"),
                E::RepresentativeEnded {
                    occurred_at: at("2025-04-03"),
                    by: officer(),
                    representative_id: "rep-1".to_string(),
                    reason: ENDING_REASON.to_string(),
                },
            ],
        ]
        .concat();
        rejects(
            history,
            by(advisor(), end_representative("rep-1")),
            ComplaintError::RepresentativeAlreadyEnded("rep-1".to_string()),
        )
        .await;
        let error = ComplaintError::RepresentativeAlreadyEnded("rep-1".to_string());
        assert_eq!(error.kind(), ErrorKind::Conflict);
    }

    #[tokio::test]
    async fn a_representative_can_be_added_to_a_closed_case() {
        // A resident may appoint someone to take a closed case to the Ombudsman.
        let history = [chc_stage1_answered(), vec![closed("2025-04-11")]].concat();
        accepts(
            history,
            by(
                officer(),
                add_representative(advocate_contact(), CorrespondenceTo::Both),
            ),
            vec![representative_added(now(), "rep-1")],
        )
        .await;
    }

    // ----- updates to the resident -----

    fn record_update(next_update_due: Option<&str>) -> Action {
        Action::RecordUpdate(RecordUpdate {
            channel: Channel::Phone,
            summary: UPDATE_SUMMARY.to_string(),
            next_update_due: next_update_due.map(date),
            occurred_at: None,
        })
    }

    #[tokio::test]
    async fn an_update_given_to_the_resident_is_recorded_with_the_next_date_agreed() {
        accepts(
            chc_acknowledged(),
            by(officer(), record_update(Some("2025-06-09"))),
            vec![E::UpdateRecorded {
                occurred_at: now(),
                by: officer(),
                channel: Channel::Phone,
                summary: UPDATE_SUMMARY.to_string(),
                next_update_due: Some(date("2025-06-09")),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn the_next_update_must_be_due_after_the_day_of_the_update() {
        rejects(
            chc_acknowledged(),
            by(officer(), record_update(Some("2025-06-02"))),
            invalid("next_update_due", "must be after the day of the update"),
        )
        .await;
    }

    #[tokio::test]
    async fn the_next_update_cannot_be_promised_more_than_a_year_ahead() {
        // 2 June 2025 plus 366 days is 3 June 2026.
        rejects(
            chc_acknowledged(),
            by(officer(), record_update(Some("2026-06-04"))),
            invalid("next_update_due", "must be within a year of the update"),
        )
        .await;
        let events = TestFramework::<Complaint>::with(services())
            .given(chc_acknowledged())
            .when_async(by(officer(), record_update(Some("2026-06-03"))))
            .await
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 1);
    }

    // ----- tracked actions -----

    /// A Stage 1 response with two remedy actions and one outstanding action.
    fn response_with_actions() -> RespondToStage {
        RespondToStage {
            remedy: Remedy {
                actions: vec!["Mould wash".to_string(), "Repair the gutter".to_string()],
                compensation_pence: 15_000,
            },
            outstanding_actions: vec!["Damp survey".to_string()],
            ..response()
        }
    }

    fn tracked(id: &str, stage: Stage, source: ActionSource, description: &str) -> E {
        E::ActionTracked {
            occurred_at: at("2025-04-10"),
            by: officer(),
            action_id: id.to_string(),
            stage,
            source,
            description: description.to_string(),
        }
    }

    /// Stage 1 answered with `response_with_actions()`: three open actions.
    fn chc_with_open_actions() -> Vec<E> {
        let mut answered = chc_acknowledged();
        let response = response_with_actions();
        answered.push(E::Stage1Responded {
            occurred_at: at("2025-04-10"),
            by: officer(),
            response: StageResponse {
                outcome: response.outcome,
                decision: response.decision,
                reasons: response.reasons,
                remedy: response.remedy,
                outstanding_actions: response.outstanding_actions,
            },
            signposted_to: vec![],
        });
        answered.extend([
            tracked("s1-a1", Stage::Stage1, ActionSource::Remedy, "Mould wash"),
            tracked(
                "s1-a2",
                Stage::Stage1,
                ActionSource::Remedy,
                "Repair the gutter",
            ),
            tracked(
                "s1-a3",
                Stage::Stage1,
                ActionSource::Outstanding,
                "Damp survey",
            ),
        ]);
        answered
    }

    fn action_completed(day: &str, id: &str) -> E {
        E::ActionCompleted {
            occurred_at: at(day),
            by: officer(),
            action_id: id.to_string(),
            evidence: "Job 4471 signed off".to_string(),
        }
    }

    fn complete_action(id: &str) -> Action {
        Action::CompleteAction(CompleteAction {
            action_id: id.to_string(),
            evidence: "Job 4471 signed off".to_string(),
            occurred_at: None,
        })
    }

    fn set_action(id: &str, due_on: &str) -> Action {
        Action::SetAction(SetAction {
            action_id: id.to_string(),
            owner: "Repairs team".to_string(),
            due_on: date(due_on),
            occurred_at: None,
        })
    }

    fn close_because(reason: &str) -> Action {
        Action::Close(CloseComplaint {
            open_actions_reason: Some(reason.to_string()),
            ..CloseComplaint::default()
        })
    }

    #[tokio::test]
    async fn a_stage_response_tracks_its_remedy_actions_then_its_outstanding_actions() {
        let events = TestFramework::<Complaint>::with(services())
            .given(chc_acknowledged())
            .when_async(by(
                officer(),
                Action::RespondStage1(response_with_actions()),
            ))
            .await
            .inspect_result()
            .unwrap();
        let now_tracked = |id: &str, source, description: &str| E::ActionTracked {
            occurred_at: now(),
            by: officer(),
            action_id: id.to_string(),
            stage: Stage::Stage1,
            source,
            description: description.to_string(),
        };
        assert_eq!(events[0].name(), "Stage1Responded");
        assert_eq!(
            events[1..],
            [
                now_tracked("s1-a1", ActionSource::Remedy, "Mould wash"),
                now_tracked("s1-a2", ActionSource::Remedy, "Repair the gutter"),
                now_tracked("s1-a3", ActionSource::Outstanding, "Damp survey"),
            ]
        );
    }

    #[tokio::test]
    async fn a_response_with_no_actions_tracks_none() {
        let bare = RespondToStage {
            remedy: Remedy::default(),
            ..response()
        };
        let events = TestFramework::<Complaint>::with(services())
            .given(chc_acknowledged())
            .when_async(by(officer(), Action::RespondStage1(bare)))
            .await
            .inspect_result()
            .unwrap();
        assert_eq!(events.len(), 1);
    }

    #[tokio::test]
    async fn setting_an_actions_owner_and_due_date_is_recorded() {
        accepts(
            chc_with_open_actions(),
            by(officer(), set_action("s1-a2", "2025-06-20")),
            vec![E::ActionAssigned {
                occurred_at: now(),
                by: officer(),
                action_id: "s1-a2".to_string(),
                owner: "Repairs team".to_string(),
                due_on: date("2025-06-20"),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn an_action_cannot_be_due_before_the_complaint_was_received() {
        rejects(
            chc_with_open_actions(),
            by(officer(), set_action("s1-a1", "2025-03-31")),
            invalid("due_on", "must not be before the complaint was received"),
        )
        .await;
    }

    #[tokio::test]
    async fn an_action_the_case_does_not_track_cannot_be_set_or_completed() {
        for action in [set_action("s1-a4", "2025-06-20"), complete_action("s2-a1")] {
            let id = match &action {
                Action::SetAction(c) => c.action_id.clone(),
                Action::CompleteAction(c) => c.action_id.clone(),
                _ => unreachable!("only action commands are listed"),
            };
            rejects(
                chc_with_open_actions(),
                by(officer(), action),
                ComplaintError::UnknownAction(id),
            )
            .await;
        }
        let error = ComplaintError::UnknownAction("s1-a4".to_string());
        assert_eq!(error.kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn completing_an_action_is_recorded_with_its_evidence() {
        accepts(
            chc_with_open_actions(),
            by(officer(), complete_action("s1-a3")),
            vec![E::ActionCompleted {
                occurred_at: now(),
                by: officer(),
                action_id: "s1-a3".to_string(),
                evidence: "Job 4471 signed off".to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_completed_action_cannot_be_completed_again_or_reassigned() {
        let history = [
            chc_with_open_actions(),
            vec![action_completed("2025-04-20", "s1-a1")],
        ]
        .concat();
        for action in [complete_action("s1-a1"), set_action("s1-a1", "2025-06-20")] {
            rejects(
                history.clone(),
                by(officer(), action),
                ComplaintError::ActionAlreadyCompleted("s1-a1".to_string()),
            )
            .await;
        }
    }

    #[tokio::test]
    async fn a_case_with_open_actions_cannot_be_closed_without_a_reason() {
        let history = [
            chc_with_open_actions(),
            vec![action_completed("2025-04-20", "s1-a2")],
        ]
        .concat();
        rejects(
            history,
            by(officer(), close()),
            ComplaintError::OpenActions {
                open: vec!["s1-a1".to_string(), "s1-a3".to_string()],
            },
        )
        .await;
        let error = ComplaintError::OpenActions { open: vec![] };
        assert_eq!(error.code(), "open_actions");
        assert_eq!(error.kind(), ErrorKind::Conflict);
    }

    #[tokio::test]
    async fn closing_with_open_actions_records_which_were_open_and_why() {
        let reason = "The survey is booked for July; the case is resolved otherwise";
        let history = [
            chc_with_open_actions(),
            vec![
                action_completed("2025-04-20", "s1-a1"),
                action_completed("2025-04-21", "s1-a2"),
            ],
        ]
        .concat();
        accepts(
            history,
            by(officer(), close_because(reason)),
            vec![E::Closed {
                occurred_at: now(),
                by: officer(),
                remedy: Remedy::default(),
                learning: vec![],
                open_actions: vec!["s1-a3".to_string()],
                open_actions_reason: Some(reason.to_string()),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_case_whose_actions_are_all_done_closes_without_a_reason() {
        let history = [
            chc_with_open_actions(),
            vec![
                action_completed("2025-04-20", "s1-a1"),
                action_completed("2025-04-21", "s1-a2"),
                action_completed("2025-04-22", "s1-a3"),
            ],
        ]
        .concat();
        accepts(
            history,
            by(officer(), close()),
            vec![E::Closed {
                occurred_at: now(),
                by: officer(),
                remedy: Remedy::default(),
                learning: vec![],
                open_actions: vec![],
                open_actions_reason: None,
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn an_action_left_open_at_closing_can_still_be_completed() {
        let history = [
            chc_with_open_actions(),
            vec![E::Closed {
                occurred_at: at("2025-04-25"),
                by: officer(),
                remedy: Remedy::default(),
                learning: vec![],
                open_actions: vec![
                    "s1-a1".to_string(),
                    "s1-a2".to_string(),
                    "s1-a3".to_string(),
                ],
                open_actions_reason: Some("Works booked".to_string()),
            }],
        ]
        .concat();
        accepts(
            history,
            by(officer(), complete_action("s1-a1")),
            vec![E::ActionCompleted {
                occurred_at: now(),
                by: officer(),
                action_id: "s1-a1".to_string(),
                evidence: "Job 4471 signed off".to_string(),
            }],
        )
        .await;
    }

    // ----- learning -----

    fn boiler_learning() -> LearningAction {
        LearningAction {
            learning: "Inspect boilers older than ten years each autumn".to_string(),
            theme: "repairs".to_string(),
            owner: "Head of Repairs".to_string(),
            due_on: date("2025-09-30"),
        }
    }

    fn learning_recorded(occurred_at: DateTime<Utc>, by: Actor, id: &str) -> E {
        let item = boiler_learning();
        E::LearningRecorded {
            occurred_at,
            by,
            learning_id: id.to_string(),
            learning: item.learning,
            theme: item.theme,
            owner: item.owner,
            due_on: item.due_on,
        }
    }

    fn record_learning(item: LearningAction) -> Action {
        Action::RecordLearning(RecordLearning {
            learning: item.learning,
            theme: item.theme,
            owner: item.owner,
            due_on: item.due_on,
            occurred_at: None,
        })
    }

    fn complete_learning(id: &str) -> Action {
        Action::CompleteLearning(CompleteLearning {
            learning_id: id.to_string(),
            what_changed: "Autumn boiler inspections added to the planned programme".to_string(),
            occurred_at: None,
        })
    }

    #[test]
    fn closing_learning_is_read_as_plain_notes_or_as_actions() {
        let body = serde_json::json!({
            "learning": [
                "Chase repeat repairs",
                {
                    "learning": "Inspect boilers older than ten years each autumn",
                    "theme": "repairs",
                    "owner": "Head of Repairs",
                    "due_on": "2025-09-30"
                }
            ]
        });
        let close: CloseComplaint = serde_json::from_value(body).unwrap();
        assert_eq!(
            close.learning,
            vec![
                LearningEntry::Note("Chase repeat repairs".to_string()),
                LearningEntry::Action(boiler_learning()),
            ]
        );
    }

    #[tokio::test]
    async fn closing_records_each_learning_action_after_the_closure_and_keeps_notes_on_it() {
        let action = Action::Close(CloseComplaint {
            learning: vec![
                LearningEntry::Note("Chase repeat repairs".to_string()),
                LearningEntry::Action(boiler_learning()),
            ],
            ..CloseComplaint::default()
        });
        accepts(
            chc_stage2_answered(),
            by(reviewer(), action),
            vec![
                E::Closed {
                    occurred_at: now(),
                    by: reviewer(),
                    remedy: Remedy::default(),
                    learning: vec!["Chase repeat repairs".to_string()],
                    open_actions: vec![],
                    open_actions_reason: None,
                },
                learning_recorded(now(), reviewer(), "learn-1"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn a_learning_action_at_closing_needs_a_theme() {
        let action = Action::Close(CloseComplaint {
            learning: vec![LearningEntry::Action(LearningAction {
                theme: String::new(),
                ..boiler_learning()
            })],
            ..CloseComplaint::default()
        });
        rejects(
            chc_stage2_answered(),
            by(reviewer(), action),
            invalid("learning.theme", "must not be empty"),
        )
        .await;
    }

    #[tokio::test]
    async fn a_learning_action_recorded_on_its_own_takes_the_next_id() {
        let history = [
            chc_stage2_answered(),
            vec![
                closed("2025-05-02"),
                learning_recorded(at("2025-05-02"), officer(), "learn-1"),
            ],
        ]
        .concat();
        accepts(
            history,
            by(officer(), record_learning(boiler_learning())),
            vec![learning_recorded(now(), officer(), "learn-2")],
        )
        .await;
    }

    #[tokio::test]
    async fn a_learning_action_needs_an_owner_and_a_due_date_not_before_receipt() {
        let no_owner = LearningAction {
            owner: " ".to_string(),
            ..boiler_learning()
        };
        rejects(
            chc_logged(),
            by(officer(), record_learning(no_owner)),
            invalid("owner", "must not be empty"),
        )
        .await;
        let too_early = LearningAction {
            due_on: date("2025-03-31"),
            ..boiler_learning()
        };
        rejects(
            chc_logged(),
            by(officer(), record_learning(too_early)),
            invalid("due_on", "must not be before the complaint was received"),
        )
        .await;
    }

    #[tokio::test]
    async fn completing_a_learning_action_records_what_changed() {
        let history = [
            chc_logged(),
            vec![learning_recorded(at("2025-04-02"), officer(), "learn-1")],
        ]
        .concat();
        accepts(
            history,
            by(advisor(), complete_learning("learn-1")),
            vec![E::LearningCompleted {
                occurred_at: now(),
                by: advisor(),
                learning_id: "learn-1".to_string(),
                what_changed: "Autumn boiler inspections added to the planned programme"
                    .to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_learning_action_the_case_does_not_have_cannot_be_completed() {
        rejects(
            chc_logged(),
            by(advisor(), complete_learning("learn-1")),
            ComplaintError::UnknownLearning("learn-1".to_string()),
        )
        .await;
        let error = ComplaintError::UnknownLearning("learn-1".to_string());
        assert_eq!(error.kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn a_learning_action_cannot_be_completed_twice() {
        let history = [
            chc_logged(),
            vec![
                learning_recorded(at("2025-04-02"), officer(), "learn-1"),
                E::LearningCompleted {
                    occurred_at: at("2025-04-03"),
                    by: officer(),
                    learning_id: "learn-1".to_string(),
                    what_changed: "Done".to_string(),
                },
            ],
        ]
        .concat();
        rejects(
            history,
            by(advisor(), complete_learning("learn-1")),
            ComplaintError::LearningAlreadyCompleted("learn-1".to_string()),
        )
        .await;
    }

    // ----- extensions -----

    #[tokio::test]
    async fn cloudrooms_allows_no_extension() {
        rejects(
            vec![
                logged("cloudrooms", "2025-04-01"),
                acknowledged("2025-04-03"),
            ],
            by(officer(), extend(5)),
            ComplaintError::ExtensionNotAllowed(Stage::Stage1),
        )
        .await;
    }

    #[tokio::test]
    async fn extending_stage_one_records_the_day_the_resident_was_told() {
        accepts(
            chc_acknowledged(),
            by(officer(), extend(6)),
            vec![E::DeadlineExtended {
                occurred_at: now(),
                by: officer(),
                stage: Stage::Stage1,
                working_days: 6,
                reason: EXTENSION_REASON.to_string(),
                resident_informed_on: date("2025-06-02"),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_stage_one_extension_never_exceeds_the_cap_of_ten_working_days() {
        // 6 granted, 5 more asked: 4 of 10 left.
        rejects(
            [
                chc_acknowledged(),
                vec![extended("2025-04-04", Stage::Stage1, 6)],
            ]
            .concat(),
            by(officer(), extend(5)),
            ComplaintError::ExtensionExceedsCap {
                stage: Stage::Stage1,
                requested: 5,
                remaining: 4,
                cap: 10,
            },
        )
        .await;
        // 4 more fit exactly.
        let events = TestFramework::<Complaint>::with(services())
            .given(
                [
                    chc_acknowledged(),
                    vec![extended("2025-04-04", Stage::Stage1, 6)],
                ]
                .concat(),
            )
            .when_async(by(officer(), extend(4)))
            .await
            .inspect_result()
            .unwrap();
        assert!(matches!(
            events.as_slice(),
            [E::DeadlineExtended {
                stage: Stage::Stage1,
                working_days: 4,
                ..
            }]
        ));
    }

    #[tokio::test]
    async fn a_stage_two_extension_never_exceeds_the_cap_of_twenty_working_days() {
        // Stage 1 extensions do not count against Stage 2's cap.
        let history = [
            chc_acknowledged(),
            vec![extended("2025-04-04", Stage::Stage1, 10)],
            chc_stage2_acknowledged()[2..].to_vec(),
        ]
        .concat();
        accepts(
            history.clone(),
            by(reviewer(), extend(20)),
            vec![E::DeadlineExtended {
                occurred_at: now(),
                by: reviewer(),
                stage: Stage::Stage2,
                working_days: 20,
                reason: EXTENSION_REASON.to_string(),
                resident_informed_on: date("2025-06-02"),
            }],
        )
        .await;
        rejects(
            [history, vec![extended("2025-04-17", Stage::Stage2, 15)]].concat(),
            by(reviewer(), extend(6)),
            ComplaintError::ExtensionExceedsCap {
                stage: Stage::Stage2,
                requested: 6,
                remaining: 5,
                cap: 20,
            },
        )
        .await;
    }

    #[tokio::test]
    async fn an_answered_stage_has_nothing_to_extend() {
        rejects(
            chc_stage1_answered(),
            by(officer(), extend(2)),
            ComplaintError::NothingToExtend,
        )
        .await;
        rejects(
            chc_stage2_answered(),
            by(reviewer(), extend(2)),
            ComplaintError::NothingToExtend,
        )
        .await;
    }

    #[tokio::test]
    async fn the_resident_cannot_be_told_of_an_extension_before_receipt() {
        let action = Action::ExtendDeadline(ExtendDeadline {
            working_days: 3,
            reason: EXTENSION_REASON.to_string(),
            resident_informed_on: Some(date("2025-03-31")),
            occurred_at: None,
        });
        rejects(
            chc_acknowledged(),
            by(officer(), action),
            invalid(
                "resident_informed_on",
                "must lie between the receipt and today",
            ),
        )
        .await;
    }

    // ----- closing -----

    #[tokio::test]
    async fn a_case_cannot_be_closed_before_its_response() {
        rejects(
            chc_acknowledged(),
            by(officer(), close()),
            ComplaintError::ResponseOutstanding,
        )
        .await;
        // Once escalated, the outstanding response is Stage 2's.
        rejects(
            chc_stage2_acknowledged(),
            by(reviewer(), close()),
            ComplaintError::ResponseOutstanding,
        )
        .await;
    }

    #[tokio::test]
    async fn closing_after_the_response_is_recorded() {
        let action = Action::Close(casefile_domain::command::CloseComplaint {
            remedy: Remedy {
                actions: vec!["Gutter repaired".to_string()],
                compensation_pence: 25_000,
            },
            learning: vec![LearningEntry::Note("Chase repeat repairs".to_string())],
            occurred_at: None,
            open_actions_reason: None,
        });
        accepts(
            chc_stage2_answered(),
            by(reviewer(), action),
            vec![E::Closed {
                occurred_at: now(),
                by: reviewer(),
                remedy: Remedy {
                    actions: vec!["Gutter repaired".to_string()],
                    compensation_pence: 25_000,
                },
                learning: vec!["Chase repeat repairs".to_string()],
                open_actions: vec![],
                open_actions_reason: None,
            }],
        )
        .await;
    }

    // ----- deadlock -----

    #[tokio::test]
    async fn chc_2024_has_no_deadlock_rule() {
        rejects(
            chc_acknowledged(),
            by(officer(), declare_deadlock(true)),
            ComplaintError::NoDeadlockRule,
        )
        .await;
    }

    #[tokio::test]
    async fn deadlock_on_request_needs_a_procedure_that_allows_it() {
        let mut timed_only = procedure("cloud-direct");
        timed_only.id = "timed-only".to_string();
        timed_only.deadlock = Some(DeadlockRule {
            on_request: false,
            after_weeks: Some(8),
        });
        let mut registry = ProcedureRegistry::builtin();
        registry.add(timed_only.clone(), "timed-only.toml").unwrap();
        let mut history = vec![logged("cloud-direct", "2025-05-01")];
        if let E::Logged { procedure, .. } = &mut history[0] {
            *procedure = timed_only;
        }
        TestFramework::<Complaint>::with(services_with(registry))
            .given(history)
            .when_async(by(officer(), declare_deadlock(true)))
            .await
            .then_expect_error(ComplaintError::DeadlockOnRequestNotAllowed);
    }

    #[tokio::test]
    async fn cloud_direct_cannot_deadlock_automatically_before_eight_weeks() {
        // Received Thursday 2025-05-01; 8 weeks = 56 days later is Thursday 2025-06-26.
        rejects(
            vec![logged("cloud-direct", "2025-05-01")],
            by(officer(), declare_deadlock(false)),
            ComplaintError::DeadlockTooEarly {
                eligible_on: date("2025-06-26"),
            },
        )
        .await;
    }

    #[tokio::test]
    async fn cloud_direct_deadlocks_automatically_from_eight_weeks_after_receipt() {
        // Received Monday 2025-04-07; 56 days later is Monday 2025-06-02: today.
        accepts(
            vec![logged("cloud-direct", "2025-04-07")],
            by(officer(), declare_deadlock(false)),
            vec![E::Deadlocked {
                occurred_at: now(),
                by: officer(),
                on_request: false,
                reason: "No agreement on the remedy".to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn cloud_direct_deadlocks_on_request_at_any_time() {
        accepts(
            vec![logged("cloud-direct", "2025-05-30")],
            by(officer(), declare_deadlock(true)),
            vec![E::Deadlocked {
                occurred_at: now(),
                by: officer(),
                on_request: true,
                reason: "No agreement on the remedy".to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_case_cannot_be_deadlocked_twice() {
        rejects(
            vec![
                logged("cloud-direct", "2025-05-01"),
                deadlocked("2025-05-02", true),
            ],
            by(officer(), declare_deadlock(true)),
            ComplaintError::AlreadyDeadlocked,
        )
        .await;
    }

    #[tokio::test]
    async fn a_deadlocked_case_can_be_closed_without_a_response() {
        accepts(
            vec![
                logged("cloud-direct", "2025-05-01"),
                deadlocked("2025-05-02", true),
            ],
            by(officer(), close()),
            vec![E::Closed {
                occurred_at: now(),
                by: officer(),
                remedy: Remedy::default(),
                learning: vec![],
                open_actions: vec![],
                open_actions_reason: None,
            }],
        )
        .await;
    }

    // ----- referral to redress -----

    #[tokio::test]
    async fn chc_2024_cannot_refer_to_the_property_redress_scheme() {
        rejects(
            chc_stage2_answered(),
            by(advisor(), refer(Scheme::PropertyRedressScheme)),
            ComplaintError::SchemeNotAllowed(Scheme::PropertyRedressScheme),
        )
        .await;
    }

    #[tokio::test]
    async fn chc_2024_cannot_refer_after_stage_one_only() {
        rejects(
            chc_stage1_answered(),
            by(advisor(), refer(Scheme::HousingOmbudsman)),
            ComplaintError::ProcedureNotExhausted,
        )
        .await;
        rejects(
            [chc_stage1_answered(), vec![closed("2025-04-11")]].concat(),
            by(advisor(), refer(Scheme::HousingOmbudsman)),
            ComplaintError::ProcedureNotExhausted,
        )
        .await;
    }

    #[tokio::test]
    async fn chc_2024_refers_to_the_housing_ombudsman_once_stage_two_is_answered() {
        accepts(
            [chc_stage2_answered(), vec![closed("2025-05-02")]].concat(),
            by(advisor(), refer(Scheme::HousingOmbudsman)),
            vec![E::ReferredToRedress {
                occurred_at: now(),
                by: advisor(),
                scheme: Scheme::HousingOmbudsman,
                reference: Some("OMB-42".to_string()),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn cloud_direct_refers_to_ombudsman_services_after_deadlock() {
        accepts(
            vec![
                logged("cloud-direct", "2025-05-01"),
                acknowledged("2025-05-02"),
                deadlocked("2025-05-20", true),
            ],
            by(advisor(), refer(Scheme::OmbudsmanServices)),
            vec![E::ReferredToRedress {
                occurred_at: now(),
                by: advisor(),
                scheme: Scheme::OmbudsmanServices,
                reference: Some("OMB-42".to_string()),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_referral_may_wait_for_the_schemes_reference_and_record_it_later() {
        let given = vec![
            logged("cloud-direct", "2025-05-01"),
            deadlocked("2025-05-20", true),
        ];
        let mut without = refer(Scheme::OmbudsmanServices);
        if let Action::ReferToRedress(c) = &mut without {
            c.reference = None;
        }
        accepts(
            given.clone(),
            by(advisor(), without),
            vec![E::ReferredToRedress {
                occurred_at: now(),
                by: advisor(),
                scheme: Scheme::OmbudsmanServices,
                reference: None,
            }],
        )
        .await;
        let referred_without = E::ReferredToRedress {
            occurred_at: at("2025-05-21"),
            by: advisor(),
            scheme: Scheme::OmbudsmanServices,
            reference: None,
        };
        let record = |reference: &str| {
            by(
                advisor(),
                Action::RecordReferralReference(RecordReferralReference {
                    reference: reference.to_string(),
                    occurred_at: None,
                }),
            )
        };
        accepts(
            [given.clone(), vec![referred_without.clone()]].concat(),
            record("OS-2025-77"),
            vec![E::ReferralReferenceRecorded {
                occurred_at: now(),
                by: advisor(),
                reference: "OS-2025-77".to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_referral_reference_needs_a_referral_and_is_recorded_once() {
        let record = by(
            advisor(),
            Action::RecordReferralReference(RecordReferralReference {
                reference: "OS-2025-77".to_string(),
                occurred_at: None,
            }),
        );
        rejects(
            vec![
                logged("cloud-direct", "2025-05-01"),
                deadlocked("2025-05-20", true),
            ],
            record.clone(),
            ComplaintError::NotReferred,
        )
        .await;
        // Referred with its reference already given.
        rejects(
            vec![
                logged("cloud-direct", "2025-05-01"),
                deadlocked("2025-05-20", true),
                referred("2025-05-21", Scheme::OmbudsmanServices),
            ],
            record,
            ComplaintError::ReferralReferenceRecorded,
        )
        .await;
    }

    #[tokio::test]
    async fn a_case_cannot_be_referred_twice() {
        rejects(
            vec![
                logged("cloud-direct", "2025-05-01"),
                deadlocked("2025-05-20", true),
                referred("2025-05-21", Scheme::OmbudsmanServices),
            ],
            by(advisor(), refer(Scheme::OmbudsmanServices)),
            ComplaintError::AlreadyReferred,
        )
        .await;
    }

    #[tokio::test]
    async fn a_withdrawn_case_cannot_be_referred() {
        rejects(
            vec![
                logged("cloud-direct", "2025-05-01"),
                deadlocked("2025-05-20", true),
                withdrawn("2025-05-21"),
            ],
            by(advisor(), refer(Scheme::OmbudsmanServices)),
            ComplaintError::CaseClosed(Status::Withdrawn),
        )
        .await;
    }

    fn cloudrooms_final_viewpoint_on(day: &str) -> Vec<E> {
        vec![
            logged("cloudrooms", "2024-04-02"),
            acknowledged("2024-04-03"),
            stage1_responded("2024-04-10", officer()),
            escalated("2024-04-15"),
            stage2_responded(day, reviewer()),
        ]
    }

    #[tokio::test]
    async fn cloudrooms_referral_window_closes_twelve_months_after_the_final_viewpoint() {
        // Final viewpoint 2024-05-01: the window closed on 2025-05-01; today is 2025-06-02.
        rejects(
            cloudrooms_final_viewpoint_on("2024-05-01"),
            by(advisor(), refer(Scheme::PropertyRedressScheme)),
            ComplaintError::ReferralWindowExpired {
                closed_on: date("2025-05-01"),
            },
        )
        .await;
        // Final viewpoint 2024-06-02: today is the last day of the window.
        accepts(
            cloudrooms_final_viewpoint_on("2024-06-02"),
            by(advisor(), refer(Scheme::PropertyRedressScheme)),
            vec![E::ReferredToRedress {
                occurred_at: now(),
                by: advisor(),
                scheme: Scheme::PropertyRedressScheme,
                reference: Some("OMB-42".to_string()),
            }],
        )
        .await;
    }

    // ----- refusal -----

    #[tokio::test]
    async fn a_complaint_is_not_refused_as_too_old_without_the_date_the_issue_arose() {
        rejects(
            chc_logged(),
            by(officer(), refuse(RefusalReason::OlderThanTwelveMonths)),
            ComplaintError::NotOlderThanLimit { months: 12 },
        )
        .await;
    }

    #[tokio::test]
    async fn a_recent_issue_is_not_refused_as_too_old() {
        // Received 2025-04-01 about an issue of 2024-04-01: exactly twelve months, not older.
        for arose in ["2025-01-15", "2024-04-01"] {
            rejects(
                vec![logged_in(
                    "chc-2024",
                    Division::EnglandAndWales,
                    "2025-04-01",
                    Some(arose),
                )],
                by(officer(), refuse(RefusalReason::OlderThanTwelveMonths)),
                ComplaintError::NotOlderThanLimit { months: 12 },
            )
            .await;
        }
    }

    #[tokio::test]
    async fn an_old_issue_is_refused_and_the_resident_signposted_to_the_procedures_schemes() {
        accepts(
            vec![logged_in(
                "chc-2024",
                Division::EnglandAndWales,
                "2025-04-01",
                Some("2024-03-31"),
            )],
            by(officer(), refuse(RefusalReason::OlderThanTwelveMonths)),
            vec![E::Refused {
                occurred_at: now(),
                by: officer(),
                reason: RefusalReason::OlderThanTwelveMonths,
                explanation: REFUSAL_EXPLANATION.to_string(),
                signposted_to: vec![Scheme::HousingOmbudsman],
            }],
        )
        .await;
        accepts(
            vec![logged("cloudrooms", "2025-04-01")],
            by(officer(), refuse(RefusalReason::LegalProceedings)),
            vec![E::Refused {
                occurred_at: now(),
                by: officer(),
                reason: RefusalReason::LegalProceedings,
                explanation: REFUSAL_EXPLANATION.to_string(),
                signposted_to: vec![Scheme::PropertyRedressScheme],
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_complaint_answered_at_stage_one_cannot_be_refused() {
        rejects(
            chc_stage1_answered(),
            by(officer(), refuse(RefusalReason::LegalProceedings)),
            ComplaintError::AlreadyResponded(Stage::Stage1),
        )
        .await;
    }

    #[tokio::test]
    async fn a_refused_complaint_may_go_to_the_signposted_scheme() {
        accepts(
            [
                chc_logged(),
                vec![refused("2025-04-02", vec![Scheme::HousingOmbudsman])],
            ]
            .concat(),
            by(advisor(), refer(Scheme::HousingOmbudsman)),
            vec![E::ReferredToRedress {
                occurred_at: now(),
                by: advisor(),
                scheme: Scheme::HousingOmbudsman,
                reference: Some("OMB-42".to_string()),
            }],
        )
        .await;
    }

    // ----- tenure -----

    fn set_tenure(tenure: Tenure) -> ComplaintCommand {
        by(
            officer(),
            Action::SetTenure(SetTenure {
                tenure,
                occurred_at: None,
            }),
        )
    }

    fn tenure_recorded(tenure: Tenure, previous: Option<Tenure>) -> E {
        E::TenureRecorded {
            occurred_at: now(),
            by: officer(),
            tenure,
            previous,
        }
    }

    /// chc-2024, received 2025-04-01, logged with a tenure.
    fn chc_logged_with(tenure: Tenure) -> Vec<E> {
        match logged("chc-2024", "2025-04-01") {
            E::Logged {
                occurred_at,
                by,
                reference,
                procedure,
                division,
                calendar_version,
                received_on,
                issue_arose_on,
                channel,
                complainant,
                summary,
                description,
                ..
            } => vec![E::Logged {
                occurred_at,
                by,
                reference,
                procedure,
                division,
                calendar_version,
                received_on,
                issue_arose_on,
                channel,
                complainant,
                summary,
                description,
                tenure: Some(tenure),
            }],
            other => panic!("logged() gave {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_tenure_given_when_logging_is_recorded_on_the_logged_event() {
        let complaint = LogComplaint {
            tenure: Some(Tenure::Lcho),
            ..log_complaint("chc-2024", "2025-06-02")
        };
        let events = TestFramework::<Complaint>::with(services())
            .given_no_previous_events()
            .when_async(log(complaint))
            .await
            .inspect_result()
            .expect("logged");
        assert!(
            matches!(
                &events[..],
                [E::Logged {
                    tenure: Some(Tenure::Lcho),
                    ..
                }]
            ),
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn a_tenure_not_given_when_logging_can_be_recorded_later() {
        accepts(
            chc_logged(),
            set_tenure(Tenure::Lcra),
            vec![tenure_recorded(Tenure::Lcra, None)],
        )
        .await;
    }

    #[tokio::test]
    async fn correcting_a_tenure_records_what_it_was() {
        accepts(
            chc_logged_with(Tenure::Lcho),
            set_tenure(Tenure::Lcra),
            vec![tenure_recorded(Tenure::Lcra, Some(Tenure::Lcho))],
        )
        .await;
    }

    #[tokio::test]
    async fn a_corrected_tenure_is_what_the_next_correction_replaces() {
        accepts(
            [
                chc_logged_with(Tenure::Lcho),
                vec![tenure_recorded(Tenure::Lcra, Some(Tenure::Lcho))],
            ]
            .concat(),
            set_tenure(Tenure::Other),
            vec![tenure_recorded(Tenure::Other, Some(Tenure::Lcra))],
        )
        .await;
    }

    #[tokio::test]
    async fn recording_the_tenure_the_case_already_has_is_rejected() {
        rejects(
            chc_logged_with(Tenure::Lcra),
            set_tenure(Tenure::Lcra),
            ComplaintError::TenureUnchanged(Tenure::Lcra),
        )
        .await;
    }

    #[tokio::test]
    async fn recording_other_on_a_case_without_a_tenure_is_recorded() {
        // Unrecorded is reported as `other`, but saying so explicitly is still a fact.
        accepts(
            chc_logged(),
            set_tenure(Tenure::Other),
            vec![tenure_recorded(Tenure::Other, None)],
        )
        .await;
    }

    #[tokio::test]
    async fn the_tenure_of_a_closed_case_can_still_be_corrected() {
        accepts(
            [chc_stage1_answered(), vec![closed("2025-04-11")]].concat(),
            set_tenure(Tenure::Lcho),
            vec![tenure_recorded(Tenure::Lcho, None)],
        )
        .await;
    }

    #[tokio::test]
    async fn the_tenure_of_a_case_never_logged_cannot_be_recorded() {
        rejects(vec![], set_tenure(Tenure::Lcra), ComplaintError::NotLogged).await;
    }

    #[test]
    fn a_logged_event_stored_before_tenure_existed_reads_as_no_tenure() {
        let mut stored = serde_json::to_value(logged("chc-2024", "2025-04-01")).unwrap();
        stored["Logged"].as_object_mut().unwrap().remove("tenure");
        let event: E = serde_json::from_value(stored).unwrap();
        assert!(matches!(event, E::Logged { tenure: None, .. }));
        assert_eq!(Complaint::replay([event]).tenure, None);
    }

    #[test]
    fn the_tenure_command_body_rejects_unknown_fields_and_tenures() {
        let ok: SetTenure = serde_json::from_str(r#"{"tenure": "lcho"}"#).unwrap();
        assert_eq!(ok.tenure, Tenure::Lcho);
        assert!(serde_json::from_str::<SetTenure>(r#"{"tenure": "freehold"}"#).is_err());
        assert!(serde_json::from_str::<SetTenure>(r#"{"tenure": "lcra", "x": 1}"#).is_err());
    }

    #[test]
    fn a_snapshot_stored_before_definitions_and_commitments_still_loads() {
        let case = case_from(chc_stage1_answered());
        let mut stored = serde_json::to_value(&case).unwrap();
        let fields = stored.as_object_mut().unwrap();
        for added in [
            "defined_on",
            "representatives",
            "resident_update",
            "actions",
            "learning",
        ] {
            assert!(fields.remove(added).is_some(), "no `{added}` to remove");
        }
        let loaded: Complaint = serde_json::from_value(stored).unwrap();
        assert_eq!(
            loaded,
            Complaint {
                defined_on: Default::default(),
                ..case
            }
        );
    }

    #[test]
    fn every_rule_has_the_code_clients_match_on() {
        let codes = [
            (ComplaintError::AlreadyLogged, "already_logged"),
            (ComplaintError::NotLogged, "not_found"),
            (ComplaintError::CaseClosed(Status::Closed), "case_closed"),
            (ComplaintError::SameReviewer, "same_reviewer"),
            (
                ComplaintError::DeadlockTooEarly {
                    eligible_on: date("2025-06-26"),
                },
                "deadlock_too_early",
            ),
            (
                ComplaintError::NotOlderThanLimit { months: 12 },
                "not_older_than_limit",
            ),
            (
                ComplaintError::TenureUnchanged(Tenure::Lcra),
                "tenure_unchanged",
            ),
            (
                ComplaintError::DefinitionMissing(Stage::Stage1),
                "definition_missing",
            ),
            (
                ComplaintError::UnknownRepresentative("rep-9".to_string()),
                "unknown_representative",
            ),
            (
                ComplaintError::RepresentativeAlreadyEnded("rep-1".to_string()),
                "representative_already_ended",
            ),
            (
                ComplaintError::UnknownAction("s1-a9".to_string()),
                "unknown_action",
            ),
            (
                ComplaintError::ActionAlreadyCompleted("s1-a1".to_string()),
                "action_already_completed",
            ),
            (
                ComplaintError::UnknownLearning("learn-9".to_string()),
                "unknown_learning",
            ),
            (
                ComplaintError::LearningAlreadyCompleted("learn-1".to_string()),
                "learning_already_completed",
            ),
        ];
        for (error, code) in codes {
            assert_eq!(error.code(), code);
        }
    }

    fn issue_letter(letter_id: &str, subject: &str) -> ComplaintCommand {
        by(
            officer(),
            Action::IssueLetter(casefile_domain::command::IssueLetter {
                letter_id: letter_id.to_string(),
                kind: casefile_domain::values::LetterKind::Acknowledgement,
                subject: subject.to_string(),
                html: "<p>We have your complaint.</p>".to_string(),
                text: "We have your complaint.\n".to_string(),
            }),
        )
    }

    #[tokio::test]
    async fn an_issued_letter_is_recorded_word_for_word_and_dated_now() {
        accepts(
            chc_logged(),
            issue_letter("L-1", "Your complaint: we have received it"),
            vec![E::LetterIssued {
                occurred_at: now(),
                by: officer(),
                letter_id: "L-1".to_string(),
                kind: casefile_domain::values::LetterKind::Acknowledgement,
                subject: "Your complaint: we have received it".to_string(),
                html: "<p>We have your complaint.</p>".to_string(),
                text: "We have your complaint.\n".to_string(),
            }],
        )
        .await;
    }

    #[tokio::test]
    async fn a_letter_needs_a_logged_case_an_id_and_a_subject() {
        rejects(
            vec![],
            issue_letter("L-1", "Subject"),
            ComplaintError::NotLogged,
        )
        .await;
        rejects(
            chc_logged(),
            issue_letter(" ", "Subject"),
            invalid("letter_id", "must not be empty"),
        )
        .await;
        rejects(
            chc_logged(),
            issue_letter("L-1", ""),
            invalid("subject", "must not be empty"),
        )
        .await;
    }
}

/// Due dates worked out by hand on the England and Wales calendar unless named.
///
/// 2024 bank holidays in England and Wales: Mon 1 Jan, Fri 29 Mar (Good Friday),
/// Mon 1 Apr (Easter Monday), Mon 6 May, Mon 27 May, Mon 26 Aug, Wed 25 and Thu 26 Dec.
/// Scotland has Good Friday but no Easter Monday.
mod deadlines {
    use casefile_domain::values::Stage;
    use casefile_domain::{
        deadlines, Calendar, Commitment, Deadline, DeadlineState, DeadlineStep, Division, Step,
    };

    use super::support::*;

    fn due_dates(events: Vec<casefile_domain::ComplaintEvent>, today: &str) -> Vec<Deadline> {
        deadlines(&case_from(events), &Calendar::builtin(), date(today))
    }

    fn find(deadlines: &[Deadline], step: Step) -> Deadline {
        deadlines
            .iter()
            .find(|d| d.step == step.into())
            .cloned()
            .unwrap_or_else(|| panic!("no {step:?} deadline in {deadlines:?}"))
    }

    fn deadline(
        step: Step,
        starts_on: &str,
        working_days: u32,
        extended_by: u32,
        due: &str,
        met_on: Option<&str>,
        state: DeadlineState,
    ) -> Deadline {
        Deadline {
            step: step.into(),
            starts_on: date(starts_on),
            working_days,
            extended_by,
            due: date(due),
            met_on: met_on.map(date),
            state,
        }
    }

    /// Received Thursday 2024-03-28, the day before Good Friday.
    fn easter_case() -> Vec<casefile_domain::ComplaintEvent> {
        vec![logged("chc-2024", "2024-03-28")]
    }

    #[test]
    fn a_case_not_yet_logged_has_no_deadlines() {
        assert!(due_dates(vec![], "2024-04-01").is_empty());
    }

    #[test]
    fn acknowledgement_is_due_five_working_days_after_receipt_across_easter() {
        // Day 0 Thu 28 Mar; Fri 29 Good Friday, Sat, Sun, Mon 1 Apr Easter Monday;
        // Tue 2 (1), Wed 3 (2), Thu 4 (3), Fri 5 (4), Mon 8 (5) → 2024-04-08.
        // On Wed 3 Apr three working days are left (Thu 4, Fri 5, Mon 8): pending.
        // Only the acknowledgement clock has started.
        assert_eq!(
            due_dates(easter_case(), "2024-04-03"),
            vec![deadline(
                Step::Acknowledge,
                "2024-03-28",
                5,
                0,
                "2024-04-08",
                None,
                DeadlineState::Pending,
            )]
        );
    }

    #[test]
    fn in_scotland_easter_monday_is_a_working_day() {
        // Fri 29 Mar is a holiday, Mon 1 Apr is not: Mon 1 (1), Tue 2 (2), Wed 3 (3),
        // Thu 4 (4), Fri 5 (5) → 2024-04-05.
        let events = vec![logged_in(
            "chc-2024",
            Division::Scotland,
            "2024-03-28",
            None,
        )];
        let ack = find(&due_dates(events, "2024-03-28"), Step::Acknowledge);
        assert_eq!(ack.due, date("2024-04-05"));
    }

    #[test]
    fn a_complaint_received_on_a_saturday_counts_from_that_saturday() {
        // Day 0 Sat 6 Apr 2024; Mon 8 (1), Tue 9 (2), Wed 10 (3), Thu 11 (4), Fri 12 (5).
        let ack = find(
            &due_dates(vec![logged("chc-2024", "2024-04-06")], "2024-04-08"),
            Step::Acknowledge,
        );
        assert_eq!(ack.starts_on, date("2024-04-06"));
        assert_eq!(ack.due, date("2024-04-12"));
    }

    #[test]
    fn cloud_direct_acknowledges_by_the_next_working_day() {
        // Received Fri 3 May 2024; Mon 6 May is the Early May bank holiday → Tue 7 May.
        // Its resolution plan is due one week (5 working days) from receipt:
        // Tue 7 (1), Wed 8 (2), Thu 9 (3), Fri 10 (4), Mon 13 (5) → 2024-05-13.
        let all = due_dates(vec![logged("cloud-direct", "2024-05-03")], "2024-05-03");
        assert_eq!(find(&all, Step::Acknowledge).due, date("2024-05-07"));
        assert_eq!(find(&all, Step::Stage1Response).due, date("2024-05-13"));
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn stage_one_response_counts_from_the_actual_acknowledgement() {
        // Acknowledged Wed 3 Apr: Thu 4 (1), Fri 5 (2), Mon 8 (3), Tue 9 (4), Wed 10 (5),
        // Thu 11 (6), Fri 12 (7), Mon 15 (8), Tue 16 (9), Wed 17 (10) → 2024-04-17.
        let events = [easter_case(), vec![acknowledged("2024-04-03")]].concat();
        assert_eq!(
            due_dates(events, "2024-04-04"),
            vec![
                deadline(
                    Step::Acknowledge,
                    "2024-03-28",
                    5,
                    0,
                    "2024-04-08",
                    Some("2024-04-03"),
                    DeadlineState::Met,
                ),
                deadline(
                    Step::Stage1Response,
                    "2024-04-03",
                    10,
                    0,
                    "2024-04-17",
                    None,
                    DeadlineState::Pending,
                ),
            ]
        );
        // Acknowledged two days later, Fri 5 Apr: Mon 8 (1) … Fri 12 (5), Mon 15 (6) …
        // Fri 19 (10) → 2024-04-19.
        let events = [easter_case(), vec![acknowledged("2024-04-05")]].concat();
        let s1 = find(&due_dates(events, "2024-04-05"), Step::Stage1Response);
        assert_eq!(s1.starts_on, date("2024-04-05"));
        assert_eq!(s1.due, date("2024-04-19"));
    }

    #[test]
    fn an_extension_moves_the_stage_one_response_by_its_working_days() {
        // 10 + 5 working days from Wed 3 Apr: … Wed 17 (10), Thu 18 (11), Fri 19 (12),
        // Mon 22 (13), Tue 23 (14), Wed 24 (15) → 2024-04-24. The acknowledgement is
        // not moved.
        let events = [
            easter_case(),
            vec![
                acknowledged("2024-04-03"),
                extended("2024-04-10", Stage::Stage1, 5),
            ],
        ]
        .concat();
        let all = due_dates(events, "2024-04-10");
        assert_eq!(find(&all, Step::Acknowledge).due, date("2024-04-08"));
        assert_eq!(
            find(&all, Step::Stage1Response),
            deadline(
                Step::Stage1Response,
                "2024-04-03",
                10,
                5,
                "2024-04-24",
                None,
                DeadlineState::Pending,
            )
        );
    }

    #[test]
    fn a_response_within_the_extended_date_is_met_and_without_it_late() {
        // Responded Tue 23 Apr: after the original 17 Apr, before the extended 24 Apr.
        let answered = vec![
            acknowledged("2024-04-03"),
            stage1_responded("2024-04-23", officer()),
        ];
        let late = find(
            &due_dates([easter_case(), answered.clone()].concat(), "2024-04-23"),
            Step::Stage1Response,
        );
        assert_eq!(late.met_on, Some(date("2024-04-23")));
        assert_eq!(late.state, DeadlineState::MetLate);

        let extended_first = [
            easter_case(),
            vec![
                acknowledged("2024-04-03"),
                extended("2024-04-10", Stage::Stage1, 5),
                stage1_responded("2024-04-23", officer()),
            ],
        ]
        .concat();
        let met = find(
            &due_dates(extended_first, "2024-04-23"),
            Step::Stage1Response,
        );
        assert_eq!(met.due, date("2024-04-24"));
        assert_eq!(met.state, DeadlineState::Met);
    }

    #[test]
    fn stage_two_acknowledgement_counts_from_the_escalation() {
        // Escalated Thu 2 May 2024: Fri 3 (1), Mon 6 Early May holiday, Tue 7 (2),
        // Wed 8 (3), Thu 9 (4), Fri 10 (5) → 2024-05-10.
        let events = [
            easter_case(),
            vec![
                acknowledged("2024-04-03"),
                stage1_responded("2024-04-16", officer()),
                escalated("2024-05-02"),
            ],
        ]
        .concat();
        let all = due_dates(events, "2024-05-02");
        assert_eq!(
            find(&all, Step::Stage2Acknowledge),
            deadline(
                Step::Stage2Acknowledge,
                "2024-05-02",
                5,
                0,
                "2024-05-10",
                None,
                DeadlineState::Pending,
            )
        );
        // The Stage 2 response clock has not started: it waits for the acknowledgement.
        assert!(all.iter().all(|d| d.step != Step::Stage2Response.into()));
    }

    fn stage_two_case() -> Vec<casefile_domain::ComplaintEvent> {
        [
            easter_case(),
            vec![
                acknowledged("2024-04-03"),
                stage1_responded("2024-04-16", officer()),
                escalated("2024-05-02"),
                stage2_acknowledged("2024-05-09"),
            ],
        ]
        .concat()
    }

    #[test]
    fn stage_two_response_counts_from_the_stage_two_acknowledgement() {
        // Acknowledged Thu 9 May 2024: Fri 10 (1), Mon 13 (2) … Fri 17 (6), Mon 20 (7) …
        // Fri 24 (11), Mon 27 Spring holiday, Tue 28 (12) … Fri 31 (15), Mon 3 Jun (16) …
        // Fri 7 Jun (20) → 2024-06-07.
        let all = due_dates(stage_two_case(), "2024-05-09");
        assert_eq!(
            find(&all, Step::Stage2Acknowledge),
            deadline(
                Step::Stage2Acknowledge,
                "2024-05-02",
                5,
                0,
                "2024-05-10",
                Some("2024-05-09"),
                DeadlineState::Met,
            )
        );
        assert_eq!(
            find(&all, Step::Stage2Response),
            deadline(
                Step::Stage2Response,
                "2024-05-09",
                20,
                0,
                "2024-06-07",
                None,
                DeadlineState::Pending,
            )
        );
    }

    #[test]
    fn a_stage_two_extension_moves_only_the_stage_two_response() {
        // 20 + 3 from Thu 9 May: … Fri 7 Jun (20), Mon 10 (21), Tue 11 (22),
        // Wed 12 (23) → 2024-06-12. Stage 1 keeps 2024-04-17.
        let events = [
            stage_two_case(),
            vec![extended("2024-05-10", Stage::Stage2, 3)],
        ]
        .concat();
        let all = due_dates(events, "2024-05-10");
        let s2 = find(&all, Step::Stage2Response);
        assert_eq!((s2.extended_by, s2.due), (3, date("2024-06-12")));
        let s1 = find(&all, Step::Stage1Response);
        assert_eq!((s1.extended_by, s1.due), (0, date("2024-04-17")));
        assert_eq!(s1.state, DeadlineState::Met);
    }

    #[test]
    fn an_unmet_step_is_pending_then_due_soon_then_breached() {
        // Stage 1 response due Wed 17 Apr 2024 (see above).
        let events = || [easter_case(), vec![acknowledged("2024-04-03")]].concat();
        let state_on = |today: &str| find(&due_dates(events(), today), Step::Stage1Response).state;
        // Fri 12 Apr: Mon 15, Tue 16, Wed 17 left = 3.
        assert_eq!(state_on("2024-04-12"), DeadlineState::Pending);
        // Sat 13 Apr: still 3 working days left.
        assert_eq!(state_on("2024-04-13"), DeadlineState::Pending);
        // Mon 15 Apr: Tue 16, Wed 17 left = 2.
        assert_eq!(state_on("2024-04-15"), DeadlineState::DueSoon);
        // The due day itself.
        assert_eq!(state_on("2024-04-17"), DeadlineState::DueSoon);
        // The day after.
        assert_eq!(state_on("2024-04-18"), DeadlineState::Breached);
    }

    #[test]
    fn an_acknowledgement_after_its_due_date_is_met_late() {
        // Due Mon 8 Apr 2024, acknowledged Tue 9 Apr; the Stage 1 clock starts on the 9th.
        let events = [easter_case(), vec![acknowledged("2024-04-09")]].concat();
        let all = due_dates(events, "2024-04-09");
        assert_eq!(
            find(&all, Step::Acknowledge),
            deadline(
                Step::Acknowledge,
                "2024-03-28",
                5,
                0,
                "2024-04-08",
                Some("2024-04-09"),
                DeadlineState::MetLate,
            )
        );
        assert_eq!(
            find(&all, Step::Stage1Response).starts_on,
            date("2024-04-09")
        );
    }

    fn resident_update(deadlines: &[Deadline]) -> Option<Deadline> {
        let step = DeadlineStep::Commitment(Commitment::ResidentUpdate);
        deadlines.iter().find(|d| d.step == step).cloned()
    }

    /// Acknowledged Wed 3 Apr 2024 with a call to the resident that day, promising the
    /// next by Wed 10 Apr: Thu 4, Fri 5, Mon 8, Tue 9, Wed 10 = 5 working days.
    fn update_promised() -> Vec<casefile_domain::ComplaintEvent> {
        [
            easter_case(),
            vec![
                acknowledged("2024-04-03"),
                update_given("2024-04-03", Some("2024-04-10")),
            ],
        ]
        .concat()
    }

    #[test]
    fn a_case_with_no_update_promised_has_no_resident_update_deadline() {
        let events = [easter_case(), vec![update_given("2024-04-02", None)]].concat();
        assert_eq!(resident_update(&due_dates(events, "2024-04-03")), None);
    }

    #[test]
    fn a_promised_update_is_pending_then_due_soon_then_breached() {
        let state_on = |today: &str| resident_update(&due_dates(update_promised(), today)).unwrap();
        assert_eq!(
            state_on("2024-04-05"),
            Deadline {
                step: DeadlineStep::Commitment(Commitment::ResidentUpdate),
                starts_on: date("2024-04-03"),
                working_days: 5,
                extended_by: 0,
                due: date("2024-04-10"),
                met_on: None,
                state: DeadlineState::Pending,
            }
        );
        // Mon 8 Apr: Tue 9, Wed 10 left = 2.
        assert_eq!(state_on("2024-04-08").state, DeadlineState::DueSoon);
        assert_eq!(state_on("2024-04-10").state, DeadlineState::DueSoon);
        assert_eq!(state_on("2024-04-11").state, DeadlineState::Breached);
    }

    #[test]
    fn the_next_update_keeps_the_promise_on_time_or_late() {
        let kept = [update_promised(), vec![update_given("2024-04-10", None)]].concat();
        let d = resident_update(&due_dates(kept, "2024-05-01")).unwrap();
        assert_eq!(d.met_on, Some(date("2024-04-10")));
        assert_eq!(d.state, DeadlineState::Met);

        let late = [update_promised(), vec![update_given("2024-04-11", None)]].concat();
        let d = resident_update(&due_dates(late, "2024-05-01")).unwrap();
        assert_eq!(d.state, DeadlineState::MetLate);
    }

    #[test]
    fn an_update_that_promises_another_starts_a_new_promise() {
        // Kept on Tue 9 Apr, promising the next by Tue 16 Apr.
        let events = [
            update_promised(),
            vec![update_given("2024-04-09", Some("2024-04-16"))],
        ]
        .concat();
        let d = resident_update(&due_dates(events, "2024-04-17")).unwrap();
        assert_eq!(d.starts_on, date("2024-04-09"));
        assert_eq!(d.due, date("2024-04-16"));
        assert_eq!(d.state, DeadlineState::Breached);
    }

    #[test]
    fn a_withdrawn_case_drops_an_update_promise_not_yet_due() {
        let events = [update_promised(), vec![withdrawn("2024-04-05")]].concat();
        assert_eq!(resident_update(&due_dates(events, "2024-06-01")), None);
    }

    #[test]
    fn a_withdrawn_case_drops_unmet_steps_that_were_not_yet_due() {
        // Withdrawn Tue 2 Apr 2024, before the acknowledgement fell due on Mon 8 Apr.
        let events = [easter_case(), vec![withdrawn("2024-04-02")]].concat();
        assert!(due_dates(events, "2024-06-01").is_empty());
        // Acknowledged and withdrawn before the Stage 1 response was due: only the met
        // acknowledgement remains.
        let events = [
            easter_case(),
            vec![acknowledged("2024-04-03"), withdrawn("2024-04-10")],
        ]
        .concat();
        let all = due_dates(events, "2024-06-01");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].step, Step::Acknowledge.into());
        assert_eq!(all[0].state, DeadlineState::Met);
    }

    #[test]
    fn a_withdrawn_case_keeps_a_step_it_had_already_breached() {
        // Withdrawn Wed 10 Apr 2024 without an acknowledgement due Mon 8 Apr.
        let events = [easter_case(), vec![withdrawn("2024-04-10")]].concat();
        assert_eq!(
            due_dates(events, "2024-06-01"),
            vec![deadline(
                Step::Acknowledge,
                "2024-03-28",
                5,
                0,
                "2024-04-08",
                None,
                DeadlineState::Breached,
            )]
        );
    }

    #[test]
    fn a_reopened_case_is_judged_on_today_again() {
        // Withdrawn Tue 2 Apr (nothing due yet), reopened Wed 3 Apr; on Tue 9 Apr the
        // acknowledgement due Mon 8 Apr is breached.
        let events = [
            easter_case(),
            vec![withdrawn("2024-04-02"), reopened("2024-04-03")],
        ]
        .concat();
        let ack = find(&due_dates(events, "2024-04-09"), Step::Acknowledge);
        assert_eq!(ack.state, DeadlineState::Breached);
    }
}

/// Random command sequences on random built-in procedures and divisions.
mod properties {
    use casefile_domain::command::{
        AcknowledgeComplaint, AddLinkedCase, AssignOwner, AttachEvidence, Categorise,
        CloseComplaint, CompleteAction, CompleteLearning, DeclareDeadlock, DefineComplaint,
        Escalate, ExtendDeadline, LearningAction, LearningEntry, LogComplaint, NoteKind,
        RecordLearning, RecordNote, RecordUpdate, ReferToRedress, RefuseComplaint, ReopenComplaint,
        RespondToStage, SetAction, WithdrawComplaint,
    };
    use casefile_domain::values::{
        Channel, Direction, LinkKind, Outcome, RefusalReason, Remedy, Stage,
    };
    use casefile_domain::{
        deadlines, uk_date, Action, Calendar, Complaint, ComplaintCommand, ComplaintEvent,
        ComplaintServices, DeadlineState, DeadlineStep, Division, Scheme,
    };
    use chrono::{DateTime, Duration, NaiveDate, Utc};
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;
    use proptest::prelude::*;

    use super::support::*;

    const PROCEDURES: [&str; 4] = ["chc-2024", "cloudrooms", "cloud-direct", "ocasa"];

    #[derive(Debug, Clone, Copy)]
    enum Kind {
        Log,
        Acknowledge,
        AssignOwner,
        Note,
        Correspondence,
        Evidence,
        Link,
        Categorise,
        Define,
        Update,
        SetAction,
        CompleteAction,
        Learning,
        CompleteLearning,
        Extend,
        RespondStage1,
        Escalate,
        AcknowledgeStage2,
        RespondStage2,
        Close,
        Deadlock,
        Refer,
        Refuse,
        Withdraw,
        Reopen,
    }

    /// Every kind, the lifecycle spine more often than the side entries.
    fn kinds() -> Vec<Kind> {
        use Kind::*;
        let weighted = [
            (Log, 1),
            (Acknowledge, 6),
            (AssignOwner, 1),
            (Note, 1),
            (Correspondence, 1),
            (Evidence, 1),
            (Link, 1),
            (Categorise, 1),
            (Define, 6),
            (Update, 2),
            (SetAction, 2),
            (CompleteAction, 3),
            (Learning, 1),
            (CompleteLearning, 1),
            (Extend, 4),
            (RespondStage1, 6),
            (Escalate, 6),
            (AcknowledgeStage2, 6),
            (RespondStage2, 6),
            (Close, 2),
            (Deadlock, 2),
            (Refer, 3),
            (Refuse, 1),
            (Withdraw, 1),
            (Reopen, 3),
        ];
        weighted
            .into_iter()
            .flat_map(|(kind, weight)| std::iter::repeat_n(kind, weight))
            .collect()
    }

    #[derive(Debug, Clone)]
    struct Move {
        kind: Kind,
        actor: usize,
        /// Minutes after the previous command.
        gap_minutes: i64,
        working_days: u32,
        flag: bool,
        choice: usize,
    }

    #[derive(Debug, Clone)]
    struct Scenario {
        procedure: &'static str,
        division: Division,
        received_on: NaiveDate,
        issue_arose_on: Option<NaiveDate>,
        moves: Vec<Move>,
    }

    fn a_move() -> impl Strategy<Value = Move> {
        (
            prop::sample::select(kinds()),
            0..3usize,
            prop_oneof![0..120i64, 0..(20 * 24 * 60i64)],
            1..13u32,
            any::<bool>(),
            0..3usize,
        )
            .prop_map(
                |(kind, actor, gap_minutes, working_days, flag, choice)| Move {
                    kind,
                    actor,
                    gap_minutes,
                    working_days,
                    flag,
                    choice,
                },
            )
    }

    fn a_scenario() -> impl Strategy<Value = Scenario> {
        (
            prop::sample::select(PROCEDURES.to_vec()),
            prop::sample::select(Division::ALL.to_vec()),
            0..700i64,
            prop::option::of(0..800i64),
            prop::collection::vec(a_move(), 0..50),
        )
            .prop_map(|(procedure, division, back, arose_back, moves)| {
                let received_on = date("2025-06-02") - Duration::days(back);
                Scenario {
                    procedure,
                    division,
                    received_on,
                    issue_arose_on: arose_back.map(|d| received_on - Duration::days(d)),
                    moves,
                }
            })
    }

    fn action(scenario: &Scenario, m: &Move, occurred_at: DateTime<Utc>) -> Action {
        let day = uk_date(occurred_at);
        let occurred_at = Some(occurred_at);
        let response = || RespondToStage {
            outcome: [Outcome::Upheld, Outcome::PartlyUpheld, Outcome::NotUpheld][m.choice],
            decision: "Decision".to_string(),
            reasons: "Reasons".to_string(),
            remedy: Remedy {
                actions: vec!["Repair".to_string(); m.choice],
                compensation_pence: 0,
            },
            outstanding_actions: vec!["Inspect".to_string(); usize::from(m.flag)],
            occurred_at,
        };
        // The ids a response gives its actions: `s1-a1`…, `s2-a1`….
        let action_id = format!("s{}-a{}", if m.flag { 2 } else { 1 }, m.choice + 1);
        let ack = || AcknowledgeComplaint {
            text: m.flag.then(|| "Acknowledged".to_string()),
            occurred_at,
        };
        match m.kind {
            Kind::Log => Action::Log {
                reference: "CF-again".to_string(),
                complaint: log_complaint(scenario, occurred_at),
            },
            Kind::Acknowledge => Action::Acknowledge(ack()),
            Kind::AssignOwner => Action::AssignOwner(AssignOwner {
                owner: people()[m.choice].clone(),
                occurred_at,
            }),
            Kind::Note => Action::RecordNote(RecordNote {
                kind: NoteKind::Note,
                text: "Note".to_string(),
                direction: None,
                channel: None,
                occurred_at,
            }),
            Kind::Correspondence => Action::RecordNote(RecordNote {
                kind: NoteKind::Correspondence,
                text: "Letter".to_string(),
                direction: Some(if m.flag {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                }),
                channel: m.flag.then_some(Channel::Letter),
                occurred_at,
            }),
            Kind::Evidence => Action::AttachEvidence(AttachEvidence {
                name: "photo.jpg".to_string(),
                media_type: "image/jpeg".to_string(),
                size_bytes: 10,
                sha256: format!("{:064x}", m.working_days),
                description: None,
                occurred_at,
                stored: false,
            }),
            Kind::Link => Action::AddLinkedCase(AddLinkedCase {
                kind: [LinkKind::Repair, LinkKind::Tenancy, LinkKind::Contact][m.choice],
                reference: "R-1".to_string(),
                note: None,
                occurred_at,
            }),
            Kind::Categorise => Action::Categorise(Categorise {
                theme: "Damp".to_string(),
                root_cause: m.flag.then(|| "Repairs".to_string()),
                occurred_at,
            }),
            Kind::Define => Action::Define(DefineComplaint {
                stage: if m.flag { Stage::Stage2 } else { Stage::Stage1 },
                definition: "Definition".to_string(),
                outcomes_sought: vec!["Outcome".to_string(); m.choice],
                occurred_at,
            }),
            Kind::Update => Action::RecordUpdate(RecordUpdate {
                channel: Channel::Phone,
                summary: "Update".to_string(),
                next_update_due: m
                    .flag
                    .then(|| day + chrono::Days::new(u64::from(m.working_days))),
                occurred_at,
            }),
            Kind::SetAction => Action::SetAction(SetAction {
                action_id,
                owner: "Repairs team".to_string(),
                due_on: scenario.received_on + chrono::Days::new(u64::from(m.working_days)),
                occurred_at,
            }),
            Kind::CompleteAction => Action::CompleteAction(CompleteAction {
                action_id,
                evidence: "Job 1 closed".to_string(),
                occurred_at,
            }),
            Kind::Learning => Action::RecordLearning(RecordLearning {
                learning: "Learning".to_string(),
                theme: "communication".to_string(),
                owner: "Owner".to_string(),
                due_on: day,
                occurred_at,
            }),
            Kind::CompleteLearning => Action::CompleteLearning(CompleteLearning {
                learning_id: format!("learn-{}", m.choice + 1),
                what_changed: "Changed".to_string(),
                occurred_at,
            }),
            Kind::Extend => Action::ExtendDeadline(ExtendDeadline {
                working_days: m.working_days,
                reason: "Survey".to_string(),
                resident_informed_on: None,
                occurred_at,
            }),
            Kind::RespondStage1 => Action::RespondStage1(response()),
            Kind::Escalate => Action::Escalate(Escalate {
                reason: "Unhappy".to_string(),
                occurred_at,
            }),
            Kind::AcknowledgeStage2 => Action::AcknowledgeStage2(ack()),
            Kind::RespondStage2 => Action::RespondStage2(response()),
            Kind::Close => Action::Close(CloseComplaint {
                remedy: Remedy::default(),
                learning: (0..m.choice)
                    .map(|_| {
                        LearningEntry::Action(LearningAction {
                            learning: "Learning".to_string(),
                            theme: "repairs".to_string(),
                            owner: "Owner".to_string(),
                            due_on: scenario.received_on,
                        })
                    })
                    .chain(m.flag.then(|| LearningEntry::Note("Note".to_string())))
                    .collect(),
                occurred_at,
                open_actions_reason: m.flag.then(|| "Repairs continue".to_string()),
            }),
            Kind::Deadlock => Action::DeclareDeadlock(DeclareDeadlock {
                on_request: m.flag,
                reason: "Stuck".to_string(),
                occurred_at,
            }),
            Kind::Refer => Action::ReferToRedress(ReferToRedress {
                scheme: [
                    Scheme::HousingOmbudsman,
                    Scheme::PropertyRedressScheme,
                    Scheme::OmbudsmanServices,
                ][m.choice],
                reference: Some("OMB-1".to_string()),
                occurred_at,
            }),
            Kind::Refuse => Action::Refuse(RefuseComplaint {
                reason: [
                    RefusalReason::OlderThanTwelveMonths,
                    RefusalReason::LegalProceedings,
                    RefusalReason::PreviouslyConsidered,
                ][m.choice],
                explanation: "Explanation".to_string(),
                occurred_at,
            }),
            Kind::Withdraw => Action::Withdraw(WithdrawComplaint {
                reason: "Resolved".to_string(),
                occurred_at,
            }),
            Kind::Reopen => Action::Reopen(ReopenComplaint {
                reason: "Reopened".to_string(),
                occurred_at,
            }),
        }
    }

    fn log_complaint(scenario: &Scenario, occurred_at: Option<DateTime<Utc>>) -> LogComplaint {
        LogComplaint {
            procedure: scenario.procedure.to_string(),
            division: Some(scenario.division),
            received_on: Some(scenario.received_on),
            issue_arose_on: scenario.issue_arose_on,
            channel: Channel::Portal,
            complainant: complainant(),
            summary: SUMMARY.to_string(),
            description: String::new(),
            tenure: None,
            occurred_at,
            definition: None,
            outcomes_sought: vec![],
        }
    }

    /// The scenario's commands: the log first, then each move, times non-decreasing from
    /// the day of receipt and never after now.
    fn commands(scenario: &Scenario) -> Vec<ComplaintCommand> {
        // 07:00 UTC is 07:00 or 08:00 in London: the day of receipt either way.
        let mut t = scenario
            .received_on
            .and_hms_opt(7, 0, 0)
            .unwrap()
            .and_utc()
            .min(now());
        let mut commands = vec![by(
            advisor(),
            Action::Log {
                reference: "CF-1".to_string(),
                complaint: log_complaint(scenario, Some(t)),
            },
        )];
        for m in &scenario.moves {
            t = (t + Duration::minutes(m.gap_minutes)).min(now());
            commands.push(by(people()[m.actor].clone(), action(scenario, m, t)));
        }
        commands
    }

    /// What a run left: the accepted events and, per rejected command, the history it
    /// was rejected on.
    struct Run {
        case: Complaint,
        events: Vec<ComplaintEvent>,
        rejected: Vec<(Vec<ComplaintEvent>, ComplaintCommand)>,
    }

    fn run(
        scenario: &Scenario,
        services: &ComplaintServices,
        mut after_each: impl FnMut(&Complaint) -> Result<(), TestCaseError>,
    ) -> Result<Run, TestCaseError> {
        let mut case = Complaint::default();
        let mut events: Vec<ComplaintEvent> = Vec::new();
        let mut rejected = Vec::new();
        for command in commands(scenario) {
            let before = case.clone();
            match case.decide(command.clone(), services) {
                Ok(new) => {
                    prop_assert!(!new.is_empty(), "accepted {:?} with no events", command);
                    let mut previous = case.last_occurred_at;
                    for event in &new {
                        if let Some(previous) = previous {
                            prop_assert!(
                                event.occurred_at() >= previous,
                                "{:?} occurred before the previous event at {}",
                                event,
                                previous
                            );
                        }
                        previous = Some(event.occurred_at());
                    }
                    for event in new {
                        case.apply(event.clone());
                        events.push(event);
                    }
                    after_each(&case)?;
                }
                Err(error) => {
                    // `decide` reads the case and changes nothing; it also answers the
                    // same way twice.
                    prop_assert_eq!(&case, &before);
                    prop_assert_eq!(case.decide(command.clone(), services), Err(error));
                    rejected.push((events.clone(), command));
                }
            }
        }
        Ok(Run {
            case,
            events,
            rejected,
        })
    }

    fn check_invariants(case: &Complaint, calendar: &Calendar) -> Result<(), TestCaseError> {
        let facts = case.facts.as_ref().expect("logged");
        let procedure = &facts.procedure;
        let last = uk_date(case.last_occurred_at.expect("an event"));
        for today in [facts.received_on, last, uk_date(now())] {
            for d in deadlines(case, calendar, today) {
                prop_assert!(d.due >= d.starts_on, "{:?}", d);
                let met = matches!(d.state, DeadlineState::Met | DeadlineState::MetLate);
                prop_assert_eq!(d.met_on.is_some(), met, "{:?}", d);
                if let Some(on) = d.met_on {
                    prop_assert_eq!(on <= d.due, d.state == DeadlineState::Met, "{:?}", d);
                }
                // A promised update may fall on any day the resident agreed to.
                if let DeadlineStep::Procedure(step) = d.step {
                    prop_assert!(procedure.step(step).is_some(), "{:?}", d);
                    prop_assert!(
                        calendar.is_working_day(facts.division, d.due),
                        "due on a non-working day: {:?}",
                        d
                    );
                }
            }
        }
        if let (Some(s1), Some(s2)) = (&case.stage1, &case.stage2) {
            prop_assert_ne!(&s1.by, &s2.by, "Stage 2 answered by the Stage 1 responder");
        }
        if let Some(s1) = &case.stage1 {
            let acknowledged = case.acknowledged_on;
            prop_assert!(acknowledged.is_some_and(|on| on <= s1.on), "{:?}", case);
            let defined = case.defined_on.stage1;
            prop_assert!(defined.is_some(), "Stage 1 answered undefined: {:?}", case);
        }
        if let Some(s2) = &case.stage2 {
            // Restatements after the response may move the day on, never before escalation.
            let defined = case.defined_on.stage2;
            prop_assert!(
                defined.is_some_and(|on| case.escalated_on.is_some_and(|e| e <= on)),
                "Stage 2 answered on {} without a definition since the escalation: {:?}",
                s2.on,
                case
            );
        }
        if let Some(escalated_on) = case.escalated_on {
            prop_assert!(procedure.stages >= 2);
            let s1 = case.stage1.as_ref().map(|s| s.on);
            prop_assert!(s1.is_some_and(|on| on <= escalated_on), "{:?}", case);
        }
        if case.stage2.is_some() || case.stage2_acknowledged_on.is_some() {
            prop_assert!(case.escalated_on.is_some(), "{:?}", case);
        }
        for stage in [Stage::Stage1, Stage::Stage2] {
            let used = case.extended.for_stage(stage);
            match procedure.extensions.for_stage(stage) {
                None => prop_assert_eq!(used, 0, "{} extended without a rule", stage),
                Some(rule) => {
                    if let Some(cap) = rule.max_working_days {
                        prop_assert!(used <= cap, "{} extended {} over cap {}", stage, used, cap);
                    }
                }
            }
        }
        if let Some(scheme) = case.referred_to {
            prop_assert!(procedure.allows_scheme(scheme), "{:?}", scheme);
        }
        Ok(())
    }

    /// Action and learning ids are given once, only what was recorded is completed, and a
    /// case closes with actions open only with the closer's reason.
    fn check_commitments(events: &[ComplaintEvent]) -> Result<(), TestCaseError> {
        let mut tracked: Vec<&String> = Vec::new();
        let mut learning: Vec<&String> = Vec::new();
        for event in events {
            match event {
                ComplaintEvent::ActionTracked { action_id, .. } => {
                    prop_assert!(!tracked.contains(&action_id), "{} twice", action_id);
                    tracked.push(action_id);
                }
                ComplaintEvent::ActionCompleted { action_id, .. } => {
                    prop_assert!(tracked.contains(&action_id), "{} untracked", action_id);
                }
                ComplaintEvent::LearningRecorded { learning_id, .. } => {
                    prop_assert!(!learning.contains(&learning_id), "{} twice", learning_id);
                    learning.push(learning_id);
                }
                ComplaintEvent::LearningCompleted { learning_id, .. } => {
                    prop_assert!(learning.contains(&learning_id), "{} unknown", learning_id);
                }
                ComplaintEvent::Closed {
                    open_actions,
                    open_actions_reason,
                    ..
                } => prop_assert!(
                    open_actions.is_empty() || open_actions_reason.is_some(),
                    "closed with {:?} open and no reason",
                    open_actions
                ),
                _ => {}
            }
        }
        Ok(())
    }

    proptest! {
        // Failures print their minimal case; no regression file is written next to the test.
        #![proptest_config(ProptestConfig {
            cases: 128,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_lifecycles_keep_every_invariant(scenario in a_scenario()) {
            let services = services();
            let calendar = Calendar::builtin();
            let Run { case, events, .. } =
                run(&scenario, &services, |case| check_invariants(case, &calendar))?;
            check_commitments(&events)?;
            // A replay of the accepted events gives the same case.
            prop_assert_eq!(case_from(events), case);
        }

        #[test]
        fn a_rejected_command_changes_nothing_and_writes_nothing(scenario in a_scenario()) {
            let services = services();
            let Run { rejected, .. } = run(&scenario, &services, |_| Ok(()))?;
            // Through the cqrs-es framework (its `handle`): the same error, no events.
            for (history, command) in rejected.into_iter().take(8) {
                let mut case = Complaint::default();
                for event in history.clone() {
                    case.apply(event);
                }
                let expected = case.decide(command.clone(), &services);
                prop_assert!(expected.is_err());
                let result = TestFramework::<Complaint>::with(services.clone())
                    .given(history)
                    .when(command)
                    .inspect_result();
                prop_assert_eq!(result, expected);
            }
        }
    }
}
