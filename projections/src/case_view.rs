//! The case as staff see it: where it stands, who owns it, every live deadline with its SLA
//! state, the responses, links, evidence and correspondence, and what the case holds for the
//! resident: the definition of the complaint, representatives, updates, tracked actions and
//! learning.

use std::collections::BTreeMap;

use casefile_domain::aggregate::{Complaint, Status};
use casefile_domain::calendar::{Calendar, Division};
use casefile_domain::deadline::{deadlines, Commitment, DeadlineState, DeadlineStep};
use casefile_domain::procedure::Scheme;
use casefile_domain::values::{
    ActionSource, Actor, Authority, Channel, Complainant, Contact, CorrespondenceTo, Direction,
    LetterKind, LinkKind, RefusalReason, Relationship, Remedy, Stage, StageResponse, Tenure,
};
use casefile_domain::ComplaintEvent;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::recorded::RecordedEvent;
use crate::resident_view::ResidentView;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProcedureSummary {
    pub id: String,
    pub version: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineView {
    pub due: NaiveDate,
    pub state: DeadlineState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met_on: Option<NaiveDate>,
    pub starts_on: NaiveDate,
    pub working_days: u32,
    pub extended_by: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResponseView {
    pub on: NaiveDate,
    pub by: Actor,
    #[serde(flatten)]
    pub response: StageResponse,
    /// The schemes a final response told the resident they may go to.
    #[serde(default)]
    pub signposted_to: Vec<Scheme>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExtensionView {
    pub stage: Stage,
    pub working_days: u32,
    pub reason: String,
    pub resident_informed_on: NaiveDate,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkView {
    pub kind: LinkKind,
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceView {
    pub evidence_id: String,
    pub name: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NoteView {
    pub text: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CorrespondenceView {
    pub direction: Direction,
    pub channel: Channel,
    /// What was said; for a letter Casefile issued, its subject.
    pub text: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
    /// Set for a letter Casefile issued: `GET …/letters/{letter_id}` returns it whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter: Option<LetterRef>,
}

/// A letter issued on the case, as its correspondence entry names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LetterRef {
    pub letter_id: String,
    pub kind: LetterKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClosureView {
    pub on: NaiveDate,
    pub by: Actor,
    pub remedy: Remedy,
    /// Plain notes of what was learned; learning actions are under the case's `learning`.
    pub learning: Vec<String>,
    /// Tracked actions still open when the case closed, and the closer's reason.
    #[serde(default)]
    pub open_actions: Vec<String>,
    #[serde(default)]
    pub open_actions_reason: Option<String>,
}

/// The landlord's definition of the complaint for a stage, as last restated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DefinitionView {
    pub definition: String,
    pub outcomes_sought: Vec<String>,
    pub on: NaiveDate,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DefinitionsView {
    pub stage1: Option<DefinitionView>,
    pub stage2: Option<DefinitionView>,
}

/// Who ended something, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EndingView {
    pub reason: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RepresentativeView {
    pub representative_id: String,
    pub name: String,
    pub relationship: Relationship,
    pub contact: Contact,
    pub authority: Authority,
    pub correspondence_to: CorrespondenceTo,
    /// Still acting for the resident: not ended.
    pub active: bool,
    pub at: DateTime<Utc>,
    pub by: Actor,
    pub ended: Option<EndingView>,
}

/// An update given to the resident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UpdateView {
    pub channel: Channel,
    pub summary: String,
    pub next_update_due: Option<NaiveDate>,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

/// A tracked action on the day the view is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Open,
    /// Open after its due date.
    Overdue,
    Done,
}

/// How something was completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompletionView {
    /// The evidence of completion, or what changed.
    pub text: String,
    pub on: NaiveDate,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionView {
    pub action_id: String,
    pub stage: Stage,
    pub source: ActionSource,
    pub description: String,
    pub owner: Option<String>,
    pub due_on: Option<NaiveDate>,
    pub state: ActionState,
    pub completed: Option<CompletionView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LearningStatus {
    Open,
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LearningView {
    pub learning_id: String,
    pub learning: String,
    pub theme: String,
    pub owner: String,
    pub due_on: NaiveDate,
    pub status: LearningStatus,
    pub at: DateTime<Utc>,
    pub by: Actor,
    /// With `text` saying what changed.
    pub completed: Option<CompletionView>,
}

/// A learning action with the case it came from: one row of a list across cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LearningRow {
    pub case_id: String,
    pub reference: String,
    #[serde(flatten)]
    pub learning: LearningView,
}

impl LearningRow {
    /// The rows of one case's learning actions.
    pub fn all(case_id: &str, reference: &str, learning: &[LearningView]) -> Vec<Self> {
        learning
            .iter()
            .map(|learning| Self {
                case_id: case_id.to_string(),
                reference: reference.to_string(),
                learning: learning.clone(),
            })
            .collect()
    }

    /// Whether the row passes a list's filters; a theme matches whatever its letter case.
    pub fn matches(&self, status: Option<LearningStatus>, theme: Option<&str>) -> bool {
        status.is_none_or(|status| self.learning.status == status)
            && theme.is_none_or(|theme| self.learning.theme.eq_ignore_ascii_case(theme))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReferralView {
    pub scheme: Scheme,
    /// The scheme's reference; `null` until it is recorded.
    pub reference: Option<String>,
    pub on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefusalView {
    pub reason: RefusalReason,
    pub explanation: String,
    pub signposted_to: Vec<Scheme>,
    pub on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WithdrawalView {
    pub reason: String,
    pub on: NaiveDate,
}

/// One case, as of the day it is built for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseView {
    pub id: String,
    pub reference: String,
    /// The sequence of the case's last event: the version a write was checked against.
    pub version: u64,
    pub procedure: ProcedureSummary,
    pub division: Division,
    pub calendar_version: String,
    pub received_on: NaiveDate,
    pub issue_arose_on: Option<NaiveDate>,
    pub channel: Channel,
    pub complainant: Complainant,
    /// The tenure of the home; `other` until one is recorded.
    #[serde(default)]
    pub tenure: Tenure,
    pub summary: String,
    pub description: String,
    pub status: Status,
    pub stage: Stage,
    pub owner: Option<Actor>,
    pub acknowledged_on: Option<NaiveDate>,
    pub escalated_on: Option<NaiveDate>,
    pub stage2_acknowledged_on: Option<NaiveDate>,
    pub deadlocked_on: Option<NaiveDate>,
    pub referral: Option<ReferralView>,
    pub refusal: Option<RefusalView>,
    pub withdrawal: Option<WithdrawalView>,
    pub theme: Option<String>,
    pub root_cause: Option<String>,
    /// Each live step keyed by its name (`acknowledge`, `stage1_response`, …).
    pub deadlines: BTreeMap<String, DeadlineView>,
    pub stage1_response: Option<ResponseView>,
    pub stage2_response: Option<ResponseView>,
    pub closure: Option<ClosureView>,
    pub extensions: Vec<ExtensionView>,
    pub links: Vec<LinkView>,
    pub evidence: Vec<EvidenceView>,
    pub notes: Vec<NoteView>,
    pub correspondence: Vec<CorrespondenceView>,
    pub logged_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The current definition of the complaint for each stage.
    #[serde(default)]
    pub definitions: DefinitionsView,
    /// Everyone who has acted for the resident, those ended included.
    #[serde(default)]
    pub representatives: Vec<RepresentativeView>,
    /// Updates given to the resident, oldest first.
    #[serde(default)]
    pub updates: Vec<UpdateView>,
    /// The date agreed for the next update, while it is not yet given.
    #[serde(default)]
    pub next_update_due: Option<NaiveDate>,
    /// The actions of the stage responses, in the order given.
    #[serde(default)]
    pub actions: Vec<ActionView>,
    /// Learning actions, in the order recorded.
    #[serde(default)]
    pub learning: Vec<LearningView>,
    /// The resident's needs and agreed adjustments. Never folded from the case's events:
    /// the resident's own record is attached when the view is read (`with_adjustments`).
    #[serde(default)]
    pub adjustments: Option<ResidentView>,
}

impl CaseView {
    /// Folds a case's events into its view as it stands on `today`. `None` if the events do
    /// not start with `Logged`.
    pub fn build(
        id: &str,
        events: &[RecordedEvent],
        calendar: &Calendar,
        today: NaiveDate,
    ) -> Option<Self> {
        let (record, items) = CaseRecord::fold(id, events)?;
        Some(record.view(calendar, today, items.into_iter().map(|(_, item)| item)))
    }

    /// The view right after the `Logged` event.
    fn start(id: &str, first: &RecordedEvent) -> Option<Self> {
        let ComplaintEvent::Logged {
            occurred_at,
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
            tenure,
            ..
        } = &first.event
        else {
            return None;
        };
        Some(CaseView {
            id: id.to_string(),
            reference: reference.clone(),
            version: first.sequence,
            procedure: ProcedureSummary {
                id: procedure.id.clone(),
                version: procedure.version,
                name: procedure.name.clone(),
            },
            division: *division,
            calendar_version: calendar_version.clone(),
            received_on: *received_on,
            issue_arose_on: *issue_arose_on,
            channel: *channel,
            complainant: complainant.clone(),
            tenure: tenure.unwrap_or_default(),
            summary: summary.clone(),
            description: description.clone(),
            status: Status::Open,
            stage: Stage::Stage1,
            owner: None,
            acknowledged_on: None,
            escalated_on: None,
            stage2_acknowledged_on: None,
            deadlocked_on: None,
            referral: None,
            refusal: None,
            withdrawal: None,
            theme: None,
            root_cause: None,
            deadlines: BTreeMap::new(),
            stage1_response: None,
            stage2_response: None,
            closure: None,
            extensions: Vec::new(),
            links: Vec::new(),
            evidence: Vec::new(),
            notes: Vec::new(),
            correspondence: Vec::new(),
            logged_at: *occurred_at,
            updated_at: *occurred_at,
            definitions: DefinitionsView::default(),
            representatives: Vec::new(),
            updates: Vec::new(),
            next_update_due: None,
            actions: Vec::new(),
            learning: Vec::new(),
            adjustments: None,
        })
    }

    /// The view with the resident's needs and adjustments attached.
    pub fn with_adjustments(mut self, adjustments: Option<ResidentView>) -> Self {
        self.adjustments = adjustments;
        self
    }

    /// The representatives still acting for the resident.
    pub fn active_representatives(&self) -> impl Iterator<Item = &RepresentativeView> {
        self.representatives.iter().filter(|r| r.active)
    }

    /// The case's learning actions as rows of a list across cases.
    pub fn learning_rows(&self) -> Vec<LearningRow> {
        LearningRow::all(&self.id, &self.reference, &self.learning)
    }

    /// Copies what the aggregate's state decides and computes the deadlines for `today`.
    fn settle(&mut self, state: &Complaint, calendar: &Calendar, today: NaiveDate) {
        self.copy_state(StateFacts::of(state), today);
        self.deadlines = deadlines(state, calendar, today)
            .into_iter()
            .map(|d| {
                (
                    d.step.as_str().to_string(),
                    DeadlineView {
                        due: d.due,
                        state: d.state,
                        met_on: d.met_on,
                        starts_on: d.starts_on,
                        working_days: d.working_days,
                        extended_by: d.extended_by,
                    },
                )
            })
            .collect();
        // Only a promise still live: one a closed case had not yet broken is dropped with
        // its deadline.
        self.next_update_due = self
            .deadlines
            .get(DeadlineStep::Commitment(Commitment::ResidentUpdate).as_str())
            .filter(|d| d.met_on.is_none())
            .map(|d| d.due);
    }

    /// Copies what the aggregate's state decides, and each tracked action's state on
    /// `today`: all of [`settle`](Self::settle) but the deadlines.
    fn copy_state(&mut self, state: StateFacts, today: NaiveDate) {
        self.status = state.status;
        self.stage = state.stage();
        self.tenure = state.tenure.unwrap_or_default();
        self.owner = state.owner;
        self.acknowledged_on = state.acknowledged_on;
        self.escalated_on = state.escalated_on;
        self.stage2_acknowledged_on = state.stage2_acknowledged_on;
        self.deadlocked_on = state.deadlocked_on;
        for action in &mut self.actions {
            action.state = match (&action.completed, action.due_on) {
                (Some(_), _) => ActionState::Done,
                (None, Some(due_on)) if due_on < today => ActionState::Overdue,
                (None, _) => ActionState::Open,
            };
        }
    }

    /// Adds what the aggregate's state does not keep: text, lists, who said what.
    fn record(&mut self, recorded: &RecordedEvent) {
        use ComplaintEvent as E;
        let at = recorded.event.occurred_at();
        let on = casefile_domain::uk_date(at);
        let by = recorded.event.by().clone();
        self.version = recorded.sequence;
        self.updated_at = at;
        match recorded.event.clone() {
            E::Categorised {
                theme, root_cause, ..
            } => {
                self.theme = Some(theme);
                self.root_cause = root_cause;
            }
            E::DeadlineExtended {
                stage,
                working_days,
                reason,
                resident_informed_on,
                ..
            } => self.extensions.push(ExtensionView {
                stage,
                working_days,
                reason,
                resident_informed_on,
                at,
                by,
            }),
            E::LinkedCaseAdded {
                kind,
                reference,
                note,
                ..
            } => self.links.push(LinkView {
                kind,
                reference,
                note,
                at,
            }),
            E::EvidenceAttached {
                evidence_id,
                name,
                media_type,
                size_bytes,
                sha256,
                description,
                ..
            } => self.evidence.push(EvidenceView {
                evidence_id,
                name,
                media_type,
                size_bytes,
                sha256,
                description,
                at,
                by,
            }),
            E::NoteRecorded { text, .. } => self.notes.push(NoteView { text, at, by }),
            E::CorrespondenceRecorded {
                direction,
                channel,
                text,
                ..
            } => self.correspondence.push(CorrespondenceView {
                direction,
                channel,
                text,
                at,
                by,
                letter: None,
            }),
            E::LetterIssued {
                letter_id,
                kind,
                subject,
                ..
            } => self.correspondence.push(CorrespondenceView {
                direction: Direction::Outbound,
                channel: Channel::Letter,
                text: subject,
                at,
                by,
                letter: Some(LetterRef { letter_id, kind }),
            }),
            E::Stage1Responded {
                response,
                signposted_to,
                ..
            } => {
                self.stage1_response = Some(ResponseView {
                    on,
                    by,
                    response,
                    signposted_to,
                })
            }
            E::Stage2Responded {
                response,
                signposted_to,
                ..
            } => {
                self.stage2_response = Some(ResponseView {
                    on,
                    by,
                    response,
                    signposted_to,
                })
            }
            E::Closed {
                remedy,
                learning,
                open_actions,
                open_actions_reason,
                ..
            } => {
                self.closure = Some(ClosureView {
                    on,
                    by,
                    remedy,
                    learning,
                    open_actions,
                    open_actions_reason,
                })
            }
            E::Defined {
                stage,
                definition,
                outcomes_sought,
                ..
            } => {
                let view = Some(DefinitionView {
                    definition,
                    outcomes_sought,
                    on,
                    at,
                    by,
                });
                match stage {
                    Stage::Stage1 => self.definitions.stage1 = view,
                    Stage::Stage2 => self.definitions.stage2 = view,
                }
            }
            E::RepresentativeAdded {
                representative_id,
                name,
                relationship,
                contact,
                authority,
                correspondence_to,
                ..
            } => self.representatives.push(RepresentativeView {
                representative_id,
                name,
                relationship,
                contact,
                authority,
                correspondence_to,
                active: true,
                at,
                by,
                ended: None,
            }),
            E::RepresentativeEnded {
                representative_id,
                reason,
                ..
            } => {
                if let Some(representative) = self
                    .representatives
                    .iter_mut()
                    .find(|r| r.representative_id == representative_id)
                {
                    representative.active = false;
                    representative.ended = Some(EndingView { reason, at, by });
                }
            }
            E::UpdateRecorded {
                channel,
                summary,
                next_update_due,
                ..
            } => self.updates.push(UpdateView {
                channel,
                summary,
                next_update_due,
                at,
                by,
            }),
            E::ActionTracked {
                action_id,
                stage,
                source,
                description,
                ..
            } => self.actions.push(ActionView {
                action_id,
                stage,
                source,
                description,
                owner: None,
                due_on: None,
                state: ActionState::Open,
                completed: None,
            }),
            E::ActionAssigned {
                action_id,
                owner,
                due_on,
                ..
            } => {
                if let Some(action) = self.action_mut(&action_id) {
                    action.owner = Some(owner);
                    action.due_on = Some(due_on);
                }
            }
            E::ActionCompleted {
                action_id,
                evidence,
                ..
            } => {
                if let Some(action) = self.action_mut(&action_id) {
                    action.completed = Some(CompletionView {
                        text: evidence,
                        on,
                        at,
                        by,
                    });
                }
            }
            E::LearningRecorded {
                learning_id,
                learning,
                theme,
                owner,
                due_on,
                ..
            } => self.learning.push(LearningView {
                learning_id,
                learning,
                theme,
                owner,
                due_on,
                status: LearningStatus::Open,
                at,
                by,
                completed: None,
            }),
            E::LearningCompleted {
                learning_id,
                what_changed,
                ..
            } => {
                if let Some(learning) = self
                    .learning
                    .iter_mut()
                    .find(|l| l.learning_id == learning_id)
                {
                    learning.status = LearningStatus::Done;
                    learning.completed = Some(CompletionView {
                        text: what_changed,
                        on,
                        at,
                        by,
                    });
                }
            }
            E::ReferredToRedress {
                scheme, reference, ..
            } => {
                self.referral = Some(ReferralView {
                    scheme,
                    reference,
                    on,
                })
            }
            E::ReferralReferenceRecorded { reference, .. } => {
                if let Some(referral) = self.referral.as_mut() {
                    referral.reference = Some(reference);
                }
            }
            E::Refused {
                reason,
                explanation,
                signposted_to,
                ..
            } => {
                self.refusal = Some(RefusalView {
                    reason,
                    explanation,
                    signposted_to,
                    on,
                })
            }
            E::Withdrawn { reason, .. } => self.withdrawal = Some(WithdrawalView { reason, on }),
            E::Reopened { .. } => {
                self.closure = None;
                self.refusal = None;
                self.withdrawal = None;
            }
            E::Logged { .. }
            | E::Acknowledged { .. }
            | E::OwnerAssigned { .. }
            | E::Escalated { .. }
            | E::Stage2Acknowledged { .. }
            | E::Deadlocked { .. }
            | E::TenureRecorded { .. }
            | E::SlaAlertRaised { .. }
            | E::SlaAlertResolved { .. } => {}
        }
    }

    fn action_mut(&mut self, action_id: &str) -> Option<&mut ActionView> {
        self.actions.iter_mut().find(|a| a.action_id == action_id)
    }
}

/// The nearest unmet deadline of a case. Its `state` is for the day the summary is read:
/// stores keep the due date and recompute the state on every read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NextDue {
    pub step: String,
    pub due: NaiveDate,
    pub state: DeadlineState,
}

/// One line of a work queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseSummary {
    pub id: String,
    pub reference: String,
    pub version: u64,
    pub procedure: String,
    pub division: Division,
    pub channel: Channel,
    pub status: Status,
    pub stage: Stage,
    pub owner: Option<Actor>,
    pub received_on: NaiveDate,
    pub complainant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_id: Option<String>,
    pub summary: String,
    pub theme: Option<String>,
    #[serde(default)]
    pub root_cause: Option<String>,
    pub next_due: Option<NextDue>,
    /// When the case last left the open state (closed, withdrawn or refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_on: Option<NaiveDate>,
    pub updated_at: DateTime<Utc>,
}

impl CaseSummary {
    pub fn stage_code(&self) -> &'static str {
        match self.stage {
            Stage::Stage1 => "stage1",
            Stage::Stage2 => "stage2",
        }
    }
}

/// A live step of an open case that is not met yet: what queues filter and the dashboard
/// counts by due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenStep {
    pub step: String,
    pub due: NaiveDate,
}

impl CaseView {
    pub fn summary(&self) -> CaseSummary {
        let next_due = self
            .open_steps()
            .into_iter()
            .min_by_key(|s| s.due)
            .map(|s| NextDue {
                state: self.deadlines[&s.step].state,
                step: s.step,
                due: s.due,
            });
        CaseSummary {
            id: self.id.clone(),
            reference: self.reference.clone(),
            version: self.version,
            procedure: self.procedure.id.clone(),
            division: self.division,
            channel: self.channel,
            status: self.status,
            stage: self.stage,
            owner: self.owner.clone(),
            received_on: self.received_on,
            complainant: self.complainant.name.clone(),
            resident_id: self.complainant.resident_id.clone(),
            summary: self.summary.clone(),
            theme: self.theme.clone(),
            root_cause: self.root_cause.clone(),
            next_due,
            ended_on: self.ended_on(),
            updated_at: self.updated_at,
        }
    }

    /// The live, unmet steps of an open case (none once it has ended): they do not depend
    /// on the day, only their SLA state does.
    pub fn open_steps(&self) -> Vec<OpenStep> {
        if self.status != Status::Open {
            return Vec::new();
        }
        self.deadlines
            .iter()
            .filter(|(_, d)| d.met_on.is_none())
            .map(|(step, d)| OpenStep {
                step: step.clone(),
                due: d.due,
            })
            .collect()
    }

    /// The day the case left the open state, if it is not open.
    pub fn ended_on(&self) -> Option<NaiveDate> {
        match self.status {
            Status::Open => None,
            Status::Closed => self.closure.as_ref().map(|c| c.on),
            Status::Withdrawn => self.withdrawal.as_ref().map(|w| w.on),
            Status::Refused => self.refusal.as_ref().map(|r| r.on),
        }
    }
}

/// An entry of one of a case's unbounded lists (notes, correspondence, evidence, links).
/// Stores keep them apart from the case's fold, so a command on a case with a thousand notes
/// reads and writes no more than one on a case with none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "list", rename_all = "snake_case")]
pub enum CaseItem {
    Note(NoteView),
    Correspondence(CorrespondenceView),
    Evidence(EvidenceView),
    Link(LinkView),
}

impl CaseView {
    /// Moves the entries of the unbounded lists out of the view (at most one per event).
    fn take_items(&mut self) -> Vec<CaseItem> {
        let mut items = Vec::new();
        items.extend(self.notes.drain(..).map(CaseItem::Note));
        items.extend(self.correspondence.drain(..).map(CaseItem::Correspondence));
        items.extend(self.evidence.drain(..).map(CaseItem::Evidence));
        items.extend(self.links.drain(..).map(CaseItem::Link));
        items
    }

    /// Puts list entries back, in the order they were recorded.
    fn put_items(&mut self, items: impl IntoIterator<Item = CaseItem>) {
        for item in items {
            match item {
                CaseItem::Note(n) => self.notes.push(n),
                CaseItem::Correspondence(c) => self.correspondence.push(c),
                CaseItem::Evidence(e) => self.evidence.push(e),
                CaseItem::Link(l) => self.links.push(l),
            }
        }
    }
}

/// A case folded up to some event: the view's scalar fields and the aggregate's state, from
/// which the deadlines of any day follow. The unbounded lists live apart as [`CaseItem`]s.
/// Stored with every command, it is what the next command loads instead of the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Bumped whenever the stored shape changes; a record of another format is refolded.
    pub format: u32,
    pub view: CaseView,
    pub state: Complaint,
}

impl CaseRecord {
    pub const FORMAT: u32 = 3;

    /// The record after the case's first event, which must be `Logged`.
    pub fn start(id: &str, first: &RecordedEvent) -> Option<Self> {
        let view = CaseView::start(id, first)?;
        Some(Self {
            format: Self::FORMAT,
            view,
            state: Complaint::replay([first.event.clone()]),
        })
    }

    /// Folds a case's events, in order, into its record and its list entries (each with the
    /// sequence of the event that added it). `None` if the events do not start with `Logged`.
    pub fn fold(id: &str, events: &[RecordedEvent]) -> Option<(Self, Vec<(u64, CaseItem)>)> {
        let (first, rest) = events.split_first()?;
        let mut record = Self::start(id, first)?;
        let mut items = Vec::new();
        for recorded in rest {
            items.extend(record.apply(recorded).map(|item| (recorded.sequence, item)));
        }
        Some((record, items))
    }

    /// The sequence of the last event folded in.
    pub fn version(&self) -> u64 {
        self.view.version
    }

    /// Folds in the next event and returns the list entry it adds, if any. An event already
    /// folded in changes nothing.
    pub fn apply(&mut self, recorded: &RecordedEvent) -> Option<CaseItem> {
        if recorded.sequence <= self.version() {
            return None;
        }
        self.view.record(recorded);
        cqrs_es::Aggregate::apply(&mut self.state, recorded.event.clone());
        self.view.take_items().pop()
    }

    /// The case as it stands on `today`, with its list entries in recorded order.
    pub fn view(
        &self,
        calendar: &Calendar,
        today: NaiveDate,
        items: impl IntoIterator<Item = CaseItem>,
    ) -> CaseView {
        let mut view = self.view.clone();
        view.put_items(items);
        view.settle(&self.state, calendar, today);
        view
    }
}

/// The fields of the aggregate's state a view copies, under the state's own names, so they
/// can also be read alone from a stored fold's `state` (skipping the procedure it carries).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StateFacts {
    pub(crate) status: Status,
    #[serde(default)]
    pub(crate) tenure: Option<Tenure>,
    owner: Option<Actor>,
    pub(crate) acknowledged_on: Option<NaiveDate>,
    pub(crate) escalated_on: Option<NaiveDate>,
    pub(crate) stage2_acknowledged_on: Option<NaiveDate>,
    deadlocked_on: Option<NaiveDate>,
}

impl StateFacts {
    fn of(state: &Complaint) -> Self {
        Self {
            status: state.status,
            tenure: state.tenure,
            owner: state.owner.clone(),
            acknowledged_on: state.acknowledged_on,
            escalated_on: state.escalated_on,
            stage2_acknowledged_on: state.stage2_acknowledged_on,
            deadlocked_on: state.deadlocked_on,
        }
    }

    /// As [`Complaint::stage`].
    fn stage(&self) -> Stage {
        if self.escalated_on.is_some() {
            Stage::Stage2
        } else {
            Stage::Stage1
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use casefile_domain::procedure::ProcedureRegistry;
    use casefile_domain::values::{Outcome, Remedy};
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0).unwrap()
    }

    fn actor() -> Actor {
        Actor {
            id: "u1".into(),
            name: "Sam".into(),
        }
    }

    fn recorded(sequence: u64, event: ComplaintEvent) -> RecordedEvent {
        RecordedEvent {
            aggregate_id: "case".into(),
            sequence,
            event_version: "1.0".into(),
            recorded_at: event.occurred_at(),
            event,
            metadata: HashMap::new(),
        }
    }

    fn life() -> Vec<RecordedEvent> {
        let procedure = ProcedureRegistry::builtin()
            .get("chc-2024")
            .unwrap()
            .clone();
        let events = vec![
            ComplaintEvent::Logged {
                occurred_at: at(3, 9),
                by: actor(),
                reference: "CF-2025-000001".into(),
                procedure,
                division: Division::EnglandAndWales,
                calendar_version: Calendar::builtin().version(),
                received_on: NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
                issue_arose_on: None,
                channel: Channel::Email,
                complainant: Complainant {
                    name: "Alex".into(),
                    email: None,
                    phone: None,
                    address: None,
                    resident_id: None,
                    postcode: None,
                    preferred_contact: None,
                },
                summary: "Boiler".into(),
                description: String::new(),
                tenure: None,
            },
            ComplaintEvent::Acknowledged {
                occurred_at: at(4, 10),
                by: actor(),
                text: None,
            },
            ComplaintEvent::NoteRecorded {
                occurred_at: at(5, 10),
                by: actor(),
                text: "Called the resident".into(),
            },
            ComplaintEvent::Stage1Responded {
                occurred_at: at(12, 10),
                by: actor(),
                response: StageResponse {
                    outcome: Outcome::Upheld,
                    decision: "Replace".into(),
                    reasons: "Failures".into(),
                    remedy: Remedy::default(),
                    outstanding_actions: vec![],
                },
                signposted_to: vec![],
            },
        ];
        events
            .into_iter()
            .zip(1..)
            .map(|(event, sequence)| recorded(sequence, event))
            .collect()
    }

    #[test]
    fn a_record_folded_bit_by_bit_gives_the_view_of_a_fold_of_everything() {
        let events = life();
        let calendar = Calendar::builtin();
        let today = NaiveDate::from_ymd_opt(2025, 3, 20).unwrap();
        let whole = CaseView::build("case", &events, &calendar, today).unwrap();

        let mut record = CaseRecord::start("case", &events[0]).unwrap();
        let mut items = Vec::new();
        for event in &events[1..3] {
            items.extend(record.apply(event));
        }
        // Stored and read back, as between two requests: the note is kept apart.
        let text = serde_json::to_string(&record).unwrap();
        let mut record: CaseRecord = serde_json::from_str(&text).unwrap();
        assert!(record.view.notes.is_empty());
        items.extend(record.apply(&events[3]));
        assert_eq!(items.len(), 1);
        assert_eq!(record.view(&calendar, today, items), whole);
        assert_eq!(whole.version, 4);
        assert_eq!(whole.notes.len(), 1);
        // Acknowledged Tue 4 Mar: 10 working days later is Tue 18 Mar; answered Wed 12.
        assert_eq!(
            whole.deadlines["stage1_response"].due.to_string(),
            "2025-03-18"
        );
        assert_eq!(whole.deadlines["stage1_response"].state, DeadlineState::Met);
    }

    #[test]
    fn an_event_folded_in_twice_changes_nothing() {
        let events = life();
        let mut record = CaseRecord::start("case", &events[0]).unwrap();
        for event in &events {
            record.apply(event);
        }
        let once = record.clone();
        for event in &events {
            assert_eq!(record.apply(event), None);
        }
        assert_eq!(record, once);
    }

    #[test]
    fn a_case_without_a_tenure_shows_other_and_a_recorded_one_shows_itself() {
        let mut events = life();
        let calendar = Calendar::builtin();
        let today = NaiveDate::from_ymd_opt(2025, 3, 20).unwrap();
        let view = CaseView::build("case", &events, &calendar, today).unwrap();
        assert_eq!(view.tenure, Tenure::Other);

        events.push(recorded(
            5,
            ComplaintEvent::TenureRecorded {
                occurred_at: at(13, 10),
                by: actor(),
                tenure: Tenure::Lcho,
                previous: None,
            },
        ));
        let view = CaseView::build("case", &events, &calendar, today).unwrap();
        assert_eq!(view.tenure, Tenure::Lcho);
        assert_eq!(serde_json::to_value(&view).unwrap()["tenure"], "lcho");
    }

    #[test]
    fn a_record_stored_before_tenure_existed_reads_as_other() {
        let events = life();
        let record = CaseRecord::start("case", &events[0]).unwrap();
        let mut stored = serde_json::to_value(&record).unwrap();
        stored["view"].as_object_mut().unwrap().remove("tenure");
        stored["state"].as_object_mut().unwrap().remove("tenure");
        let back: CaseRecord = serde_json::from_value(stored).unwrap();
        assert_eq!(back, record);
    }

    // ----- what the case holds for the resident -----

    mod duties {
        use std::sync::Arc;

        use super::super::*;
        use super::{actor, at, recorded};
        use crate::resident_view::ResidentView;
        use casefile_domain::command::{
            AddRepresentative, CloseComplaint, CompleteAction, CompleteLearning, DefineComplaint,
            EndRepresentative, LearningAction, LearningEntry, LogComplaint, RecordLearning,
            RecordUpdate, RespondToStage, SetAction,
        };
        use casefile_domain::procedure::ProcedureRegistry;
        use casefile_domain::resident::{AgreedAdjustment, ResidentAction, SetAdjustments};
        use casefile_domain::values::{Outcome, Remedy};
        use casefile_domain::{
            Action, Clock, ComplaintCommand, ComplaintServices, Resident, ResidentCommand,
            ResidentServices,
        };

        #[derive(Debug)]
        struct Fixed(DateTime<Utc>);

        impl Clock for Fixed {
            fn now(&self) -> DateTime<Utc> {
                self.0
            }
        }

        fn services() -> ComplaintServices {
            ComplaintServices {
                procedures: Arc::new(ProcedureRegistry::builtin()),
                calendar: Arc::new(Calendar::builtin()),
                clock: Arc::new(Fixed(at(31, 18))),
                default_division: casefile_domain::Division::EnglandAndWales,
            }
        }

        fn day(d: u32) -> NaiveDate {
            NaiveDate::from_ymd_opt(2025, 3, d).unwrap()
        }

        fn reviewer() -> Actor {
            Actor {
                id: "u2".into(),
                name: "Robin".into(),
            }
        }

        /// A case run through the aggregate, so the events are the ones it writes.
        struct Story {
            case: Complaint,
            events: Vec<RecordedEvent>,
        }

        impl Story {
            fn new() -> Self {
                let mut story = Self {
                    case: Complaint::default(),
                    events: Vec::new(),
                };
                story.run(
                    actor(),
                    Action::Log {
                        reference: "CF-2025-000007".into(),
                        complaint: LogComplaint {
                            procedure: "chc-2024".into(),
                            division: Some(Division::EnglandAndWales),
                            received_on: Some(day(3)),
                            issue_arose_on: None,
                            channel: Channel::Phone,
                            complainant: Complainant {
                                name: "Alex".into(),
                                email: None,
                                phone: None,
                                address: None,
                                resident_id: Some("T-77".into()),
                                postcode: None,
                                preferred_contact: None,
                            },
                            summary: "Boiler".into(),
                            description: String::new(),
                            tenure: None,
                            occurred_at: Some(at(3, 9)),
                            definition: Some("The boiler keeps failing".into()),
                            outcomes_sought: vec!["A new boiler".into()],
                        },
                    },
                );
                story
            }

            fn run(&mut self, by: Actor, action: Action) {
                let command = ComplaintCommand { actor: by, action };
                for event in self.case.decide(command, &services()).unwrap() {
                    cqrs_es::Aggregate::apply(&mut self.case, event.clone());
                    let sequence = self.events.len() as u64 + 1;
                    self.events.push(recorded(sequence, event));
                }
            }

            fn view(&self, today: NaiveDate) -> CaseView {
                CaseView::build("case", &self.events, &Calendar::builtin(), today).unwrap()
            }
        }

        fn representative(
            name: &str,
            relationship: Relationship,
            contact: Contact,
            correspondence_to: CorrespondenceTo,
            when: DateTime<Utc>,
        ) -> Action {
            Action::AddRepresentative(AddRepresentative {
                name: name.into(),
                relationship,
                contact,
                authority: Authority {
                    how: "Consent form signed".into(),
                    given_on: day(4),
                },
                correspondence_to,
                occurred_at: Some(when),
            })
        }

        fn update(summary: &str, next: Option<u32>, when: DateTime<Utc>) -> Action {
            Action::RecordUpdate(RecordUpdate {
                channel: Channel::Phone,
                summary: summary.into(),
                next_update_due: next.map(day),
                occurred_at: Some(when),
            })
        }

        /// Logged with a definition on Mon 3 March 2025, represented, kept updated,
        /// redefined, answered with three actions, closed with one of them open, learning
        /// recorded and partly done.
        fn story() -> Story {
            let mut s = Story::new();
            s.run(
                actor(),
                Action::Acknowledge(casefile_domain::command::AcknowledgeComplaint {
                    text: None,
                    occurred_at: Some(at(4, 10)),
                }),
            );
            s.run(
                actor(),
                representative(
                    "Lee",
                    Relationship::Advocate,
                    Contact {
                        email: Some("lee@advocacy.example.org".into()),
                        ..Contact::default()
                    },
                    CorrespondenceTo::Both,
                    at(4, 11),
                ),
            );
            s.run(
                actor(),
                representative(
                    "Sam MP",
                    Relationship::Mp,
                    Contact::default(),
                    CorrespondenceTo::Resident,
                    at(5, 9),
                ),
            );
            s.run(
                reviewer(),
                Action::EndRepresentative(EndRepresentative {
                    representative_id: "rep-2".into(),
                    reason: "The resident withdrew consent".into(),
                    occurred_at: Some(at(6, 9)),
                }),
            );
            s.run(actor(), update("Engineer booked", Some(11), at(6, 10)));
            s.run(
                actor(),
                Action::Define(DefineComplaint {
                    stage: Stage::Stage1,
                    definition: "The boiler keeps failing; no hot water for ten days".into(),
                    outcomes_sought: vec!["A new boiler".into(), "Compensation".into()],
                    occurred_at: Some(at(7, 10)),
                }),
            );
            s.run(actor(), update("Parts ordered", Some(14), at(10, 10)));
            s.run(
                actor(),
                Action::RespondStage1(RespondToStage {
                    outcome: Outcome::Upheld,
                    decision: "Replace the boiler".into(),
                    reasons: "Three failures in a month".into(),
                    remedy: Remedy {
                        actions: vec!["Replace the boiler".into(), "Refund heating costs".into()],
                        compensation_pence: 20_000,
                    },
                    outstanding_actions: vec!["Check the radiators".into()],
                    occurred_at: Some(at(12, 10)),
                }),
            );
            for (id, owner, due, hour) in [
                ("s1-a1", "Heating contractor", 20, 11),
                ("s1-a2", "Finance", 28, 12),
            ] {
                s.run(
                    actor(),
                    Action::SetAction(SetAction {
                        action_id: id.into(),
                        owner: owner.into(),
                        due_on: day(due),
                        occurred_at: Some(at(12, hour)),
                    }),
                );
            }
            s.run(
                actor(),
                Action::CompleteAction(CompleteAction {
                    action_id: "s1-a2".into(),
                    evidence: "Payment 8812".into(),
                    occurred_at: Some(at(13, 10)),
                }),
            );
            s.run(
                actor(),
                Action::RecordLearning(RecordLearning {
                    learning: "Stock common boiler parts".into(),
                    theme: "repairs".into(),
                    owner: "Head of Repairs".into(),
                    due_on: day(30),
                    occurred_at: Some(at(13, 11)),
                }),
            );
            s.run(
                actor(),
                Action::Close(CloseComplaint {
                    remedy: Remedy::default(),
                    learning: vec![
                        LearningEntry::Note("Chase repeat repairs".into()),
                        LearningEntry::Action(LearningAction {
                            learning: "Call residents without heating daily".into(),
                            theme: "communication".into(),
                            owner: "Contact centre lead".into(),
                            due_on: day(31),
                        }),
                    ],
                    occurred_at: Some(at(14, 10)),
                    open_actions_reason: Some("The contractor comes on 20 March".into()),
                }),
            );
            s.run(
                reviewer(),
                Action::CompleteLearning(CompleteLearning {
                    learning_id: "learn-1".into(),
                    what_changed: "Parts list agreed with the contractor".into(),
                    occurred_at: Some(at(17, 10)),
                }),
            );
            s
        }

        #[test]
        fn a_report_record_gives_the_case_its_full_view_gives() {
            use crate::reports::{ReportCase, ReportRecord};
            let s = story();
            let (record, items) = CaseRecord::fold("case", &s.events).unwrap();
            let stored = serde_json::to_string(&record).unwrap();
            let lean: ReportRecord = serde_json::from_str(&stored).unwrap();
            assert!(lean.usable("case"));
            assert!(!lean.usable("another case"));
            let lean = lean.case();
            // On several days: nothing the reports read depends on the day.
            for today in [day(14), day(24), day(31)] {
                let full = record.view(&Calendar::builtin(), today, Vec::new());
                assert_eq!(lean, ReportCase::from(&full), "{today}");
            }
            // The story sets what the report record copies and counts, so the comparison
            // means something.
            let full = record.view(
                &Calendar::builtin(),
                day(24),
                items.into_iter().map(|(_, i)| i),
            );
            assert_eq!(ReportCase::from(&full), lean);
            assert_eq!(lean.status, Status::Closed);
            assert!(lean.acknowledged_on.is_some());
            assert_eq!(lean.stage1_response.as_ref().unwrap().remedy.actions, 2);
            assert!(lean.closure.is_some());
            assert!(!lean.learning.is_empty());
        }

        #[test]
        fn the_view_shows_the_current_definition_of_each_stage() {
            let view = story().view(day(24));
            let stage1 = view.definitions.stage1.unwrap();
            assert_eq!(
                stage1.definition,
                "The boiler keeps failing; no hot water for ten days"
            );
            assert_eq!(stage1.outcomes_sought, ["A new boiler", "Compensation"]);
            assert_eq!(stage1.on, day(7));
            assert_eq!(view.definitions.stage2, None);
            // Before the restatement, the one given when logging.
            let logged = Story::new().view(day(3));
            assert_eq!(
                logged.definitions.stage1.unwrap().definition,
                "The boiler keeps failing"
            );
        }

        #[test]
        fn representatives_are_listed_active_and_ended_with_who_ended_them_and_why() {
            let view = story().view(day(24));
            let ids: Vec<_> = view
                .representatives
                .iter()
                .map(|r| (r.representative_id.as_str(), r.active))
                .collect();
            assert_eq!(ids, [("rep-1", true), ("rep-2", false)]);
            assert_eq!(
                view.representatives[1].ended,
                Some(EndingView {
                    reason: "The resident withdrew consent".into(),
                    at: at(6, 9),
                    by: reviewer(),
                })
            );
            let active: Vec<_> = view.active_representatives().map(|r| &r.name).collect();
            assert_eq!(active, ["Lee"]);
            assert_eq!(
                view.representatives[0].correspondence_to,
                CorrespondenceTo::Both
            );
        }

        #[test]
        fn a_promised_update_shows_as_the_next_due_and_a_resident_update_deadline() {
            let mut s = story();
            s.events.truncate(10); // up to the second update, on Mon 10 March
            let view = s.view(day(13));
            assert_eq!(view.updates.len(), 2);
            assert_eq!(view.updates[1].summary, "Parts ordered");
            assert_eq!(view.next_update_due, Some(day(14)));
            let deadline = &view.deadlines["resident_update"];
            // Tue 11, Wed 12, Thu 13, Fri 14: four working days from the 10th.
            assert_eq!(deadline.starts_on, day(10));
            assert_eq!(deadline.working_days, 4);
            assert_eq!(deadline.due, day(14));
            assert_eq!(deadline.state, DeadlineState::DueSoon);
            assert_eq!(
                s.view(day(17)).deadlines["resident_update"].state,
                DeadlineState::Breached
            );
        }

        #[test]
        fn a_case_closed_before_the_promised_date_passed_shows_no_update_due() {
            let view = story().view(day(24));
            assert_eq!(view.next_update_due, None);
            assert!(!view.deadlines.contains_key("resident_update"));
        }

        #[test]
        fn actions_show_their_owner_due_date_and_state_on_the_day() {
            let view = story().view(day(24));
            let states: Vec<_> = view
                .actions
                .iter()
                .map(|a| (a.action_id.as_str(), a.source, a.owner.as_deref(), a.state))
                .collect();
            assert_eq!(
                states,
                [
                    (
                        "s1-a1",
                        ActionSource::Remedy,
                        Some("Heating contractor"),
                        ActionState::Overdue
                    ),
                    (
                        "s1-a2",
                        ActionSource::Remedy,
                        Some("Finance"),
                        ActionState::Done
                    ),
                    ("s1-a3", ActionSource::Outstanding, None, ActionState::Open),
                ]
            );
            assert_eq!(
                view.actions[1].completed.as_ref().unwrap().text,
                "Payment 8812"
            );
            // Before its due date the contractor's action is only open.
            assert_eq!(story().view(day(20)).actions[0].state, ActionState::Open);
        }

        #[test]
        fn the_closure_shows_which_actions_were_open_and_why() {
            let closure = story().view(day(24)).closure.unwrap();
            assert_eq!(closure.open_actions, ["s1-a1", "s1-a3"]);
            assert_eq!(
                closure.open_actions_reason.as_deref(),
                Some("The contractor comes on 20 March")
            );
            assert_eq!(closure.learning, ["Chase repeat repairs"]);
        }

        #[test]
        fn learning_is_listed_and_its_rows_filter_by_status_and_theme() {
            let view = story().view(day(24));
            let learning: Vec<_> = view
                .learning
                .iter()
                .map(|l| (l.learning_id.as_str(), l.theme.as_str(), l.status))
                .collect();
            assert_eq!(
                learning,
                [
                    ("learn-1", "repairs", LearningStatus::Done),
                    ("learn-2", "communication", LearningStatus::Open),
                ]
            );
            assert_eq!(
                view.learning[0].completed.as_ref().unwrap().text,
                "Parts list agreed with the contractor"
            );
            let rows = view.learning_rows();
            let pick = |status, theme| -> Vec<String> {
                rows.iter()
                    .filter(|r| r.matches(status, theme))
                    .map(|r| r.learning.learning_id.clone())
                    .collect()
            };
            assert_eq!(pick(Some(LearningStatus::Open), None), ["learn-2"]);
            assert_eq!(pick(None, Some("REPAIRS")), ["learn-1"]);
            assert_eq!(
                pick(Some(LearningStatus::Open), Some("repairs")),
                Vec::<String>::new()
            );
            assert_eq!(pick(None, None).len(), 2);
            // A row names its case and carries the learning's own fields beside it.
            let json = serde_json::to_value(&rows[1]).unwrap();
            assert_eq!(json["case_id"], "case");
            assert_eq!(json["reference"], "CF-2025-000007");
            assert_eq!(json["status"], "open");
        }

        #[test]
        fn a_story_folded_bit_by_bit_gives_the_view_of_a_fold_of_everything() {
            let s = story();
            let calendar = Calendar::builtin();
            let whole = s.view(day(24));
            let mut record = CaseRecord::start("case", &s.events[0]).unwrap();
            let mut items = Vec::new();
            for (i, event) in s.events.iter().enumerate().skip(1) {
                items.extend(record.apply(event));
                if i % 4 == 0 {
                    let text = serde_json::to_string(&record).unwrap();
                    record = serde_json::from_str(&text).unwrap();
                }
            }
            // The bounded lists ride in the record itself; only notes and the like do not.
            assert!(!record.view.representatives.is_empty());
            assert!(!record.view.actions.is_empty());
            assert!(!record.view.learning.is_empty());
            assert_eq!(record.view(&calendar, day(24), items), whole);
        }

        fn adjustments() -> ResidentView {
            let resident_services = ResidentServices::from(&services());
            let command = ResidentCommand {
                actor: actor(),
                action: ResidentAction::SetAdjustments(SetAdjustments {
                    needs: vec!["Hearing loss".into()],
                    adjustments: vec![AgreedAdjustment {
                        need: "Hearing loss".into(),
                        adjustment: "Email, not phone".into(),
                        agreed_on: day(4),
                    }],
                    review_due: Some(day(31) + chrono::Days::new(180)),
                    occurred_at: Some(at(4, 12)),
                }),
            };
            let events = Resident::default()
                .decide(command, &resident_services)
                .unwrap();
            ResidentView::build("T-77", &events)
        }

        #[test]
        fn a_residents_adjustments_ride_on_the_case_view_and_never_on_the_queue_row() {
            let view = story().view(day(24)).with_adjustments(Some(adjustments()));
            let json = serde_json::to_value(&view).unwrap();
            assert_eq!(json["adjustments"]["needs"][0], "Hearing loss");
            assert_eq!(
                json["adjustments"]["adjustments"][0]["agreed_by"]["id"],
                "u1"
            );
            let row = serde_json::to_string(&view.summary()).unwrap();
            assert!(!row.contains("Hearing loss"), "{row}");
            assert!(!row.contains("adjustments"), "{row}");
        }

        #[test]
        fn a_case_record_never_stores_the_residents_adjustments() {
            let s = story();
            let mut record = CaseRecord::start("case", &s.events[0]).unwrap();
            for event in &s.events[1..] {
                record.apply(event);
            }
            let stored = serde_json::to_string(&record).unwrap();
            assert!(!stored.contains("Hearing loss"));
            assert_eq!(record.view.adjustments, None);
        }

        #[test]
        fn a_resident_view_folds_each_change_and_starts_empty() {
            let empty = ResidentView::build("T-77", &[]);
            assert_eq!(empty.version, 0);
            assert!(empty.needs.is_empty());
            assert_eq!(empty.updated_by, None);
            let view = adjustments();
            assert_eq!(view.version, 1);
            assert_eq!(view.updated_at, Some(at(4, 12)));
            assert_eq!(
                view.review_due,
                Some(NaiveDate::from_ymd_opt(2025, 9, 27).unwrap())
            );
            assert!(!view.review_is_due(day(31)));
            assert!(view.review_is_due(NaiveDate::from_ymd_opt(2025, 9, 27).unwrap()));
        }

        #[test]
        fn the_view_keeps_every_field_it_had_and_adds_the_new_ones() {
            let json = serde_json::to_value(story().view(day(24))).unwrap();
            let keys: Vec<&str> = json
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            for key in [
                "id",
                "reference",
                "version",
                "procedure",
                "division",
                "calendar_version",
                "received_on",
                "issue_arose_on",
                "channel",
                "complainant",
                "summary",
                "description",
                "status",
                "stage",
                "owner",
                "acknowledged_on",
                "escalated_on",
                "stage2_acknowledged_on",
                "deadlocked_on",
                "referral",
                "refusal",
                "withdrawal",
                "theme",
                "root_cause",
                "deadlines",
                "stage1_response",
                "stage2_response",
                "closure",
                "extensions",
                "links",
                "evidence",
                "notes",
                "correspondence",
                "logged_at",
                "updated_at",
                "definitions",
                "representatives",
                "updates",
                "next_update_due",
                "actions",
                "learning",
                "adjustments",
            ] {
                assert!(keys.contains(&key), "no `{key}` in {keys:?}");
            }
        }
    }
}
