//! The managers' figures over a period of days, `from` to `to` inclusive. Each figure counts
//! what happened in the period, as the cases stand now:
//!
//! - **received**: Stage 1 complaints received in the period (by channel and procedure too),
//!   and Stage 2 requests made in it.
//! - **acknowledged on time**: of the acknowledgements made in the period, those within the
//!   Code's 5 working days of receipt.
//! - **responded on time**, per stage: of the responses sent in the period, those within the
//!   Code's timescale (an extension within the Code's cap counting as within).
//! - **extensions** granted in the period: how many, their working days, by stage, and their
//!   reasons.
//! - **escalation rate**: of the Stage 1 responses sent in the period, those since escalated.
//! - **outcomes** of the responses sent in the period, per stage.
//! - **remedies**: the actions and compensation (pence) in the responses sent and the
//!   closures made in the period. Compensation is shown per source and in total; a closure
//!   that repeats a response's offer counts twice in the total.
//! - **themes** and **root causes** of the complaints received in the period, most frequent
//!   first (ten at most), with the number that has none.
//! - **working days to respond**, per stage, for the responses sent in the period: from
//!   receipt (Stage 1) or from the Stage 2 request (Stage 2) to the response, on the case's
//!   division's calendar; the average (two places) and the 90th percentile (nearest rank).

use std::collections::BTreeMap;

use casefile_domain::calendar::Calendar;
use casefile_domain::procedure::Step;
use casefile_domain::uk_date;
use casefile_domain::values::{Channel, Outcome, Stage};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::case::ReportResponse;
use super::code::timed;
use super::{count, rate, Ratio, ReportCase};

/// How many themes and root causes the report lists.
pub const TOP: usize = 10;

/// Days `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends ({to}) before it starts ({from})")]
    EndsBeforeStart { from: NaiveDate, to: NaiveDate },
}

