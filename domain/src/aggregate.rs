//! The `Complaint` aggregate: `handle` checks every rule of the case's procedure and decides
//! the events; `apply` only records what they say.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::alert::{watchdog_actor, AlertResolution, AlertState, RaisedAlert, WATCHDOG_ACTOR_ID};
use crate::calendar::{Calendar, Division};
use crate::command::{
    Action, AttachEvidence, Automate, ComplaintCommand, LearningAction, LearningEntry, NoteKind,
    RaiseSlaAlert, RespondToStage,
};
use crate::deadline::{deadlines, DeadlineStep};
use crate::error::ComplaintError;
use crate::event::ComplaintEvent;
use crate::procedure::{Procedure, ProcedureRegistry, Scheme, Step};
use crate::uk_date;
use crate::values::{
    ActionSource, Actor, Channel, CorrespondenceTo, Stage, StageResponse, Tenure, MAX_RESIDENT_ID,
};

/// Longest summary, in characters; longer text belongs in the description.
const MAX_SUMMARY: usize = 500;
/// Longest free text of any other field, in characters.
const MAX_TEXT: usize = 50_000;
/// Longest letter body (HTML or text), in characters.
const MAX_LETTER: usize = 500_000;
/// Furthest ahead, in days, the next update to the resident may be agreed: beyond a year
/// it is no commitment to keep them informed.
pub const MAX_UPDATE_INTERVAL_DAYS: u64 = 366;
/// Longest single extension, in working days (a year): even an uncapped procedure means
/// weeks, and the bound keeps date arithmetic far from the calendar's ends.
pub const MAX_EXTENSION: u32 = 260;

/// Where "now" comes from, so tests and imports can fix it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What `handle` may consult besides the case itself.
#[derive(Debug, Clone)]
pub struct ComplaintServices {
    pub procedures: Arc<ProcedureRegistry>,
    pub calendar: Arc<Calendar>,
    pub clock: Arc<dyn Clock>,
    /// The division of a complaint logged without one: the organisation's own.
    pub default_division: Division,
}

impl ComplaintServices {
    pub fn new(procedures: ProcedureRegistry, calendar: Calendar) -> Self {
        Self {
            procedures: Arc::new(procedures),
            calendar: Arc::new(calendar),
            clock: Arc::new(SystemClock),
            default_division: Division::EnglandAndWales,
        }
    }
}

/// Whether the case is still being handled in-house.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Open,
    Closed,
    Withdrawn,
    Refused,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Withdrawn => "withdrawn",
            Self::Refused => "refused",
        })
    }
}

/// The facts fixed when the complaint is logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFacts {
    pub reference: String,
    pub procedure: Procedure,
    pub division: Division,
    pub calendar_version: String,
    pub received_on: NaiveDate,
    pub issue_arose_on: Option<NaiveDate>,
}

/// A stage response: when and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responded {
    pub on: NaiveDate,
    pub by: String,
}

/// Working days of extension granted so far, per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extended {
    pub stage1: u32,
    pub stage2: u32,
}

impl Extended {
    pub fn for_stage(&self, stage: Stage) -> u32 {
        match stage {
            Stage::Stage1 => self.stage1,
            Stage::Stage2 => self.stage2,
        }
    }
}

/// A day for each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDays {
    pub stage1: Option<NaiveDate>,
    pub stage2: Option<NaiveDate>,
}

impl StageDays {
    pub fn for_stage(&self, stage: Stage) -> Option<NaiveDate> {
        match stage {
            Stage::Stage1 => self.stage1,
            Stage::Stage2 => self.stage2,
        }
    }

    fn set(&mut self, stage: Stage, day: NaiveDate) {
        match stage {
            Stage::Stage1 => self.stage1 = Some(day),
            Stage::Stage2 => self.stage2 = Some(day),
        }
    }
}

/// The date agreed for the next update to the resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateCommitment {
    /// The day of the update that agreed it.
    pub set_on: NaiveDate,
    pub due: NaiveDate,
    /// The day the next update was given.
    pub met_on: Option<NaiveDate>,
}

/// An action of a stage response, followed until done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedAction {
    pub id: String,
    pub done: bool,
}

/// When an automation rule acknowledged, escalated or deadlocked the case. A person's entry
/// of the same act, backdated to before the automatic one, is still taken: it is what
/// really happened, and the earlier date then stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomaticActs {
    pub acknowledged: Option<DateTime<Utc>>,
    pub escalated: Option<DateTime<Utc>>,
    pub deadlocked: Option<DateTime<Utc>>,
}

/// Whether a person's entry at `at` comes before an automatic act at `automatic`.
fn before_automatic(at: DateTime<Utc>, automatic: Option<DateTime<Utc>>) -> bool {
    automatic.is_some_and(|automatic| at < automatic)
}

/// The state the rules read. Dates are UK civil dates. Fields added after the first
/// release default when absent, so stored snapshots of older cases still load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    pub facts: Option<CaseFacts>,
    pub status: Status,
    pub last_occurred_at: Option<DateTime<Utc>>,
    pub owner: Option<Actor>,
    pub acknowledged_on: Option<NaiveDate>,
    pub stage1: Option<Responded>,
    pub escalated_on: Option<NaiveDate>,
    pub stage2_acknowledged_on: Option<NaiveDate>,
    pub stage2: Option<Responded>,
    pub extended: Extended,
    pub deadlocked_on: Option<NaiveDate>,
    pub referred_to: Option<Scheme>,
    /// Whether the scheme's reference for the referral is on record.
    #[serde(default)]
    pub referral_reference_known: bool,
    /// When the case last left `open` (closed, withdrawn or refused).
    pub ended_on: Option<NaiveDate>,
    pub evidence_count: u32,
    /// The tenure of the home; `None` until recorded.
    #[serde(default)]
    pub tenure: Option<Tenure>,
    /// The day each stage's definition of the complaint was last recorded.
    #[serde(default)]
    pub defined_on: StageDays,
    /// Each representative's id and whether they still act for the resident.
    #[serde(default)]
    pub representatives: BTreeMap<String, bool>,
    /// The latest agreed date for an update to the resident.
    #[serde(default)]
    pub resident_update: Option<UpdateCommitment>,
    /// Tracked actions, in the order the responses gave them.
    #[serde(default)]
    pub actions: Vec<TrackedAction>,
    /// Each learning action's id and whether it is done.
    #[serde(default)]
    pub learning: BTreeMap<String, bool>,
    /// Every SLA alert raised on the case, in order, and whether it is still open.
    #[serde(default)]
    pub alerts: Vec<RaisedAlert>,
    /// The acts on record that an automation rule did.
    #[serde(default)]
    pub automatic: AutomaticActs,
}

