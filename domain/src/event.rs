//! What happened to a complaint: one enum, each variant versioned, each carrying when it
//! happened in the real world (`occurred_at`) and who did it (`by`).

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::alert::{AlertResolution, AlertState};
use crate::calendar::Division;
use crate::deadline::DeadlineStep;
use crate::procedure::{Procedure, Scheme};
use crate::values::{
    ActionSource, Actor, Authority, Channel, Complainant, Contact, CorrespondenceTo, Direction,
    LetterKind, LinkKind, RefusalReason, Relationship, Remedy, Stage, StageResponse, Tenure,
};

/// Bumped per variant when its payload changes shape; upcasters read the old ones.
const EVENT_VERSION: &str = "1.0";

// `Logged` carries the procedure copy; events are records read once per load, not a hot
// in-memory structure, so boxing it would only complicate every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ComplaintEvent {
    Logged {
        occurred_at: DateTime<Utc>,
        by: Actor,
        reference: String,
        /// A copy of the procedure as it stood, so deadlines replay the same years later.
        procedure: Procedure,
        division: Division,
        /// The calendar version that first computed this case's deadlines.
        calendar_version: String,
        received_on: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue_arose_on: Option<NaiveDate>,
        channel: Channel,
        complainant: Complainant,
        summary: String,
        description: String,
        /// Absent in cases logged without it (and before it was recorded at all).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenure: Option<Tenure>,
    },
    Acknowledged {
        occurred_at: DateTime<Utc>,
        by: Actor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    OwnerAssigned {
        occurred_at: DateTime<Utc>,
        by: Actor,
        owner: Actor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Actor>,
    },
    NoteRecorded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        text: String,
    },
    CorrespondenceRecorded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        direction: Direction,
        channel: Channel,
        text: String,
    },
    EvidenceAttached {
        occurred_at: DateTime<Utc>,
        by: Actor,
        evidence_id: String,
        name: String,
        media_type: String,
        size_bytes: u64,
        sha256: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// The content is held in the store (uploaded), so verification can tell a
        /// deleted file from one recorded by its metadata only. Absent (false) for
        /// metadata-only evidence and for uploads recorded before the field existed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stored: bool,
    },
    LinkedCaseAdded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        kind: LinkKind,
        reference: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Categorised {
        occurred_at: DateTime<Utc>,
        by: Actor,
        theme: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root_cause: Option<String>,
    },
    /// The definition of the complaint for a stage, restating any earlier one.
    Defined {
        occurred_at: DateTime<Utc>,
        by: Actor,
        stage: Stage,
        definition: String,
        outcomes_sought: Vec<String>,
    },
    RepresentativeAdded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        representative_id: String,
        name: String,
        relationship: Relationship,
        contact: Contact,
        authority: Authority,
        correspondence_to: CorrespondenceTo,
    },
    RepresentativeEnded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        representative_id: String,
        reason: String,
    },
    UpdateRecorded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        channel: Channel,
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_update_due: Option<NaiveDate>,
    },
    /// An action of a stage response, now followed until done; written with the response.
    ActionTracked {
        occurred_at: DateTime<Utc>,
        by: Actor,
        action_id: String,
        stage: Stage,
        source: ActionSource,
        description: String,
    },
    ActionAssigned {
        occurred_at: DateTime<Utc>,
        by: Actor,
        action_id: String,
        owner: String,
        due_on: NaiveDate,
    },
    ActionCompleted {
        occurred_at: DateTime<Utc>,
        by: Actor,
        action_id: String,
        evidence: String,
    },
    /// A learning action: written with the closing that recorded it, or on its own.
    LearningRecorded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        learning_id: String,
        learning: String,
        theme: String,
        owner: String,
        due_on: NaiveDate,
    },
    LearningCompleted {
        occurred_at: DateTime<Utc>,
        by: Actor,
        learning_id: String,
        what_changed: String,
    },
    DeadlineExtended {
        occurred_at: DateTime<Utc>,
        by: Actor,
        stage: Stage,
        working_days: u32,
        reason: String,
        resident_informed_on: NaiveDate,
    },
    Stage1Responded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        response: StageResponse,
        /// The schemes the resident was told they may take the complaint to: set when this
        /// response ends the in-house procedure, empty otherwise (and in older events).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        signposted_to: Vec<Scheme>,
    },
    Escalated {
        occurred_at: DateTime<Utc>,
        by: Actor,
        reason: String,
    },
    Stage2Acknowledged {
        occurred_at: DateTime<Utc>,
        by: Actor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    Stage2Responded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        response: StageResponse,
        /// The schemes the resident was told they may take the complaint to: set when this
        /// response ends the in-house procedure, empty otherwise (and in older events).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        signposted_to: Vec<Scheme>,
    },
    Closed {
        occurred_at: DateTime<Utc>,
        by: Actor,
        remedy: Remedy,
        /// The plain notes of what was learned; learning actions follow as
        /// `LearningRecorded`.
        learning: Vec<String>,
        /// Tracked actions still open at closing, and the closer's reason.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        open_actions: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        open_actions_reason: Option<String>,
    },
    Deadlocked {
        occurred_at: DateTime<Utc>,
        by: Actor,
        /// The resident asked for a deadlock letter (otherwise the time limit passed).
        on_request: bool,
        reason: String,
    },
    ReferredToRedress {
        occurred_at: DateTime<Utc>,
        by: Actor,
        scheme: Scheme,
        /// Absent when the scheme had not given its reference yet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// The scheme's reference for a referral recorded without one.
    ReferralReferenceRecorded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        reference: String,
    },
    Refused {
        occurred_at: DateTime<Utc>,
        by: Actor,
        reason: RefusalReason,
        explanation: String,
        /// The scheme the resident was told they may still go to.
        signposted_to: Vec<Scheme>,
    },
    Withdrawn {
        occurred_at: DateTime<Utc>,
        by: Actor,
        reason: String,
    },
    Reopened {
        occurred_at: DateTime<Utc>,
        by: Actor,
        reason: String,
    },
    TenureRecorded {
        occurred_at: DateTime<Utc>,
        by: Actor,
        tenure: Tenure,
        /// The tenure recorded before, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Tenure>,
    },
    /// A letter sent to the resident, as it was rendered: the trail keeps what they were
    /// told, word for word, whatever templates say later.
    LetterIssued {
        occurred_at: DateTime<Utc>,
        by: Actor,
        letter_id: String,
        kind: LetterKind,
        subject: String,
        html: String,
        text: String,
    },
    /// Automatic: a step entered `due_soon` or `breached`. Not part of the case's
    /// real-world timeline, so later backdated entries may precede it.
    SlaAlertRaised {
        occurred_at: DateTime<Utc>,
        by: Actor,
        step: DeadlineStep,
        state: AlertState,
        due: NaiveDate,
    },
    /// Automatic: an entry showed the alerted step met or no longer due.
    SlaAlertResolved {
        occurred_at: DateTime<Utc>,
        by: Actor,
        step: DeadlineStep,
        state: AlertState,
        due: NaiveDate,
        reason: AlertResolution,
    },
}

