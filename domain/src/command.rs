//! What staff ask of a complaint. Each command's fields are also the JSON body of its HTTP
//! action, so they reject unknown fields; `occurred_at` backdates an entry (imports, late
//! recording) and defaults to now.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Division;
use crate::procedure::Scheme;
use crate::values::{
    Actor, Authority, Channel, Complainant, Contact, CorrespondenceTo, Direction, LetterKind,
    LinkKind, Outcome, RefusalReason, Relationship, Remedy, Stage, Tenure,
};

/// A command with the user it is issued by.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintCommand {
    pub actor: Actor,
    pub action: Action,
}

/// One variant per thing staff can do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `reference` is allocated by the service before logging.
    Log {
        reference: String,
        complaint: LogComplaint,
    },
    Acknowledge(AcknowledgeComplaint),
    AssignOwner(AssignOwner),
    RecordNote(RecordNote),
    AttachEvidence(AttachEvidence),
    AddLinkedCase(AddLinkedCase),
    Categorise(Categorise),
    Define(DefineComplaint),
    AddRepresentative(AddRepresentative),
    EndRepresentative(EndRepresentative),
    RecordUpdate(RecordUpdate),
    SetAction(SetAction),
    CompleteAction(CompleteAction),
    RecordLearning(RecordLearning),
    CompleteLearning(CompleteLearning),
    ExtendDeadline(ExtendDeadline),
    RespondStage1(RespondToStage),
    Escalate(Escalate),
    AcknowledgeStage2(AcknowledgeComplaint),
    RespondStage2(RespondToStage),
    Close(CloseComplaint),
    DeclareDeadlock(DeclareDeadlock),
    ReferToRedress(ReferToRedress),
    RecordReferralReference(RecordReferralReference),
    Refuse(RefuseComplaint),
    Withdraw(WithdrawComplaint),
    Reopen(ReopenComplaint),
    SetTenure(SetTenure),
    IssueLetter(IssueLetter),
    /// Automatic: only the service's watchdog raises alerts, always at the present time.
    RaiseSlaAlert(RaiseSlaAlert),
    /// Automatic: an automation rule of the case's procedure acting, by the rule's own
    /// actor, at the present time.
    Automate(Automate),
}