impl Aggregate for Complaint {
    const TYPE: &'static str = "Complaint";
    type Command = ComplaintCommand;
    type Event = ComplaintEvent;
    type Error = ComplaintError;
    type Services = ComplaintServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = self.decide(command, services)?;
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use ComplaintEvent::*;
        let day = uk_date(event.occurred_at());
        // Automatic events are stamped when the service notices something; staff entries
        // backdated to before them must still be accepted.
        let automatic = event.is_automatic().then(|| event.occurred_at());
        if automatic.is_none() {
            self.last_occurred_at = Some(event.occurred_at());
        }
        match event {
            Logged {
                reference,
                procedure,
                division,
                calendar_version,
                received_on,
                issue_arose_on,
                tenure,
                ..
            } => {
                self.tenure = tenure;
                self.facts = Some(CaseFacts {
                    reference,
                    procedure,
                    division,
                    calendar_version,
                    received_on,
                    issue_arose_on,
                })
            }
            Acknowledged { .. } => {
                self.acknowledged_on = Some(day);
                self.automatic.acknowledged = automatic;
            }
            Defined { stage, .. } => self.defined_on.set(stage, day),
            RepresentativeAdded {
                representative_id, ..
            } => {
                self.representatives.insert(representative_id, true);
            }
            RepresentativeEnded {
                representative_id, ..
            } => {
                self.representatives.insert(representative_id, false);
            }
            UpdateRecorded {
                next_update_due, ..
            } => {
                // Any update keeps an earlier promise of one; a new date makes a new promise.
                if let Some(commitment) = &mut self.resident_update {
                    commitment.met_on.get_or_insert(day);
                }
                if let Some(due) = next_update_due {
                    self.resident_update = Some(UpdateCommitment {
                        set_on: day,
                        due,
                        met_on: None,
                    });
                }
            }
            ActionTracked { action_id, .. } => self.actions.push(TrackedAction {
                id: action_id,
                done: false,
            }),
            LearningRecorded { learning_id, .. } => {
                self.learning.insert(learning_id, false);
            }
            LearningCompleted { learning_id, .. } => {
                self.learning.insert(learning_id, true);
            }
            ActionCompleted { action_id, .. } => {
                if let Some(action) = self.actions.iter_mut().find(|a| a.id == action_id) {
                    action.done = true;
                }
            }
            OwnerAssigned { owner, .. } => self.owner = Some(owner),
            EvidenceAttached { .. } => self.evidence_count += 1,
            DeadlineExtended {
                stage,
                working_days,
                ..
            } => match stage {
                Stage::Stage1 => self.extended.stage1 += working_days,
                Stage::Stage2 => self.extended.stage2 += working_days,
            },
            Stage1Responded { by, .. } => self.stage1 = Some(Responded { on: day, by: by.id }),
            Escalated { .. } => {
                self.escalated_on = Some(day);
                self.automatic.escalated = automatic;
            }
            Stage2Acknowledged { .. } => self.stage2_acknowledged_on = Some(day),
            Stage2Responded { by, .. } => self.stage2 = Some(Responded { on: day, by: by.id }),
            Closed { .. } => self.end(Status::Closed, day),
            Withdrawn { .. } => self.end(Status::Withdrawn, day),
            Refused { .. } => self.end(Status::Refused, day),
            Deadlocked { .. } => {
                self.deadlocked_on = Some(day);
                self.automatic.deadlocked = automatic;
            }
            ReferredToRedress {
                scheme, reference, ..
            } => {
                self.referred_to = Some(scheme);
                self.referral_reference_known = reference.is_some();
            }
            ReferralReferenceRecorded { .. } => self.referral_reference_known = true,
            TenureRecorded { tenure, .. } => self.tenure = Some(tenure),
            SlaAlertRaised {
                step, state, due, ..
            } => self.alerts.push(RaisedAlert {
                step,
                state,
                due,
                open: true,
            }),
            SlaAlertResolved {
                step, state, due, ..
            } => {
                if let Some(alert) = self.alerts.iter_mut().find(|a| a.is(step, state, due)) {
                    alert.open = false;
                }
            }
            Reopened { .. } => {
                self.status = Status::Open;
                self.ended_on = None;
            }
            NoteRecorded { .. }
            | CorrespondenceRecorded { .. }
            | LinkedCaseAdded { .. }
            | LetterIssued { .. }
            | Categorised { .. }
            | ActionAssigned { .. } => {}
        }
    }
}

impl Complaint {
    /// The state after `events`, in order: what loading the case from the store gives.
    pub fn replay(events: impl IntoIterator<Item = ComplaintEvent>) -> Self {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }

    fn end(&mut self, status: Status, day: NaiveDate) {
        self.status = status;
        self.ended_on = Some(day);
    }

    /// The facts of a logged case.
    pub fn facts(&self) -> Result<&CaseFacts, ComplaintError> {
        self.facts.as_ref().ok_or(ComplaintError::NotLogged)
    }

    /// The stage the case is in: Stage 2 from the escalation on.
    pub fn stage(&self) -> Stage {
        if self.escalated_on.is_some() {
            Stage::Stage2
        } else {
            Stage::Stage1
        }
    }

    /// The stage the case was in at `at`: an automatic escalation after `at` had not yet
    /// happened, so a backdated entry is judged in Stage 1.
    pub fn stage_at(&self, at: DateTime<Utc>) -> Stage {
        if before_automatic(at, self.automatic.escalated) {
            Stage::Stage1
        } else {
            self.stage()
        }
    }

    pub fn responded(&self, stage: Stage) -> Option<&Responded> {
        match stage {
            Stage::Stage1 => self.stage1.as_ref(),
            Stage::Stage2 => self.stage2.as_ref(),
        }
    }