impl ComplaintEvent {
    /// When it happened in the real world.
    pub fn occurred_at(&self) -> DateTime<Utc> {
        *self.stamp().0
    }

    /// Who did it.
    pub fn by(&self) -> &Actor {
        self.stamp().1
    }

    fn stamp(&self) -> (&DateTime<Utc>, &Actor) {
        use ComplaintEvent::*;
        match self {
            Logged {
                occurred_at, by, ..
            }
            | Acknowledged {
                occurred_at, by, ..
            }
            | OwnerAssigned {
                occurred_at, by, ..
            }
            | NoteRecorded {
                occurred_at, by, ..
            }
            | CorrespondenceRecorded {
                occurred_at, by, ..
            }
            | EvidenceAttached {
                occurred_at, by, ..
            }
            | LinkedCaseAdded {
                occurred_at, by, ..
            }
            | Categorised {
                occurred_at, by, ..
            }
            | Defined {
                occurred_at, by, ..
            }
            | RepresentativeAdded {
                occurred_at, by, ..
            }
            | RepresentativeEnded {
                occurred_at, by, ..
            }
            | UpdateRecorded {
                occurred_at, by, ..
            }
            | ActionTracked {
                occurred_at, by, ..
            }
            | ActionAssigned {
                occurred_at, by, ..
            }
            | ActionCompleted {
                occurred_at, by, ..
            }
            | LearningRecorded {
                occurred_at, by, ..
            }
            | LearningCompleted {
                occurred_at, by, ..
            }
            | DeadlineExtended {
                occurred_at, by, ..
            }
            | Stage1Responded {
                occurred_at, by, ..
            }
            | Escalated {
                occurred_at, by, ..
            }
            | Stage2Acknowledged {
                occurred_at, by, ..
            }
            | Stage2Responded {
                occurred_at, by, ..
            }
            | Closed {
                occurred_at, by, ..
            }
            | Deadlocked {
                occurred_at, by, ..
            }
            | ReferredToRedress {
                occurred_at, by, ..
            }
            | ReferralReferenceRecorded {
                occurred_at, by, ..
            }
            | Refused {
                occurred_at, by, ..
            }
            | Withdrawn {
                occurred_at, by, ..
            }
            | Reopened {
                occurred_at, by, ..
            }
            | TenureRecorded {
                occurred_at, by, ..
            }
            | LetterIssued {
                occurred_at, by, ..
            }
            | SlaAlertRaised {
                occurred_at, by, ..
            }
            | SlaAlertResolved {
                occurred_at, by, ..
            } => (occurred_at, by),
        }
    }

