//! One variant per business rule. Each has a stable machine-readable [`code`](ComplaintError::code)
//! that clients match on; the message is for people.

use chrono::{DateTime, NaiveDate, Utc};

use crate::aggregate::Status;
use crate::procedure::Scheme;
use crate::values::{Stage, Tenure};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComplaintError {
    #[error("this complaint has already been logged")]
    AlreadyLogged,
    #[error("no complaint has been logged under this id")]
    NotLogged,
    #[error("unknown procedure `{0}`")]
    UnknownProcedure(String),
    #[error("field `{field}` {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the complaint cannot be received in the future ({received_on} is after {today})")]
    ReceivedInFuture {
        received_on: NaiveDate,
        today: NaiveDate,
    },
    #[error("occurred_at {occurred_at} is in the future")]
    OccurredInFuture { occurred_at: DateTime<Utc> },
    #[error("occurred_at {occurred_at} is before the case's previous event at {previous}")]
    OccurredBeforePreviousEvent {
        occurred_at: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
    #[error("occurred_at {occurred_at} is before the complaint was received on {received_on}")]
    OccurredBeforeReceipt {
        occurred_at: DateTime<Utc>,
        received_on: NaiveDate,
    },
    #[error("the case is {0}: it takes no stage commands until reopened")]
    CaseClosed(Status),
    #[error("the case is not closed, withdrawn or refused, so it cannot be reopened")]
    CaseNotClosed,
    #[error("the complaint has not been acknowledged yet")]
    NotAcknowledged,
    #[error("the complaint has already been acknowledged")]
    AlreadyAcknowledged,
    #[error("{0} has already been responded to")]
    AlreadyResponded(Stage),
    #[error("the complaint cannot be escalated before its Stage 1 response")]
    Stage1NotResponded,
    #[error("the complaint has already been escalated to Stage 2")]
    AlreadyEscalated,
    #[error("the procedure has no Stage 2")]
    NoStageTwo,
    #[error("the complaint has not been escalated to Stage 2")]
    NotEscalated,
    #[error("Stage 2 must be answered by someone other than the Stage 1 responder")]
    SameReviewer,
    #[error("the procedure allows no extension at {0}")]
    ExtensionNotAllowed(Stage),
    #[error(
        "extending {stage} by {requested} working days exceeds the cap: {remaining} of {cap} left"
    )]
    ExtensionExceedsCap {
        stage: Stage,
        requested: u32,
        remaining: u32,
        cap: u32,
    },
    #[error("the current stage has no response deadline left to extend")]
    NothingToExtend,
    #[error("the current stage has not been responded to, so the case cannot be closed")]
    ResponseOutstanding,
    #[error("the procedure has no deadlock rule")]
    NoDeadlockRule,
    #[error("the procedure does not allow deadlock on request")]
    DeadlockOnRequestNotAllowed,
    #[error("the case cannot be deadlocked before {eligible_on}")]
    DeadlockTooEarly { eligible_on: NaiveDate },
    #[error("the case is already deadlocked")]
    AlreadyDeadlocked,
    #[error("the procedure does not refer to the scheme `{}`", .0.as_str())]
    SchemeNotAllowed(Scheme),
    #[error("the in-house procedure is neither exhausted nor deadlocked")]
    ProcedureNotExhausted,
    #[error("the case has already been referred to redress")]
    AlreadyReferred,
    #[error("the case has not been referred to redress")]
    NotReferred,
    #[error("the referral's reference is already recorded")]
    ReferralReferenceRecorded,
    #[error("the referral window closed on {closed_on}")]
    ReferralWindowExpired { closed_on: NaiveDate },
    #[error("the issue is not known to be older than {months} months at receipt")]
    NotOlderThanLimit { months: u32 },
    #[error("the case's tenure is already recorded as {0}")]
    TenureUnchanged(Tenure),
    #[error(
        "{0} has no definition of the complaint (for stage 2, one recorded since the escalation)"
    )]
    DefinitionMissing(Stage),
    #[error("the case has no representative `{0}`")]
    UnknownRepresentative(String),
    #[error("representative `{0}` no longer acts for the resident")]
    RepresentativeAlreadyEnded(String),
    #[error("the case has no tracked action `{0}`")]
    UnknownAction(String),
    #[error("action `{0}` has already been completed")]
    ActionAlreadyCompleted(String),
    #[error(
        "actions {} are still open: closing needs `open_actions_reason`",
        .open.join(", ")
    )]
    OpenActions { open: Vec<String> },
    #[error("the case has no learning action `{0}`")]
    UnknownLearning(String),
    #[error("learning action `{0}` has already been completed")]
    LearningAlreadyCompleted(String),
    #[error("an alert for {step} {state} due {due} has already been raised")]
    AlertAlreadyRaised {
        step: &'static str,
        state: &'static str,
        due: NaiveDate,
    },
    #[error("{step} is not {state} with due date {due}")]
    AlertNotDue {
        step: &'static str,
        state: &'static str,
        due: NaiveDate,
    },
    #[error("only the service raises alerts")]
    AutomaticOnly,
    #[error("the automation rule `{rule}` does not apply to the case now")]
    AutomationNotDue { rule: &'static str },
}