    /// The in-house procedure is over: its final stage answered, deadlocked, or refused.
    pub fn exhausted(&self) -> bool {
        self.facts.as_ref().is_some_and(|facts| {
            self.responded(facts.procedure.final_stage()).is_some()
                || self.deadlocked_on.is_some()
                || self.status == Status::Refused
        })
    }

    /// Decides the events a command produces, or the rule it breaks. Pure: it reads the
    /// clock from `services` and changes nothing. A staff entry that shows an alerted step
    /// met (or no longer due) is followed by the event resolving that alert.
    pub fn decide(
        &self,
        command: ComplaintCommand,
        services: &ComplaintServices,
    ) -> Result<Vec<ComplaintEvent>, ComplaintError> {
        if let Action::RaiseSlaAlert(raise) = command.action {
            return self.raise_alert(raise, &command.actor, services);
        }
        let events = match command.action {
            Action::Automate(automate) => self.automate(automate, command.actor, services)?,
            _ => self.decide_entry(command, services)?,
        };
        let resolved = self.resolutions(&events, services);
        Ok(events.into_iter().chain(resolved).collect())
    }

    /// An alert for a step of an open case that is, today, unmet in the state alerted, and
    /// was never alerted in that state for that due date before.
    fn raise_alert(
        &self,
        raise: RaiseSlaAlert,
        by: &Actor,
        services: &ComplaintServices,
    ) -> Result<Vec<ComplaintEvent>, ComplaintError> {
        if by.id != WATCHDOG_ACTOR_ID {
            return Err(ComplaintError::AutomaticOnly);
        }
        self.facts()?;
        self.ensure_open()?;
        let RaiseSlaAlert { step, state, due } = raise;
        if self.alerts.iter().any(|a| a.is(step, state, due)) {
            return Err(ComplaintError::AlertAlreadyRaised {
                step: step.as_str(),
                state: state.as_str(),
                due,
            });
        }
        let now = services.clock.now();
        let today = uk_date(now);
        let live = deadlines(self, &services.calendar, today)
            .into_iter()
            .any(|deadline| {
                deadline.step == step
                    && deadline.due == due
                    && deadline.met_on.is_none()
                    && match state {
                        AlertState::Breached => today > due,
                        AlertState::DueSoon => today <= due,
                    }
            });
        if !live {
            return Err(ComplaintError::AlertNotDue {
                step: step.as_str(),
                state: state.as_str(),
                due,
            });
        }
        Ok(vec![ComplaintEvent::SlaAlertRaised {
            occurred_at: now,
            by: by.clone(),
            step,
            state,
            due,
        }])
    }

    /// What an automation rule of the case's own procedure copy does now, by the rule's
    /// actor; `AutomationNotDue` when the rule is off or its moment has not come (or has
    /// passed: a rule acts once, so a second instance trying it again is refused).
    fn automate(
        &self,
        automate: Automate,
        by: Actor,
        services: &ComplaintServices,
    ) -> Result<Vec<ComplaintEvent>, ComplaintError> {
        use ComplaintEvent as E;
        let rule = automate.rule();
        if by.id != rule.actor().id {
            return Err(ComplaintError::AutomaticOnly);
        }
        let facts = self.facts()?;
        self.ensure_open()?;
        let procedure = &facts.procedure;
        let automation = &procedure.automation;
        let occurred_at = services.clock.now();
        let today = uk_date(occurred_at);
        let not_due = || ComplaintError::AutomationNotDue {
            rule: rule.as_str(),
        };
        let event = match automate {
            Automate::Acknowledge => {
                if !automation.acknowledge_on_logging || self.acknowledged_on.is_some() {
                    return Err(not_due());
                }
                E::Acknowledged {
                    occurred_at,
                    by,
                    text: None,
                }
            }
            Automate::Escalate => {
                if !automation.escalate_breached_stage1
                    || procedure.stages < 2
                    || self.escalated_on.is_some()
                    || self.stage1.is_some()
                {
                    return Err(not_due());
                }
                let breached = deadlines(self, &services.calendar, today)
                    .into_iter()
                    .find(|d| d.step == DeadlineStep::Procedure(Step::Stage1Response))
                    .filter(|d| d.met_on.is_none() && today > d.due)
                    .ok_or_else(not_due)?;
                E::Escalated {
                    occurred_at,
                    by,
                    reason: format!(
                        "The Stage 1 response was due on {} and has not been sent: escalated \
                         automatically under the procedure's escalate_breached_stage1 rule.",
                        breached.due
                    ),
                }
            }
            Automate::Deadlock => {
                let weeks = procedure
                    .deadlock
                    .as_ref()
                    .and_then(|rule| rule.after_weeks)
                    .filter(|_| automation.deadlock_after_limit)
                    .ok_or_else(not_due)?;
                let eligible_on = facts.received_on + chrono::Days::new(u64::from(weeks) * 7);
                // Unresolved: no deadlock yet, and the stage the case is in not answered.
                if self.deadlocked_on.is_some()
                    || self.responded(self.stage()).is_some()
                    || today < eligible_on
                {
                    return Err(not_due());
                }
                E::Deadlocked {
                    occurred_at,
                    by,
                    on_request: false,
                    reason: format!(
                        "Unresolved {weeks} weeks after receipt on {}: deadlocked \
                         automatically under the procedure's deadlock rule.",
                        facts.received_on
                    ),
                }
            }
            Automate::Assign { owner } => {
                if automation.assign.is_none() || self.owner.is_some() {
                    return Err(not_due());
                }
                text("owner_id", &owner.id, 200)?;
                E::OwnerAssigned {
                    occurred_at,
                    by,
                    owner,
                    previous: None,
                }
            }
        };
        Ok(vec![event])
    }

