//! The Complaint Handling Code 2024's timescales applied to a case, whatever procedure it
//! follows: the due date of each step, when it was met, and whether that was in time.

use casefile_domain::aggregate::Status;
use casefile_domain::calendar::Calendar;
use casefile_domain::procedure::Step;
use casefile_domain::values::Stage;
use chrono::NaiveDate;

use super::ReportCase;

/// Working days to acknowledge a complaint, from receipt (6.2).
pub(crate) const ACKNOWLEDGE: u32 = 5;
/// Working days for the Stage 1 response, from the acknowledgement (6.3).
pub(crate) const STAGE1_RESPONSE: u32 = 10;
/// Working days to acknowledge a Stage 2 request, from the request (6.11).
pub(crate) const STAGE2_ACKNOWLEDGE: u32 = 5;
/// Working days for the Stage 2 response, from its acknowledgement (6.14).
pub(crate) const STAGE2_RESPONSE: u32 = 20;

/// The most working days extensions may add to a stage (6.4, 6.15).
pub(crate) fn extension_cap(stage: Stage) -> u32 {
    match stage {
        Stage::Stage1 => 10,
        Stage::Stage2 => 20,
    }
}

/// Working days of extension granted at a stage.
pub(crate) fn extended(case: &ReportCase, stage: Stage) -> u32 {
    case.extensions
        .iter()
        .filter(|e| e.stage == stage)
        .map(|e| e.working_days)
        .sum()
}

/// A step whose clock has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timed {
    /// Day 0 of the step's clock.
    pub starts_on: NaiveDate,
    /// Working days the Code gives the step, with extensions up to the cap.
    pub working_days: u32,
    pub due: NaiveDate,
    pub met_on: Option<NaiveDate>,
}

impl Timed {
    /// Met on or before the due date.
    pub fn in_time(&self) -> bool {
        self.met_on.is_some_and(|on| on <= self.due)
    }
}

/// The Code's clock for one step of a case; `None` until the clock starts. A Stage 2 response
/// counts from the Stage 2 acknowledgement, or from the request itself where none was
/// recorded (procedures without that step), which is never later than the Code allows.
pub(crate) fn timed(case: &ReportCase, calendar: &Calendar, step: Step) -> Option<Timed> {
    let (starts_on, working_days, met_on) = match step {
        Step::Acknowledge => (Some(case.received_on), ACKNOWLEDGE, case.acknowledged_on),
        Step::Stage1Response => (
            case.acknowledged_on,
            STAGE1_RESPONSE + extended(case, Stage::Stage1).min(extension_cap(Stage::Stage1)),
            case.stage1_response.as_ref().map(|r| r.on),
        ),
        Step::Stage2Acknowledge => (
            case.escalated_on,
            STAGE2_ACKNOWLEDGE,
            case.stage2_acknowledged_on,
        ),
        Step::Stage2Response => (
            case.stage2_acknowledged_on.or(case.escalated_on),
            STAGE2_RESPONSE + extended(case, Stage::Stage2).min(extension_cap(Stage::Stage2)),
            case.stage2_response.as_ref().map(|r| r.on),
        ),
    };
    let starts_on = starts_on?;
    Some(Timed {
        starts_on,
        working_days,
        due: calendar.add_working_days(case.division, starts_on, working_days),
        met_on,
    })
}

/// The day a case left `open`, if it is closed, withdrawn or refused.
pub(crate) fn ended_on(case: &ReportCase) -> Option<NaiveDate> {
    match case.status {
        Status::Open => None,
        Status::Closed => case.closure.as_ref().map(|c| c.on),
        Status::Refused => case.refusal.as_ref().map(|r| r.on),
        Status::Withdrawn => case.withdrawal.as_ref().map(|w| w.on),
    }
}

/// An unmet step whose due date had passed by `today`, or by the day the case ended: the
/// same judgement the case's own deadlines make.
pub(crate) fn overdue(case: &ReportCase, timed: &Timed, today: NaiveDate) -> bool {
    timed.met_on.is_none() && ended_on(case).unwrap_or(today) > timed.due
}
