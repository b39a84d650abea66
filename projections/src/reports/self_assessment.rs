//! The evidence for the annual self-assessment against the Complaint Handling Code 2024: one
//! row for each provision that case data can show, in the Code's order.
//!
//! Each row measures the cases it concerns in the reporting year and lists the references of
//! those that fall short; `comply` is true when none does (so a year with nothing to measure
//! complies, with a `null` percentage).
//!
//! - A timescale (6.2, 6.3, 6.11, 6.14) concerns the steps met in the year and the unmet
//!   steps whose due date in the year had passed by `today` (or by the day the case ended):
//!   an unanswered complaint falls short as surely as a late answer.
//! - An extension provision (6.4, 6.15) concerns the cases given an extension at that stage
//!   in the year; one falls short if the stage's extensions exceed the Code's cap, if one has
//!   no reason, or if the resident was told of one only after the date it replaced.
//! - Refusals (2.4) concern the complaints refused in the year: each needs an explanation and
//!   the Housing Ombudsman signposted.
//! - Stage 2 by someone else (6.13) and referral rights in the final response (6.19) concern
//!   the Stage 2 responses sent in the year.

use casefile_domain::calendar::Calendar;
use casefile_domain::procedure::{Scheme, Step};
use casefile_domain::uk_date;
use casefile_domain::values::Stage;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::code::{extension_cap, overdue, timed, STAGE1_RESPONSE, STAGE2_RESPONSE};
use super::{Ratio, ReportCase, ReportingYear};

/// One Code provision, what it requires, and how the year's cases measure up.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProvisionRow {
    /// The provision's number in the Code, e.g. `6.2`.
    pub provision: String,
    /// What it requires, in brief.
    pub requirement: String,
    /// The cases that meet it, of those it concerns.
    pub measured: Ratio,
    pub comply: bool,
    /// References of the cases that fall short, sorted.
    pub falling_short: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SelfAssessment {
    #[schema(value_type = String, example = "2025-26")]
    pub year: ReportingYear,
    pub rows: Vec<ProvisionRow>,
}

/// The self-assessment evidence for `year`, judging unmet steps as of `today`.
pub fn self_assessment(
    cases: &[ReportCase],
    calendar: &Calendar,
    year: ReportingYear,
    today: NaiveDate,
) -> SelfAssessment {
    let timescale = |step| {
        move |case: &ReportCase| {
            let timed = timed(case, calendar, step)?;
            let concerned = match timed.met_on {
                Some(on) => year.contains(on),
                None => year.contains(timed.due) && overdue(case, &timed, today),
            };
            concerned.then_some(timed.in_time())
        }
    };
    let stage2_responses = |test: fn(&ReportCase) -> bool| {
        move |case: &ReportCase| {
            let response = case.stage2_response.as_ref()?;
            year.contains(response.on).then(|| test(case))
        }
    };

    let rows = vec![
        row(
            "2.4",
            "If a complaint is not accepted, the resident must be told why it is not suitable \
             for the complaints process and of their right to take that decision to the \
             Ombudsman.",
            cases,
            |case| {
                let refusal = case.refusal.as_ref()?;
                year.contains(refusal.on).then(|| {
                    !refusal.explanation.trim().is_empty()
                        && refusal.signposted_to.contains(&Scheme::HousingOmbudsman)
                })
            },
        ),
        row(
            "6.2",
            "Complaints must be acknowledged, defined and logged at Stage 1 within five \
             working days of being received.",
            cases,
            timescale(Step::Acknowledge),
        ),
        row(
            "6.3",
            "A full Stage 1 response must be issued within 10 working days of the complaint \
             being acknowledged.",
            cases,
            timescale(Step::Stage1Response),
        ),
        row(
            "6.4",
            "A Stage 1 extension must be no more than 10 working days without good reason, \
             and the reason and the expected timescale must be explained to the resident.",
            cases,
            |case| extensions_in_order(case, calendar, year, Stage::Stage1),
        ),
        row(
            "6.11",
            "Requests for Stage 2 must be acknowledged, defined and logged within five \
             working days of the escalation request being received.",
            cases,
            timescale(Step::Stage2Acknowledge),
        ),
        row(
            "6.13",
            "The person considering the complaint at Stage 2 must not be the person who \
             considered it at Stage 1.",
            cases,
            stage2_responses(
                |case| match (&case.stage1_response, &case.stage2_response) {
                    (Some(s1), Some(s2)) => s1.by.id != s2.by.id,
                    _ => true,
                },
            ),
        ),
        row(
            "6.14",
            "A final Stage 2 response must be issued within 20 working days of the Stage 2 \
             request being acknowledged.",
            cases,
            timescale(Step::Stage2Response),
        ),
        row(
            "6.15",
            "A Stage 2 extension must be no more than 20 working days without good reason, \
             and the reason and the expected timescale must be explained to the resident.",
            cases,
            |case| extensions_in_order(case, calendar, year, Stage::Stage2),
        ),
        row(
            "6.19",
            "At the end of Stage 2 the resident must be told in writing how to take the \
             complaint to the Ombudsman if they remain dissatisfied.",
            cases,
            stage2_responses(|case| {
                case.stage2_response
                    .as_ref()
                    .is_some_and(|r| r.signposted_to.contains(&Scheme::HousingOmbudsman))
            }),
        ),
    ];
    SelfAssessment { year, rows }
}

/// A row from a test that says, for each case, whether it concerns the provision and if so
/// whether it meets it.
fn row(
    provision: &str,
    requirement: &str,
    cases: &[ReportCase],
    test: impl Fn(&ReportCase) -> Option<bool>,
) -> ProvisionRow {
    let mut met = 0;
    let mut of = 0;
    let mut falling_short = Vec::new();
    for case in cases {
        match test(case) {
            Some(true) => {
                met += 1;
                of += 1;
            }
            Some(false) => {
                of += 1;
                falling_short.push(case.reference.clone());
            }
            None => {}
        }
    }
    falling_short.sort();
    ProvisionRow {
        provision: provision.to_string(),
        requirement: requirement.to_string(),
        measured: Ratio::new(met, of),
        comply: falling_short.is_empty(),
        falling_short,
    }
}

/// Whether a case given an extension at `stage` in `year` kept to the Code; `None` if it was
/// given none in the year.
fn extensions_in_order(
    case: &ReportCase,
    calendar: &Calendar,
    year: ReportingYear,
    stage: Stage,
) -> Option<bool> {
    let granted: Vec<_> = case
        .extensions
        .iter()
        .filter(|e| e.stage == stage)
        .collect();
    if !granted.iter().any(|e| year.contains(uk_date(e.at))) {
        return None;
    }
    let cap = extension_cap(stage);
    let total: u32 = granted.iter().map(|e| e.working_days).sum();
    // The response's clock under the Code; before it starts, no date can yet have passed.
    let (start, base) = match stage {
        Stage::Stage1 => (case.acknowledged_on, STAGE1_RESPONSE),
        Stage::Stage2 => (
            case.stage2_acknowledged_on.or(case.escalated_on),
            STAGE2_RESPONSE,
        ),
    };
    let mut before = 0;
    let told_in_time = granted.iter().all(|extension| {
        let replaced = start
            .map(|start| calendar.add_working_days(case.division, start, base + before.min(cap)));
        before += extension.working_days;
        replaced.is_none_or(|due| extension.resident_informed_on <= due)
    });
    let reasoned = granted.iter().all(|e| !e.reason.trim().is_empty());
    Some(total <= cap && reasoned && told_in_time)
}