    /// The events resolving each open alert that `events` show met or no longer due.
    fn resolutions(
        &self,
        events: &[ComplaintEvent],
        services: &ComplaintServices,
    ) -> Vec<ComplaintEvent> {
        if !self.alerts.iter().any(|alert| alert.open) {
            return Vec::new();
        }
        let mut after = self.clone();
        for event in events {
            after.apply(event.clone());
        }
        let now = services.clock.now();
        let live = deadlines(&after, &services.calendar, uk_date(now));
        self.alerts
            .iter()
            .filter(|alert| alert.open)
            .filter_map(|alert| {
                let reason = match live.iter().find(|d| d.step == alert.step) {
                    None => AlertResolution::NoLongerDue,
                    Some(d) => match d.met_on {
                        Some(on) if on <= alert.due => AlertResolution::Met,
                        Some(_) => AlertResolution::MetLate,
                        None if d.due != alert.due => AlertResolution::NoLongerDue,
                        None if after.status != Status::Open => AlertResolution::CaseEnded,
                        None => return None,
                    },
                };
                Some(ComplaintEvent::SlaAlertResolved {
                    occurred_at: now,
                    by: watchdog_actor(),
                    step: alert.step,
                    state: alert.state,
                    due: alert.due,
                    reason,
                })
            })
            .collect()
    }