impl PeriodError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::EndsBeforeStart { .. } => "period_ends_before_start",
        }
    }
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, PeriodError> {
        if to < from {
            return Err(PeriodError::EndsBeforeStart { from, to });
        }
        Ok(Self { from, to })
    }

    /// A reporting year's days, which always run forwards.
    pub fn year(year: super::ReportingYear) -> Self {
        Self {
            from: year.first_day(),
            to: year.last_day(),
        }
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    fn holds(&self, day: Option<NaiveDate>) -> bool {
        day.is_some_and(|day| self.contains(day))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChannelCount {
    pub channel: Channel,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProcedureCount {
    pub procedure: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Received {
    pub stage1: u64,
    pub stage2: u64,
    /// Stage 1 complaints by the channel they came through; every channel, in a fixed order.
    pub by_channel: Vec<ChannelCount>,
    /// Stage 1 complaints by procedure id, sorted by id.
    pub by_procedure: Vec<ProcedureCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct StageRatios {
    pub stage1: Ratio,
    pub stage2: Ratio,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Extensions {
    pub count: u64,
    pub working_days: u64,
    pub stage1: u64,
    pub stage2: u64,
    /// Most used first, then alphabetically.
    pub reasons: Vec<ReasonCount>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct OutcomeCounts {
    pub upheld: u64,
    pub partly_upheld: u64,
    pub not_upheld: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct StageOutcomes {
    pub stage1: OutcomeCounts,
    pub stage2: OutcomeCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Compensation {
    pub stage1: u64,
    pub stage2: u64,
    pub closure: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Remedies {
    /// Remedy actions promised.
    pub actions: u64,
    /// Compensation in pence.
    pub compensation_pence: Compensation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NameCount {
    pub name: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TopCounts {
    /// At most ten, most frequent first, then alphabetically.
    pub top: Vec<NameCount>,
    /// Complaints with none recorded.
    pub unrecorded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ResponseTimes {
    pub responses: u64,
    /// Mean working days, two places; `null` with no responses.
    pub average: Option<f64>,
    /// 90th percentile by nearest rank; `null` with no responses.
    pub p90: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct StageTimes {
    pub stage1: ResponseTimes,
    pub stage2: ResponseTimes,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct KpiReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub received: Received,
    pub acknowledged_on_time: Ratio,
    pub responded_on_time: StageRatios,
    pub extensions: Extensions,
    pub escalation_rate: Ratio,
    pub outcomes: StageOutcomes,
    pub remedies: Remedies,
    pub themes: TopCounts,
    pub root_causes: TopCounts,
    pub working_days_to_respond: StageTimes,
}

const CHANNELS: [Channel; 6] = [
    Channel::Phone,
    Channel::Email,
    Channel::WebForm,
    Channel::Portal,
    Channel::Letter,
    Channel::InPerson,
];

fn response(case: &ReportCase, stage: Stage) -> Option<&ReportResponse> {
    match stage {
        Stage::Stage1 => case.stage1_response.as_ref(),
        Stage::Stage2 => case.stage2_response.as_deref(),
    }
}

/// The figures of `period` over every case given.
pub fn kpi(cases: &[ReportCase], calendar: &Calendar, period: Period) -> KpiReport {
    let received: Vec<&ReportCase> = cases
        .iter()
        .filter(|case| period.contains(case.received_on))
        .collect();
    let responded = |stage: Stage| -> Vec<(&ReportCase, &ReportResponse)> {
        cases
            .iter()
            .filter_map(|case| Some((case, response(case, stage)?)))
            .filter(|(_, response)| period.contains(response.on))
            .collect()
    };
    let responded1 = responded(Stage::Stage1);
    let responded2 = responded(Stage::Stage2);

    KpiReport {
        from: period.from,
        to: period.to,
        received: received_counts(cases, &received, period),
        acknowledged_on_time: on_time(cases, calendar, Step::Acknowledge, period),
        responded_on_time: StageRatios {
            stage1: on_time(cases, calendar, Step::Stage1Response, period),
            stage2: on_time(cases, calendar, Step::Stage2Response, period),
        },
        extensions: extensions(cases, period),
        escalation_rate: Ratio::new(
            count(
                responded1
                    .iter()
                    .filter(|(case, _)| case.escalated_on.is_some()),
            ),
            count(&responded1),
        ),
        outcomes: StageOutcomes {
            stage1: outcomes(&responded1),
            stage2: outcomes(&responded2),
        },
        remedies: remedies(cases, &responded1, &responded2, period),
        themes: top(received.iter().map(|case| case.theme.as_deref())),
        root_causes: top(received.iter().map(|case| case.root_cause.as_deref())),
        working_days_to_respond: StageTimes {
            stage1: times(calendar, &responded1, |case| Some(case.received_on)),
            stage2: times(calendar, &responded2, |case| case.escalated_on),
        },
    }
}

fn received_counts(cases: &[ReportCase], received: &[&ReportCase], period: Period) -> Received {
    let mut by_procedure: BTreeMap<&str, u64> = BTreeMap::new();
    for case in received {
        *by_procedure.entry(case.procedure.id.as_str()).or_default() += 1;
    }
    Received {
        stage1: count(received),
        stage2: count(cases.iter().filter(|case| period.holds(case.escalated_on))),
        by_channel: CHANNELS
            .into_iter()
            .map(|channel| ChannelCount {
                channel,
                count: count(received.iter().filter(|case| case.channel == channel)),
            })
            .collect(),
        by_procedure: by_procedure
            .into_iter()
            .map(|(procedure, count)| ProcedureCount {
                procedure: procedure.to_string(),
                count,
            })
            .collect(),
    }
}

/// Of the steps met in the period, those met within the Code's timescale.
fn on_time(cases: &[ReportCase], calendar: &Calendar, step: Step, period: Period) -> Ratio {
    let met: Vec<bool> = cases
        .iter()
        .filter_map(|case| timed(case, calendar, step))
        .filter(|timed| period.holds(timed.met_on))
        .map(|timed| timed.in_time())
        .collect();
    Ratio::new(count(met.iter().filter(|in_time| **in_time)), count(&met))
}

fn extensions(cases: &[ReportCase], period: Period) -> Extensions {
    let granted: Vec<_> = cases
        .iter()
        .flat_map(|case| &case.extensions)
        .filter(|extension| period.contains(uk_date(extension.at)))
        .collect();
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for extension in &granted {
        *reasons.entry(extension.reason.trim()).or_default() += 1;
    }
    let mut reasons: Vec<ReasonCount> = reasons
        .into_iter()
        .map(|(reason, count)| ReasonCount {
            reason: reason.to_string(),
            count,
        })
        .collect();
    // Stable after the alphabetical map order, so ties stay alphabetical.
    reasons.sort_by_key(|r| std::cmp::Reverse(r.count));
    Extensions {
        count: count(&granted),
        working_days: granted.iter().map(|e| u64::from(e.working_days)).sum(),
        stage1: count(granted.iter().filter(|e| e.stage == Stage::Stage1)),
        stage2: count(granted.iter().filter(|e| e.stage == Stage::Stage2)),
        reasons,
    }
}

fn outcomes(responded: &[(&ReportCase, &ReportResponse)]) -> OutcomeCounts {
    let mut counts = OutcomeCounts::default();
    for (_, response) in responded {
        match response.outcome {
            Outcome::Upheld => counts.upheld += 1,
            Outcome::PartlyUpheld => counts.partly_upheld += 1,
            Outcome::NotUpheld => counts.not_upheld += 1,
        }
    }
    counts
}

fn remedies(
    cases: &[ReportCase],
    responded1: &[(&ReportCase, &ReportResponse)],
    responded2: &[(&ReportCase, &ReportResponse)],
    period: Period,
) -> Remedies {
    let closures: Vec<_> = cases
        .iter()
        .filter_map(|case| case.closure.as_ref())
        .filter(|closure| period.contains(closure.on))
        .collect();
    let pence = |responded: &[(&ReportCase, &ReportResponse)]| -> u64 {
        responded
            .iter()
            .map(|(_, r)| r.remedy.compensation_pence)
            .sum()
    };
    let stage1 = pence(responded1);
    let stage2 = pence(responded2);
    let closure: u64 = closures.iter().map(|c| c.remedy.compensation_pence).sum();
    let actions = responded1
        .iter()
        .chain(responded2)
        .map(|(_, r)| r.remedy.actions)
        .chain(closures.iter().map(|c| c.remedy.actions))
        .sum();
    Remedies {
        actions,
        compensation_pence: Compensation {
            stage1,
            stage2,
            closure,
            total: stage1.saturating_add(stage2).saturating_add(closure),
        },
    }
}

fn top<'a>(names: impl Iterator<Item = Option<&'a str>>) -> TopCounts {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut unrecorded = 0;
    for name in names {
        match name.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => *counts.entry(name).or_default() += 1,
            None => unrecorded += 1,
        }
    }
    let mut top: Vec<NameCount> = counts
        .into_iter()
        .map(|(name, count)| NameCount {
            name: name.to_string(),
            count,
        })
        .collect();
    top.sort_by_key(|n| std::cmp::Reverse(n.count));
    top.truncate(TOP);
    TopCounts { top, unrecorded }
}

fn times(
    calendar: &Calendar,
    responded: &[(&ReportCase, &ReportResponse)],
    start: impl Fn(&ReportCase) -> Option<NaiveDate>,
) -> ResponseTimes {
    let mut days: Vec<u32> = responded
        .iter()
        .filter_map(|(case, response)| {
            let from = start(case)?;
            Some(calendar.working_days_between(case.division, from, response.on))
        })
        .collect();
    days.sort_unstable();
    let n = days.len();
    let sum: u64 = days.iter().map(|&d| u64::from(d)).sum();
    // Nearest rank: the ⌈0.9·n⌉-th smallest.
    let p90 = (n > 0)
        .then(|| days.get((9 * n).div_ceil(10).saturating_sub(1)).copied())
        .flatten();
    ResponseTimes {
        responses: count(&days),
        average: rate(sum, count(&days), 1),
        p90,
    }
}