impl Action {
    /// The backdated time the user gave, if any.
    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        use Action::*;
        match self {
            Log { complaint, .. } => complaint.occurred_at,
            Acknowledge(c) | AcknowledgeStage2(c) => c.occurred_at,
            AssignOwner(c) => c.occurred_at,
            RecordNote(c) => c.occurred_at,
            AttachEvidence(c) => c.occurred_at,
            AddLinkedCase(c) => c.occurred_at,
            Categorise(c) => c.occurred_at,
            Define(c) => c.occurred_at,
            AddRepresentative(c) => c.occurred_at,
            EndRepresentative(c) => c.occurred_at,
            RecordUpdate(c) => c.occurred_at,
            SetAction(c) => c.occurred_at,
            CompleteAction(c) => c.occurred_at,
            RecordLearning(c) => c.occurred_at,
            CompleteLearning(c) => c.occurred_at,
            ExtendDeadline(c) => c.occurred_at,
            RespondStage1(c) | RespondStage2(c) => c.occurred_at,
            Escalate(c) => c.occurred_at,
            Close(c) => c.occurred_at,
            DeclareDeadlock(c) => c.occurred_at,
            ReferToRedress(c) => c.occurred_at,
            RecordReferralReference(c) => c.occurred_at,
            Refuse(c) => c.occurred_at,
            Withdraw(c) => c.occurred_at,
            Reopen(c) => c.occurred_at,
            SetTenure(c) => c.occurred_at,
            // A letter is dated the day it is issued: it cannot be backdated.
            IssueLetter(_) | RaiseSlaAlert(_) | Automate(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogComplaint {
    /// Procedure id, e.g. `chc-2024`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub procedure: String,
    /// The UK division whose bank holidays count; the organisation's default when omitted.
    #[serde(default)]
    pub division: Option<Division>,
    /// The day the complaint reached the organisation: day 0 of its deadlines. Today (UK)
    /// when omitted.
    #[serde(default)]
    pub received_on: Option<NaiveDate>,
    /// When the issue complained about arose, if known (for the twelve-month rule).
    #[serde(default)]
    pub issue_arose_on: Option<NaiveDate>,
    pub channel: Channel,
    pub complainant: Complainant,
    /// The tenure of the home, if known; it can be recorded or corrected later.
    #[serde(default)]
    pub tenure: Option<Tenure>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The landlord's definition of the complaint, when already settled: it is recorded as
    /// the Stage 1 definition.
    #[serde(default)]
    pub definition: Option<String>,
    /// The outcomes the resident seeks; only with a `definition`.
    #[serde(default)]
    pub outcomes_sought: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeComplaint {
    /// What the resident was told, if recorded.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignOwner {
    pub owner: Actor,
    pub occurred_at: Option<DateTime<Utc>>,
}

/// An internal note (`kind: note`) or a piece of correspondence with the resident.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    #[default]
    Note,
    Correspondence,
}

/// A letter the service rendered from the case, to be recorded as sent. Not a request
/// body: the client asks for a kind, the service renders it and issues this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueLetter {
    /// Made by the service before rendering, so a retried command records the same letter.
    pub letter_id: String,
    pub kind: LetterKind,
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordNote {
    #[serde(default)]
    pub kind: NoteKind,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub text: String,
    /// Required for correspondence.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// For correspondence; defaults to email.
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachEvidence {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub media_type: String,
    pub size_bytes: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// What the file shows, in the uploader's words.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The content was uploaded and is held in the store. Set by the upload, never by a
    /// client: the JSON form records a file kept elsewhere.
    #[serde(skip)]
    pub stored: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddLinkedCase {
    pub kind: LinkKind,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reference: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Categorise {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub theme: String,
    #[serde(default)]
    pub root_cause: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// The landlord's understanding of the complaint, in its own words, and the outcomes the
/// resident seeks (Complaint Handling Code 2024, 5.6). Each stage's response needs one; a
/// later one restates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DefineComplaint {
    pub stage: Stage,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub definition: String,
    #[serde(default)]
    pub outcomes_sought: Vec<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Someone acting for the resident with their consent. The case gives them the next
/// `rep-N` id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddRepresentative {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub name: String,
    pub relationship: Relationship,
    /// Required in part when correspondence goes to the representative.
    #[serde(default)]
    pub contact: Contact,
    pub authority: Authority,
    pub correspondence_to: CorrespondenceTo,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A representative stops acting for the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndRepresentative {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub representative_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reason: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// An update given to the resident and, if one was agreed, the date of the next: a missed
/// date is a breach of the `resident_update` deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordUpdate {
    pub channel: Channel,
    /// What the resident was told.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub summary: String,
    /// After the day of the update and within a year of it.
    #[serde(default)]
    pub next_update_due: Option<NaiveDate>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Gives a tracked action (`s1-a1`, …: the stage's remedy actions, then its outstanding
/// actions, in order) an owner and a due date, replacing any earlier ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetAction {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub action_id: String,
    /// The person or team who will do it.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub owner: String,
    pub due_on: NaiveDate,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteAction {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub action_id: String,
    /// What shows it was done: a job number, an inspection, an evidence id.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub evidence: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Extends the response deadline of the current stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExtendDeadline {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 260))]
    pub working_days: u32,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reason: String,
    /// The day the resident was told of the new date; defaults to the day of the extension.
    #[serde(default)]
    pub resident_informed_on: Option<NaiveDate>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A Stage 1 or Stage 2 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RespondToStage {
    pub outcome: Outcome,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub decision: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reasons: String,
    #[serde(default)]
    pub remedy: Remedy,
    #[serde(default)]
    pub outstanding_actions: Vec<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Escalate {
    /// Why the resident is dissatisfied with the Stage 1 response.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reason: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CloseComplaint {
    #[serde(default)]
    pub remedy: Remedy,
    /// What the organisation learned: plain notes, or actions to take (tracked as
    /// `learn-N` until done).
    #[serde(default)]
    pub learning: Vec<LearningEntry>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Why the case closes while tracked actions are still open; required then.
    #[serde(default)]
    pub open_actions_reason: Option<String>,
}

/// One thing learned at closing: a note, as before, or an action with a theme, an owner
/// and a due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum LearningEntry {
    Note(String),
    Action(LearningAction),
}

/// A change the organisation will make because of what a complaint showed (Complaint
/// Handling Code 2024, sections 8 and 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LearningAction {
    /// What was learned and what will change.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub learning: String,
    /// E.g. `repairs`, `communication`; what the learning reports group by.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub theme: String,
    /// The person or team who will make the change.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub owner: String,
    pub due_on: NaiveDate,
}

/// A learning action recorded on its own, at any point of the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordLearning {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub learning: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub theme: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub owner: String,
    pub due_on: NaiveDate,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteLearning {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub learning_id: String,
    /// What the organisation changed.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub what_changed: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeclareDeadlock {
    /// The resident asked for a deadlock letter; otherwise the procedure's time limit is relied on.
    #[serde(default)]
    pub on_request: bool,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reason: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReferToRedress {
    pub scheme: Scheme,
    /// The scheme's own case reference, if it has given one yet (it can be added later).
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// The redress scheme's own reference for a referral made without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordReferralReference {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reference: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefuseComplaint {
    pub reason: RefusalReason,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub explanation: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WithdrawComplaint {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reason: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReopenComplaint {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub reason: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Records or corrects the tenure of the home the complaint is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetTenure {
    pub tenure: Tenure,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Raises an alert for a step found `due_soon` or `breached`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaiseSlaAlert {
    pub step: crate::deadline::DeadlineStep,
    pub state: crate::alert::AlertState,
    pub due: NaiveDate,
}

/// What an automation rule does to a case; which rule it is follows from the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Automate {
    Acknowledge,
    Escalate,
    Deadlock,
    /// Assign the case to `owner`, chosen by the service from the procedure's lists.
    Assign {
        owner: Actor,
    },
}

impl Automate {
    pub fn rule(&self) -> crate::automation::AutoRule {
        use crate::automation::AutoRule;
        match self {
            Self::Acknowledge => AutoRule::AcknowledgeOnLogging,
            Self::Escalate => AutoRule::EscalateBreachedStage1,
            Self::Deadlock => AutoRule::DeadlockAfterLimit,
            Self::Assign { .. } => AutoRule::AssignNewCases,
        }
    }
}
