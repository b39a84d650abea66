//! Deadlines as a pure function of a case, the calendar and a date: each live step's due
//! date and SLA state, with extensions applied, and the date promised for the resident's
//! next update, judged the same way.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Complaint, Status};
use crate::calendar::{Calendar, Division};
use crate::procedure::{ClockStart, Step};

/// A step is `due_soon` from this many working days before its due date.
pub const DUE_SOON_WORKING_DAYS: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    Pending,
    DueSoon,
    Breached,
    Met,
    MetLate,
}

/// A date the landlord committed to outside the procedure's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Commitment {
    /// The agreed date of the next update to the resident.
    ResidentUpdate,
}

/// What a deadline is for: named by the step's or the commitment's own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum DeadlineStep {
    Procedure(Step),
    Commitment(Commitment),
}

impl DeadlineStep {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Procedure(step) => step.as_str(),
            Self::Commitment(Commitment::ResidentUpdate) => "resident_update",
        }
    }
}

impl From<Step> for DeadlineStep {
    fn from(step: Step) -> Self {
        Self::Procedure(step)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deadline {
    pub step: DeadlineStep,
    /// Day 0 of the step's clock.
    pub starts_on: NaiveDate,
    /// Working days the procedure gives the step; for a commitment, those to its date.
    pub working_days: u32,
    /// Working days added by extensions.
    pub extended_by: u32,
    pub due: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met_on: Option<NaiveDate>,
    pub state: DeadlineState,
}

/// The SLA state on `today` of a live step due on `due` and not yet met: what a work queue
/// recomputes every time it is read, so a stored due date never shows a frozen state.
pub fn unmet_state(
    calendar: &Calendar,
    division: Division,
    due: NaiveDate,
    today: NaiveDate,
) -> DeadlineState {
    if today > due {
        DeadlineState::Breached
    } else if calendar.working_days_between(division, today, due) <= DUE_SOON_WORKING_DAYS {
        DeadlineState::DueSoon
    } else {
        DeadlineState::Pending
    }
}

/// Every live step of the case as it stands on `today`, then the resident's next update if
/// one was promised. A step is live once its clock has started; an unmet step of a case that
/// ended before its due date is no longer live.
pub fn deadlines(case: &Complaint, calendar: &Calendar, today: NaiveDate) -> Vec<Deadline> {
    let Some(facts) = &case.facts else {
        return Vec::new();
    };
    let update = case.resident_update.and_then(|promised| {
        let state = sla_state(
            case,
            calendar,
            facts.division,
            today,
            promised.due,
            promised.met_on,
        )?;
        Some(Deadline {
            step: DeadlineStep::Commitment(Commitment::ResidentUpdate),
            starts_on: promised.set_on,
            working_days: calendar.working_days_between(
                facts.division,
                promised.set_on,
                promised.due,
            ),
            extended_by: 0,
            due: promised.due,
            met_on: promised.met_on,
            state,
        })
    });
    facts
        .procedure
        .steps
        .iter()
        .filter_map(|rule| {
            let starts_on = match rule.from {
                ClockStart::Received => Some(facts.received_on),
                ClockStart::Acknowledged => case.acknowledged_on,
                ClockStart::Escalated => case.escalated_on,
                ClockStart::Stage2Acknowledged => case.stage2_acknowledged_on,
            }?;
            let extended_by = match rule.step {
                Step::Stage1Response | Step::Stage2Response => {
                    case.extended.for_stage(rule.step.stage())
                }
                Step::Acknowledge | Step::Stage2Acknowledge => 0,
            };
            let due = calendar.add_working_days(
                facts.division,
                starts_on,
                rule.working_days + extended_by,
            );
            let met_on = match rule.step {
                Step::Acknowledge => case.acknowledged_on,
                Step::Stage1Response => case.stage1.as_ref().map(|r| r.on),
                Step::Stage2Acknowledge => case.stage2_acknowledged_on,
                Step::Stage2Response => case.stage2.as_ref().map(|r| r.on),
            };
            let state = sla_state(case, calendar, facts.division, today, due, met_on)?;
            Some(Deadline {
                step: rule.step.into(),
                starts_on,
                working_days: rule.working_days,
                extended_by,
                due,
                met_on,
                state,
            })
        })
        .chain(update)
        .collect()
}

/// The SLA state of a date on `today`, or `None` once it is no longer live.
fn sla_state(
    case: &Complaint,
    calendar: &Calendar,
    division: Division,
    today: NaiveDate,
    due: NaiveDate,
    met_on: Option<NaiveDate>,
) -> Option<DeadlineState> {
    Some(match met_on {
        Some(on) if on <= due => DeadlineState::Met,
        Some(_) => DeadlineState::MetLate,
        None => {
            // An ended case is judged on the day it ended.
            let at = match (case.status, case.ended_on) {
                (Status::Open, _) | (_, None) => today,
                (_, Some(ended_on)) => ended_on,
            };
            if at > due {
                DeadlineState::Breached
            } else if case.status != Status::Open {
                return None;
            } else {
                unmet_state(calendar, division, due, at)
            }
        }
    })
}
