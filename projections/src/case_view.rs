//! The case as staff see it: where it stands, who owns it, every live deadline with its SLA
//! state, the responses, links, evidence and correspondence.

use std::collections::BTreeMap;

use casefile_domain::aggregate::{Complaint, Status};
use casefile_domain::calendar::{Calendar, Division};
use casefile_domain::deadline::{deadlines, DeadlineState};
use casefile_domain::procedure::Scheme;
use casefile_domain::values::{
    Actor, Channel, Complainant, Direction, LinkKind, RefusalReason, Remedy, Stage, StageResponse,
};
use casefile_domain::ComplaintEvent;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::recorded::RecordedEvent;

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
    pub text: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClosureView {
    pub on: NaiveDate,
    pub by: Actor,
    pub remedy: Remedy,
    pub learning: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReferralView {
    pub scheme: Scheme,
    pub reference: String,
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
        let (first, rest) = events.split_first()?;
        let mut record = CaseRecord::start(id, first)?;
        for recorded in rest {
            record.apply(recorded);
        }
        Some(record.view(calendar, today))
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
        })
    }

    /// Copies what the aggregate's state decides and computes the deadlines for `today`.
    fn settle(&mut self, state: &Complaint, calendar: &Calendar, today: NaiveDate) {
        self.status = state.status;
        self.stage = state.stage();
        self.owner = state.owner.clone();
        self.acknowledged_on = state.acknowledged_on;
        self.escalated_on = state.escalated_on;
        self.stage2_acknowledged_on = state.stage2_acknowledged_on;
        self.deadlocked_on = state.deadlocked_on;
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
                ..
            } => self.evidence.push(EvidenceView {
                evidence_id,
                name,
                media_type,
                size_bytes,
                sha256,
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
            }),
            E::Stage1Responded { response, .. } => {
                self.stage1_response = Some(ResponseView { on, by, response })
            }
            E::Stage2Responded { response, .. } => {
                self.stage2_response = Some(ResponseView { on, by, response })
            }
            E::Closed {
                remedy, learning, ..
            } => {
                self.closure = Some(ClosureView {
                    on,
                    by,
                    remedy,
                    learning,
                })
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
            | E::Defined { .. }
            | E::RepresentativeAdded { .. }
            | E::RepresentativeEnded { .. }
            | E::UpdateRecorded { .. }
            | E::ActionTracked { .. }
            | E::ActionAssigned { .. }
            | E::ActionCompleted { .. }
            | E::LearningRecorded { .. }
            | E::LearningCompleted { .. } => {}
        }
    }
}

/// The nearest unmet deadline of a case.
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
    pub status: Status,
    pub stage: Stage,
    pub owner: Option<Actor>,
    pub received_on: NaiveDate,
    pub complainant: String,
    pub summary: String,
    pub theme: Option<String>,
    pub next_due: Option<NextDue>,
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

impl CaseView {
    pub fn summary(&self) -> CaseSummary {
        let next_due = self
            .deadlines
            .iter()
            .filter(|(_, d)| d.met_on.is_none())
            .min_by_key(|(_, d)| d.due)
            .map(|(step, d)| NextDue {
                step: step.clone(),
                due: d.due,
                state: d.state,
            });
        CaseSummary {
            id: self.id.clone(),
            reference: self.reference.clone(),
            version: self.version,
            procedure: self.procedure.id.clone(),
            division: self.division,
            status: self.status,
            stage: self.stage,
            owner: self.owner.clone(),
            received_on: self.received_on,
            complainant: self.complainant.name.clone(),
            summary: self.summary.clone(),
            theme: self.theme.clone(),
            next_due,
            updated_at: self.updated_at,
        }
    }
}

/// A case folded up to some event: the view's lists and texts plus the aggregate's state,
/// from which the deadlines of any day follow. Stored, it lets a read apply only the events
/// recorded since, so long cases read as fast as short ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Bumped whenever the stored shape changes; a record of another format is refolded.
    pub format: u32,
    pub view: CaseView,
    pub state: Complaint,
}

impl CaseRecord {
    pub const FORMAT: u32 = 1;

    /// The record after the case's first event, which must be `Logged`.
    pub fn start(id: &str, first: &RecordedEvent) -> Option<Self> {
        let view = CaseView::start(id, first)?;
        Some(Self {
            format: Self::FORMAT,
            view,
            state: Complaint::replay([first.event.clone()]),
        })
    }

    /// The sequence of the last event folded in.
    pub fn version(&self) -> u64 {
        self.view.version
    }

    /// Folds in the next event; an event already folded in changes nothing.
    pub fn apply(&mut self, recorded: &RecordedEvent) {
        if recorded.sequence <= self.version() {
            return;
        }
        self.view.record(recorded);
        cqrs_es::Aggregate::apply(&mut self.state, recorded.event.clone());
    }

    /// The case as it stands on `today`.
    pub fn view(&self, calendar: &Calendar, today: NaiveDate) -> CaseView {
        let mut view = self.view.clone();
        view.settle(&self.state, calendar, today);
        view
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
                calendar_version: "builtin-1".into(),
                received_on: NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
                issue_arose_on: None,
                channel: Channel::Email,
                complainant: Complainant {
                    name: "Alex".into(),
                    email: None,
                    phone: None,
                    address: None,
                    resident_id: None,
                },
                summary: "Boiler".into(),
                description: String::new(),
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
        for event in &events[1..3] {
            record.apply(event);
        }
        // Stored and read back, as between two requests.
        let text = serde_json::to_string(&record).unwrap();
        let mut record: CaseRecord = serde_json::from_str(&text).unwrap();
        record.apply(&events[3]);
        assert_eq!(record.view(&calendar, today), whole);
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
            record.apply(event);
        }
        assert_eq!(record, once);
    }
}