/// How a broken rule should be read: the case is in the wrong state (retrying later may
/// succeed), or the request itself can never succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Conflict,
    Unprocessable,
    NotFound,
}

impl ComplaintError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        use ComplaintError::*;
        match self {
            AlreadyLogged => "already_logged",
            NotLogged => "not_found",
            UnknownProcedure(_) => "unknown_procedure",
            InvalidField { .. } => "invalid_field",
            ReceivedInFuture { .. } => "received_in_future",
            OccurredInFuture { .. } => "occurred_in_future",
            OccurredBeforePreviousEvent { .. } => "occurred_before_previous_event",
            AlertAlreadyRaised { .. } => "alert_already_raised",
            AlertNotDue { .. } => "alert_not_due",
            AutomaticOnly => "automatic_only",
            AutomationNotDue { .. } => "automation_not_due",
            OccurredBeforeReceipt { .. } => "occurred_before_receipt",
            CaseClosed(_) => "case_closed",
            CaseNotClosed => "case_not_closed",
            NotAcknowledged => "not_acknowledged",
            AlreadyAcknowledged => "already_acknowledged",
            AlreadyResponded(_) => "already_responded",
            Stage1NotResponded => "stage1_not_responded",
            AlreadyEscalated => "already_escalated",
            NoStageTwo => "no_stage_two",
            NotEscalated => "not_escalated",
            SameReviewer => "same_reviewer",
            ExtensionNotAllowed(_) => "extension_not_allowed",
            ExtensionExceedsCap { .. } => "extension_exceeds_cap",
            NothingToExtend => "nothing_to_extend",
            ResponseOutstanding => "response_outstanding",
            NoDeadlockRule => "no_deadlock_rule",
            DeadlockOnRequestNotAllowed => "deadlock_on_request_not_allowed",
            DeadlockTooEarly { .. } => "deadlock_too_early",
            AlreadyDeadlocked => "already_deadlocked",
            SchemeNotAllowed(_) => "scheme_not_allowed",
            ProcedureNotExhausted => "procedure_not_exhausted",
            AlreadyReferred => "already_referred",
            NotReferred => "not_referred",
            ReferralReferenceRecorded => "referral_reference_recorded",
            ReferralWindowExpired { .. } => "referral_window_expired",
            NotOlderThanLimit { .. } => "not_older_than_limit",
            TenureUnchanged(_) => "tenure_unchanged",
            DefinitionMissing(_) => "definition_missing",
            UnknownRepresentative(_) => "unknown_representative",
            RepresentativeAlreadyEnded(_) => "representative_already_ended",
            UnknownAction(_) => "unknown_action",
            ActionAlreadyCompleted(_) => "action_already_completed",
            OpenActions { .. } => "open_actions",
            UnknownLearning(_) => "unknown_learning",
            LearningAlreadyCompleted(_) => "learning_already_completed",
        }
    }

    pub fn kind(&self) -> ErrorKind {
        use ComplaintError::*;
        match self {
            // An id that names nothing on the case, as a path to it would.
            NotLogged | UnknownRepresentative(_) | UnknownAction(_) | UnknownLearning(_) => {
                ErrorKind::NotFound
            }
            UnknownProcedure(_)
            | InvalidField { .. }
            | ReceivedInFuture { .. }
            | OccurredInFuture { .. }
            | OccurredBeforePreviousEvent { .. }
            | OccurredBeforeReceipt { .. }
            | ExtensionNotAllowed(_)
            | ExtensionExceedsCap { .. }
            | NoStageTwo
            | NoDeadlockRule
            | DeadlockOnRequestNotAllowed
            | SchemeNotAllowed(_)
            | ReferralWindowExpired { .. }
            | NotOlderThanLimit { .. } => ErrorKind::Unprocessable,
            _ => ErrorKind::Conflict,
        }
    }
}