    fn decide_entry(
        &self,
        command: ComplaintCommand,
        services: &ComplaintServices,
    ) -> Result<Vec<ComplaintEvent>, ComplaintError> {
        use ComplaintEvent as E;
        let now = services.clock.now();
        let ComplaintCommand { actor: by, action } = command;

        if let Action::Log {
            reference,
            complaint,
        } = action
        {
            if self.facts.is_some() {
                return Err(ComplaintError::AlreadyLogged);
            }
            let procedure = services
                .procedures
                .get(&complaint.procedure)
                .ok_or_else(|| ComplaintError::UnknownProcedure(complaint.procedure.clone()))?;
            let today = uk_date(now);
            let received_on = complaint.received_on.unwrap_or(today);
            let division = complaint.division.unwrap_or(services.default_division);
            if received_on > today {
                return Err(ComplaintError::ReceivedInFuture { received_on, today });
            }
            let mut complainant = complaint.complainant;
            if let Some(postcode) = &complainant.postcode {
                complainant.postcode = Some(
                    normalise_postcode(postcode)
                        .ok_or_else(|| invalid("complainant.postcode", "is not a UK postcode"))?,
                );
            }
            text("complainant.name", &complainant.name, 500)?;
            if complainant
                .resident_id
                .as_ref()
                .is_some_and(|id| id.len() > MAX_RESIDENT_ID)
            {
                return Err(invalid(
                    "complainant.resident_id",
                    &format!("must be at most {MAX_RESIDENT_ID} bytes"),
                ));
            }
            text("summary", &complaint.summary, MAX_SUMMARY)?;
            optional_text("description", &complaint.description, MAX_TEXT)?;
            match &complaint.definition {
                Some(definition) => text("definition", definition, MAX_TEXT)?,
                None if !complaint.outcomes_sought.is_empty() => {
                    return Err(invalid("outcomes_sought", "needs a definition"))
                }
                None => {}
            }
            texts("outcomes_sought", &complaint.outcomes_sought)?;
            if complaint.issue_arose_on.is_some_and(|d| d > received_on) {
                return Err(invalid("issue_arose_on", "must not be after received_on"));
            }
            // A case logged after the day it was received happened, in the real world, on
            // that day: later backdated entries must be able to follow it.
            let occurred_at = match complaint.occurred_at {
                Some(at) => at,
                None if received_on < today => start_of_uk_day(received_on),
                None => now,
            };
            if occurred_at > now {
                return Err(ComplaintError::OccurredInFuture { occurred_at });
            }
            if uk_date(occurred_at) < received_on {
                return Err(ComplaintError::OccurredBeforeReceipt {
                    occurred_at,
                    received_on,
                });
            }
            let mut events = vec![E::Logged {
                occurred_at,
                by: by.clone(),
                reference,
                procedure: procedure.clone(),
                division,
                calendar_version: services.calendar.version(),
                received_on,
                issue_arose_on: complaint.issue_arose_on,
                channel: complaint.channel,
                complainant,
                summary: complaint.summary,
                description: complaint.description,
                tenure: complaint.tenure,
            }];
            // A definition settled at logging is the first Stage 1 definition, recorded as
            // any later restatement is.
            if let Some(definition) = complaint.definition {
                events.push(E::Defined {
                    occurred_at,
                    by,
                    stage: Stage::Stage1,
                    definition,
                    outcomes_sought: complaint.outcomes_sought,
                });
            }
            return Ok(events);
        }

        let facts = self.facts()?;
        let procedure = &facts.procedure;
        let occurred_at = self.occurred_at(action.occurred_at(), now)?;
        let day = uk_date(occurred_at);

        let event = match action {
            Action::Log { .. } => return Err(ComplaintError::AlreadyLogged),
            Action::RaiseSlaAlert(_) | Action::Automate(_) => {
                return Err(ComplaintError::AutomaticOnly)
            }
            Action::Acknowledge(c) => {
                optional_text("text", c.text.as_deref().unwrap_or(""), MAX_TEXT)?;
                self.ensure_open()?;
                if self.acknowledged_on.is_some()
                    && !before_automatic(occurred_at, self.automatic.acknowledged)
                {
                    return Err(ComplaintError::AlreadyAcknowledged);
                }
                E::Acknowledged {
                    occurred_at,
                    by,
                    text: c.text,
                }
            }
            Action::AssignOwner(c) => {
                text("owner_id", &c.owner.id, 200)?;
                E::OwnerAssigned {
                    occurred_at,
                    by,
                    owner: c.owner,
                    previous: self.owner.clone(),
                }
            }
            Action::RecordNote(c) => {
                text("text", &c.text, MAX_TEXT)?;
                match c.kind {
                    NoteKind::Note => E::NoteRecorded {
                        occurred_at,
                        by,
                        text: c.text,
                    },
                    NoteKind::Correspondence => E::CorrespondenceRecorded {
                        occurred_at,
                        by,
                        direction: c.direction.ok_or_else(|| {
                            invalid("direction", "is required for correspondence")
                        })?,
                        channel: c.channel.unwrap_or(Channel::Email),
                        text: c.text,
                    },
                }
            }
            Action::AttachEvidence(c) => {
                c.check()?;
                E::EvidenceAttached {
                    occurred_at,
                    by,
                    evidence_id: format!("ev-{}", self.evidence_count + 1),
                    name: c.name,
                    media_type: c.media_type,
                    size_bytes: c.size_bytes,
                    sha256: c.sha256,
                    description: c.description,
                    stored: c.stored,
                }
            }
            Action::AddLinkedCase(c) => {
                text("reference", &c.reference, 200)?;
                optional_text("note", c.note.as_deref().unwrap_or(""), MAX_TEXT)?;
                E::LinkedCaseAdded {
                    occurred_at,
                    by,
                    kind: c.kind,
                    reference: c.reference,
                    note: c.note,
                }
            }
            Action::Categorise(c) => {
                text("theme", &c.theme, 200)?;
                optional_text("root_cause", c.root_cause.as_deref().unwrap_or(""), 200)?;
                E::Categorised {
                    occurred_at,
                    by,
                    theme: c.theme,
                    root_cause: c.root_cause,
                }
            }
            Action::Define(c) => {
                text("definition", &c.definition, MAX_TEXT)?;
                texts("outcomes_sought", &c.outcomes_sought)?;
                self.ensure_open()?;
                if c.stage == Stage::Stage2 {
                    if procedure.stages < 2 {
                        return Err(ComplaintError::NoStageTwo);
                    }
                    if self.escalated_on.is_none() {
                        return Err(ComplaintError::NotEscalated);
                    }
                }
                E::Defined {
                    occurred_at,
                    by,
                    stage: c.stage,
                    definition: c.definition,
                    outcomes_sought: c.outcomes_sought,
                }
            }
            Action::AddRepresentative(c) => {
                text("name", &c.name, 500)?;
                text("authority.how", &c.authority.how, MAX_TEXT)?;
                optional_text(
                    "contact.email",
                    c.contact.email.as_deref().unwrap_or(""),
                    500,
                )?;
                optional_text(
                    "contact.phone",
                    c.contact.phone.as_deref().unwrap_or(""),
                    100,
                )?;
                optional_text(
                    "contact.address",
                    c.contact.address.as_deref().unwrap_or(""),
                    1000,
                )?;
                if c.authority.given_on > day {
                    return Err(invalid(
                        "authority.given_on",
                        "must not be after the day it is recorded",
                    ));
                }
                if c.correspondence_to != CorrespondenceTo::Resident && c.contact.is_empty() {
                    return Err(invalid(
                        "contact",
                        "is needed when correspondence goes to the representative",
                    ));
                }
                E::RepresentativeAdded {
                    occurred_at,
                    by,
                    representative_id: format!("rep-{}", self.representatives.len() + 1),
                    name: c.name,
                    relationship: c.relationship,
                    contact: c.contact,
                    authority: c.authority,
                    correspondence_to: c.correspondence_to,
                }
            }
            Action::EndRepresentative(c) => {
                text("reason", &c.reason, MAX_TEXT)?;
                match self.representatives.get(&c.representative_id) {
                    None => return Err(ComplaintError::UnknownRepresentative(c.representative_id)),
                    Some(false) => {
                        return Err(ComplaintError::RepresentativeAlreadyEnded(
                            c.representative_id,
                        ))
                    }
                    Some(true) => {}
                }
                E::RepresentativeEnded {
                    occurred_at,
                    by,
                    representative_id: c.representative_id,
                    reason: c.reason,
                }
            }
            Action::RecordUpdate(c) => {
                text("summary", &c.summary, MAX_TEXT)?;
                if let Some(due) = c.next_update_due {
                    if due <= day {
                        return Err(invalid(
                            "next_update_due",
                            "must be after the day of the update",
                        ));
                    }
                    if due > day + chrono::Days::new(MAX_UPDATE_INTERVAL_DAYS) {
                        return Err(invalid(
                            "next_update_due",
                            "must be within a year of the update",
                        ));
                    }
                }
                E::UpdateRecorded {
                    occurred_at,
                    by,
                    channel: c.channel,
                    summary: c.summary,
                    next_update_due: c.next_update_due,
                }
            }
            Action::SetAction(c) => {
                text("owner", &c.owner, 200)?;
                self.ensure_action_open(&c.action_id)?;
                if c.due_on < facts.received_on {
                    return Err(invalid(
                        "due_on",
                        "must not be before the complaint was received",
                    ));
                }
                E::ActionAssigned {
                    occurred_at,
                    by,
                    action_id: c.action_id,
                    owner: c.owner,
                    due_on: c.due_on,
                }
            }
            Action::CompleteAction(c) => {
                text("evidence", &c.evidence, MAX_TEXT)?;
                self.ensure_action_open(&c.action_id)?;
                E::ActionCompleted {
                    occurred_at,
                    by,
                    action_id: c.action_id,
                    evidence: c.evidence,
                }
            }
            Action::RecordLearning(c) => {
                let item = LearningAction {
                    learning: c.learning,
                    theme: c.theme,
                    owner: c.owner,
                    due_on: c.due_on,
                };
                check_learning(&item, &ON_ITS_OWN, facts.received_on)?;
                return Ok(self.learning_recorded(vec![item], occurred_at, &by));
            }
            Action::CompleteLearning(c) => {
                text("what_changed", &c.what_changed, MAX_TEXT)?;
                match self.learning.get(&c.learning_id) {
                    None => return Err(ComplaintError::UnknownLearning(c.learning_id)),
                    Some(true) => {
                        return Err(ComplaintError::LearningAlreadyCompleted(c.learning_id))
                    }
                    Some(false) => {}
                }
                E::LearningCompleted {
                    occurred_at,
                    by,
                    learning_id: c.learning_id,
                    what_changed: c.what_changed,
                }
            }
            Action::ExtendDeadline(c) => {
                if c.working_days == 0 || c.working_days > MAX_EXTENSION {
                    return Err(ComplaintError::InvalidField {
                        field: "working_days",
                        reason: format!("must be between 1 and {MAX_EXTENSION}"),
                    });
                }
                text("reason", &c.reason, MAX_TEXT)?;
                self.ensure_open()?;
                let stage = self.stage_at(occurred_at);
                let step = match stage {
                    Stage::Stage1 => Step::Stage1Response,
                    Stage::Stage2 => Step::Stage2Response,
                };
                if self.responded(stage).is_some() || procedure.step(step).is_none() {
                    return Err(ComplaintError::NothingToExtend);
                }
                let rule = procedure
                    .extensions
                    .for_stage(stage)
                    .ok_or(ComplaintError::ExtensionNotAllowed(stage))?;
                if let Some(cap) = rule.max_working_days {
                    let used = self.extended.for_stage(stage);
                    let remaining = cap.saturating_sub(used);
                    if c.working_days > remaining {
                        return Err(ComplaintError::ExtensionExceedsCap {
                            stage,
                            requested: c.working_days,
                            remaining,
                            cap,
                        });
                    }
                }
                let resident_informed_on = c.resident_informed_on.unwrap_or(day);
                if resident_informed_on < facts.received_on || resident_informed_on > uk_date(now) {
                    return Err(invalid(
                        "resident_informed_on",
                        "must lie between the receipt and today",
                    ));
                }
                E::DeadlineExtended {
                    occurred_at,
                    by,
                    stage,
                    working_days: c.working_days,
                    reason: c.reason,
                    resident_informed_on,
                }
            }
            Action::RespondStage1(c) => {
                let response = stage_response(c)?;
                self.ensure_open()?;
                if self.stage1.is_some() {
                    return Err(ComplaintError::AlreadyResponded(Stage::Stage1));
                }
                if self.acknowledged_on.is_none() {
                    return Err(ComplaintError::NotAcknowledged);
                }
                self.ensure_defined(Stage::Stage1)?;
                let tracked = tracked_actions(Stage::Stage1, &response, occurred_at, &by);
                let responded = E::Stage1Responded {
                    occurred_at,
                    by,
                    response,
                    signposted_to: final_signposting(procedure, Stage::Stage1),
                };
                return Ok([vec![responded], tracked].concat());
            }
            Action::Escalate(c) => {
                text("reason", &c.reason, MAX_TEXT)?;
                self.ensure_open()?;
                if procedure.stages < 2 {
                    return Err(ComplaintError::NoStageTwo);
                }
                if self.escalated_on.is_some()
                    && !before_automatic(occurred_at, self.automatic.escalated)
                {
                    return Err(ComplaintError::AlreadyEscalated);
                }
                if self.stage1.is_none() {
                    return Err(ComplaintError::Stage1NotResponded);
                }
                E::Escalated {
                    occurred_at,
                    by,
                    reason: c.reason,
                }
            }
            Action::AcknowledgeStage2(c) => {
                optional_text("text", c.text.as_deref().unwrap_or(""), MAX_TEXT)?;
                self.ensure_open()?;
                if self.escalated_on.is_none() {
                    return Err(ComplaintError::NotEscalated);
                }
                if self.stage2_acknowledged_on.is_some() {
                    return Err(ComplaintError::AlreadyAcknowledged);
                }
                E::Stage2Acknowledged {
                    occurred_at,
                    by,
                    text: c.text,
                }
            }
            Action::RespondStage2(c) => {
                let response = stage_response(c)?;
                self.ensure_open()?;
                if self.escalated_on.is_none() {
                    return Err(ComplaintError::NotEscalated);
                }
                if self.stage2.is_some() {
                    return Err(ComplaintError::AlreadyResponded(Stage::Stage2));
                }
                if procedure.step(Step::Stage2Acknowledge).is_some()
                    && self.stage2_acknowledged_on.is_none()
                {
                    return Err(ComplaintError::NotAcknowledged);
                }
                if self.stage1.as_ref().is_some_and(|s1| s1.by == by.id) {
                    return Err(ComplaintError::SameReviewer);
                }
                self.ensure_defined(Stage::Stage2)?;
                let tracked = tracked_actions(Stage::Stage2, &response, occurred_at, &by);
                let responded = E::Stage2Responded {
                    occurred_at,
                    by,
                    response,
                    signposted_to: final_signposting(procedure, Stage::Stage2),
                };
                return Ok([vec![responded], tracked].concat());
            }
            Action::Close(c) => {
                texts("remedy.actions", &c.remedy.actions)?;
                let mut notes = Vec::new();
                let mut actions = Vec::new();
                for entry in c.learning {
                    match entry {
                        LearningEntry::Note(note) => {
                            text("learning", &note, MAX_TEXT)?;
                            notes.push(note);
                        }
                        LearningEntry::Action(item) => {
                            check_learning(&item, &AT_CLOSING, facts.received_on)?;
                            actions.push(item);
                        }
                    }
                }
                if let Some(reason) = &c.open_actions_reason {
                    text("open_actions_reason", reason, MAX_TEXT)?;
                }
                self.ensure_open()?;
                if self.responded(self.stage()).is_none() && self.deadlocked_on.is_none() {
                    return Err(ComplaintError::ResponseOutstanding);
                }
                let open: Vec<String> = self
                    .actions
                    .iter()
                    .filter(|action| !action.done)
                    .map(|action| action.id.clone())
                    .collect();
                if !open.is_empty() && c.open_actions_reason.is_none() {
                    return Err(ComplaintError::OpenActions { open });
                }
                let learning = self.learning_recorded(actions, occurred_at, &by);
                let closed = E::Closed {
                    occurred_at,
                    by,
                    remedy: c.remedy,
                    learning: notes,
                    open_actions: open,
                    open_actions_reason: c.open_actions_reason,
                };
                return Ok([vec![closed], learning].concat());
            }
            Action::DeclareDeadlock(c) => {
                text("reason", &c.reason, MAX_TEXT)?;
                self.ensure_open()?;
                let rule = procedure
                    .deadlock
                    .as_ref()
                    .ok_or(ComplaintError::NoDeadlockRule)?;
                if self.deadlocked_on.is_some()
                    && !before_automatic(occurred_at, self.automatic.deadlocked)
                {
                    return Err(ComplaintError::AlreadyDeadlocked);
                }
                if c.on_request {
                    if !rule.on_request {
                        return Err(ComplaintError::DeadlockOnRequestNotAllowed);
                    }
                } else {
                    let weeks = rule.after_weeks.ok_or(ComplaintError::NoDeadlockRule)?;
                    let eligible_on = facts.received_on + chrono::Days::new(u64::from(weeks) * 7);
                    if day < eligible_on {
                        return Err(ComplaintError::DeadlockTooEarly { eligible_on });
                    }
                }
                E::Deadlocked {
                    occurred_at,
                    by,
                    on_request: c.on_request,
                    reason: c.reason,
                }
            }
            Action::ReferToRedress(c) => {
                if let Some(reference) = &c.reference {
                    text("reference", reference, 200)?;
                }
                if self.status == Status::Withdrawn {
                    return Err(ComplaintError::CaseClosed(Status::Withdrawn));
                }
                if self.referred_to.is_some() {
                    return Err(ComplaintError::AlreadyReferred);
                }
                if !procedure.allows_scheme(c.scheme) {
                    return Err(ComplaintError::SchemeNotAllowed(c.scheme));
                }
                if !self.exhausted() {
                    return Err(ComplaintError::ProcedureNotExhausted);
                }
                let final_response = self.responded(procedure.final_stage());
                if let (Some(months), Some(response)) =
                    (procedure.redress.within_months, final_response)
                {
                    let closed_on = response
                        .on
                        .checked_add_months(Months::new(months))
                        .unwrap_or(NaiveDate::MAX);
                    if day > closed_on {
                        return Err(ComplaintError::ReferralWindowExpired { closed_on });
                    }
                }
                E::ReferredToRedress {
                    occurred_at,
                    by,
                    scheme: c.scheme,
                    reference: c.reference,
                }
            }
            Action::RecordReferralReference(c) => {
                text("reference", &c.reference, 200)?;
                if self.referred_to.is_none() {
                    return Err(ComplaintError::NotReferred);
                }
                if self.referral_reference_known {
                    return Err(ComplaintError::ReferralReferenceRecorded);
                }
                E::ReferralReferenceRecorded {
                    occurred_at,
                    by,
                    reference: c.reference,
                }
            }
            Action::Refuse(c) => {
                text("explanation", &c.explanation, MAX_TEXT)?;
                self.ensure_open()?;
                if self.stage1.is_some() {
                    return Err(ComplaintError::AlreadyResponded(Stage::Stage1));
                }
                if c.reason == crate::values::RefusalReason::OlderThanTwelveMonths {
                    let months = procedure.refusal_age_months;
                    let old_enough = facts.issue_arose_on.is_some_and(|arose| {
                        arose
                            .checked_add_months(Months::new(months))
                            .is_some_and(|limit| facts.received_on > limit)
                    });
                    if !old_enough {
                        return Err(ComplaintError::NotOlderThanLimit { months });
                    }
                }
                E::Refused {
                    occurred_at,
                    by,
                    reason: c.reason,
                    explanation: c.explanation,
                    signposted_to: procedure.redress.schemes.clone(),
                }
            }
            Action::Withdraw(c) => {
                text("reason", &c.reason, MAX_TEXT)?;
                self.ensure_open()?;
                E::Withdrawn {
                    occurred_at,
                    by,
                    reason: c.reason,
                }
            }
            Action::SetTenure(c) => {
                // A fact about the home, not a step of the procedure: it may be corrected
                // whatever the case's status.
                if self.tenure == Some(c.tenure) {
                    return Err(ComplaintError::TenureUnchanged(c.tenure));
                }
                E::TenureRecorded {
                    occurred_at,
                    by,
                    tenure: c.tenure,
                    previous: self.tenure,
                }
            }
            Action::IssueLetter(c) => {
                // Rendered by the service, not typed: the limits only keep a broken
                // template from filling the trail.
                text("letter_id", &c.letter_id, 200)?;
                text("subject", &c.subject, 1_000)?;
                text("html", &c.html, MAX_LETTER)?;
                text("text", &c.text, MAX_LETTER)?;
                E::LetterIssued {
                    occurred_at,
                    by,
                    letter_id: c.letter_id,
                    kind: c.kind,
                    subject: c.subject,
                    html: c.html,
                    text: c.text,
                }
            }
            Action::Reopen(c) => {
                text("reason", &c.reason, MAX_TEXT)?;
                if self.status == Status::Open {
                    return Err(ComplaintError::CaseNotClosed);
                }
                E::Reopened {
                    occurred_at,
                    by,
                    reason: c.reason,
                }
            }
        };
        Ok(vec![event])
    }