    /// Recorded by the service on its own (an alert, or an automation rule acting) rather
    /// than entered by a person: such events stand outside the ordering of backdated
    /// entries, so a late entry of what happened before them is never refused for them.
    pub fn is_automatic(&self) -> bool {
        crate::automation::is_system_actor(&self.by().id)
    }

    /// The variant name, as stored in the event store's `event_type` column.
    pub fn name(&self) -> &'static str {
        use ComplaintEvent::*;
        match self {
            Logged { .. } => "Logged",
            Acknowledged { .. } => "Acknowledged",
            OwnerAssigned { .. } => "OwnerAssigned",
            NoteRecorded { .. } => "NoteRecorded",
            CorrespondenceRecorded { .. } => "CorrespondenceRecorded",
            EvidenceAttached { .. } => "EvidenceAttached",
            LinkedCaseAdded { .. } => "LinkedCaseAdded",
            Categorised { .. } => "Categorised",
            Defined { .. } => "Defined",
            RepresentativeAdded { .. } => "RepresentativeAdded",
            RepresentativeEnded { .. } => "RepresentativeEnded",
            UpdateRecorded { .. } => "UpdateRecorded",
            ActionTracked { .. } => "ActionTracked",
            ActionAssigned { .. } => "ActionAssigned",
            ActionCompleted { .. } => "ActionCompleted",
            LearningRecorded { .. } => "LearningRecorded",
            LearningCompleted { .. } => "LearningCompleted",
            DeadlineExtended { .. } => "DeadlineExtended",
            Stage1Responded { .. } => "Stage1Responded",
            Escalated { .. } => "Escalated",
            Stage2Acknowledged { .. } => "Stage2Acknowledged",
            Stage2Responded { .. } => "Stage2Responded",
            Closed { .. } => "Closed",
            Deadlocked { .. } => "Deadlocked",
            ReferredToRedress { .. } => "ReferredToRedress",
            ReferralReferenceRecorded { .. } => "ReferralReferenceRecorded",
            Refused { .. } => "Refused",
            Withdrawn { .. } => "Withdrawn",
            Reopened { .. } => "Reopened",
            TenureRecorded { .. } => "TenureRecorded",
            LetterIssued { .. } => "LetterIssued",
            SlaAlertRaised { .. } => "SlaAlertRaised",
            SlaAlertResolved { .. } => "SlaAlertResolved",
        }
    }
}

impl DomainEvent for ComplaintEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_string()
    }
}