    /// A stage is answered against a definition of the complaint; Stage 2's must be restated
    /// at or after the escalation, since the resident's dissatisfaction reframes it.
    fn ensure_defined(&self, stage: Stage) -> Result<(), ComplaintError> {
        let defined = match stage {
            Stage::Stage1 => self.defined_on.stage1.is_some(),
            Stage::Stage2 => self
                .defined_on
                .stage2
                .zip(self.escalated_on)
                .is_some_and(|(defined_on, escalated_on)| defined_on >= escalated_on),
        };
        if defined {
            Ok(())
        } else {
            Err(ComplaintError::DefinitionMissing(stage))
        }
    }

    /// Learning actions under the case's next `learn-N` ids.
    fn learning_recorded(
        &self,
        items: Vec<LearningAction>,
        occurred_at: DateTime<Utc>,
        by: &Actor,
    ) -> Vec<ComplaintEvent> {
        items
            .into_iter()
            .zip(self.learning.len() + 1..)
            .map(|(item, n)| ComplaintEvent::LearningRecorded {
                occurred_at,
                by: by.clone(),
                learning_id: format!("learn-{n}"),
                learning: item.learning,
                theme: item.theme,
                owner: item.owner,
                due_on: item.due_on,
            })
            .collect()
    }

    /// A tracked action that exists and is not yet done.
    fn ensure_action_open(&self, action_id: &str) -> Result<(), ComplaintError> {
        match self.actions.iter().find(|action| action.id == action_id) {
            None => Err(ComplaintError::UnknownAction(action_id.to_string())),
            Some(action) if action.done => Err(ComplaintError::ActionAlreadyCompleted(
                action_id.to_string(),
            )),
            Some(_) => Ok(()),
        }
    }

    fn ensure_open(&self) -> Result<(), ComplaintError> {
        match self.status {
            Status::Open => Ok(()),
            status => Err(ComplaintError::CaseClosed(status)),
        }
    }

    /// The real-world time of the next event: now, or a backdated time that is neither in
    /// the future nor before the case's previous event.
    fn occurred_at(
        &self,
        requested: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, ComplaintError> {
        let occurred_at = requested.unwrap_or(now);
        if occurred_at > now {
            return Err(ComplaintError::OccurredInFuture { occurred_at });
        }
        if let Some(previous) = self.last_occurred_at {
            if occurred_at < previous {
                return Err(ComplaintError::OccurredBeforePreviousEvent {
                    occurred_at,
                    previous,
                });
            }
        }
        Ok(occurred_at)
    }
}

/// A final response tells the resident where they may go next (Complaint Handling Code
/// 2024, 6.19): the procedure's redress schemes, recorded on the event as evidence.
fn final_signposting(procedure: &Procedure, stage: Stage) -> Vec<Scheme> {
    if procedure.final_stage() == stage {
        procedure.redress.schemes.clone()
    } else {
        Vec::new()
    }
}

/// Midnight at the start of a UK day, as an instant.
fn start_of_uk_day(day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::MIN);
    chrono_tz::Europe::London
        .from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

impl AttachEvidence {
    /// The rules on the evidence's own fields, which hold whatever the case's state.
    fn check(&self) -> Result<(), ComplaintError> {
        text("name", &self.name, 500)?;
        if !self.media_type.contains('/') || self.media_type.len() > 200 {
            return Err(invalid(
                "media_type",
                "must be a media type such as `image/jpeg`",
            ));
        }
        let sha_ok = self.sha256.len() == 64
            && self
                .sha256
                .chars()
                .all(|ch| ch.is_ascii_digit() || ('a'..='f').contains(&ch));
        if !sha_ok {
            return Err(invalid("sha256", "must be 64 lower-case hex digits"));
        }
        optional_text(
            "description",
            self.description.as_deref().unwrap_or(""),
            MAX_TEXT,
        )
    }
}

fn invalid(field: &'static str, reason: &str) -> ComplaintError {
    ComplaintError::InvalidField {
        field,
        reason: reason.to_string(),
    }
}

/// Required free text: not blank, not longer than `max` characters.
fn text(field: &'static str, value: &str, max: usize) -> Result<(), ComplaintError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    optional_text(field, value, max)
}

fn optional_text(field: &'static str, value: &str, max: usize) -> Result<(), ComplaintError> {
    if value.chars().count() > max {
        return Err(ComplaintError::InvalidField {
            field,
            reason: format!("must be at most {max} characters"),
        });
    }
    Ok(())
}

fn texts(field: &'static str, values: &[String]) -> Result<(), ComplaintError> {
    values
        .iter()
        .try_for_each(|value| text(field, value, MAX_TEXT))
}

/// Every action a response commits to, as tracked items: the remedy's actions, then the
/// outstanding ones, numbered within the stage (`s1-a1`, `s1-a2`, …, `s2-a1`, …).
fn tracked_actions(
    stage: Stage,
    response: &StageResponse,
    occurred_at: DateTime<Utc>,
    by: &Actor,
) -> Vec<ComplaintEvent> {
    let prefix = match stage {
        Stage::Stage1 => "s1",
        Stage::Stage2 => "s2",
    };
    let remedy = response
        .remedy
        .actions
        .iter()
        .map(|action| (ActionSource::Remedy, action));
    let outstanding = response
        .outstanding_actions
        .iter()
        .map(|action| (ActionSource::Outstanding, action));
    remedy
        .chain(outstanding)
        .zip(1..)
        .map(
            |((source, description), n): ((ActionSource, &String), u32)| {
                ComplaintEvent::ActionTracked {
                    occurred_at,
                    by: by.clone(),
                    action_id: format!("{prefix}-a{n}"),
                    stage,
                    source,
                    description: description.clone(),
                }
            },
        )
        .collect()
}

/// The names a learning action's fields have in the body that carries it.
struct LearningFields {
    learning: &'static str,
    theme: &'static str,
    owner: &'static str,
    due_on: &'static str,
}

const ON_ITS_OWN: LearningFields = LearningFields {
    learning: "learning",
    theme: "theme",
    owner: "owner",
    due_on: "due_on",
};

const AT_CLOSING: LearningFields = LearningFields {
    learning: "learning.learning",
    theme: "learning.theme",
    owner: "learning.owner",
    due_on: "learning.due_on",
};

fn check_learning(
    item: &LearningAction,
    fields: &LearningFields,
    received_on: NaiveDate,
) -> Result<(), ComplaintError> {
    text(fields.learning, &item.learning, MAX_TEXT)?;
    text(fields.theme, &item.theme, 200)?;
    text(fields.owner, &item.owner, 200)?;
    if item.due_on < received_on {
        return Err(invalid(
            fields.due_on,
            "must not be before the complaint was received",
        ));
    }
    Ok(())
}

fn stage_response(c: RespondToStage) -> Result<StageResponse, ComplaintError> {
    text("decision", &c.decision, MAX_TEXT)?;
    text("reasons", &c.reasons, MAX_TEXT)?;
    texts("remedy.actions", &c.remedy.actions)?;
    texts("outstanding_actions", &c.outstanding_actions)?;
    Ok(StageResponse {
        outcome: c.outcome,
        decision: c.decision,
        reasons: c.reasons,
        remedy: c.remedy,
        outstanding_actions: c.outstanding_actions,
    })
}

/// A UK postcode in its usual form (`SW1A 1AA`), or `None` if `text` is not one: an outward
/// code of a letter or two, a digit and an optional letter or digit, then an inward code of a
/// digit and two letters.
pub fn normalise_postcode(text: &str) -> Option<String> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact == "GIR0AA" {
        return Some("GIR 0AA".to_string());
    }
    if !compact.is_ascii() || !(5..=7).contains(&compact.len()) {
        return None;
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    let inward_ok = {
        let b = inward.as_bytes();
        b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphabetic()
    };
    let o = outward.as_bytes();
    let letters = o.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let rest = &o[letters..];
    let outward_ok = (1..=2).contains(&letters)
        && !rest.is_empty()
        && rest.len() <= 2
        && rest[0].is_ascii_digit()
        && rest.get(1).is_none_or(|c| c.is_ascii_alphanumeric());
    (inward_ok && outward_ok).then(|| format!("{outward} {inward}"))
}
