//! Tenant Satisfaction Measures CH01 and CH02 for one reporting year, per stage and per
//! reported tenure (`lcra`, `lcho`; cases of `other` tenure, or none recorded, are not
//! reported).
//!
//! - **CH01**: complaints received at the stage in the year per 1,000 homes of the tenure.
//!   Stage 1 is received on the day the complaint was received, Stage 2 on the day the
//!   resident asked for it. The numerator is the complaints, the denominator the homes, the
//!   value `numerator × 1000 ÷ homes` to two places, `null` when no homes are set.
//! - **CH02**: of the stage's responses sent in the year, the percentage sent within the
//!   Code's timescales (an extension within the Code's cap counting as within). The
//!   numerator is the responses in time, the denominator all responses in the year.
//!
//! With detail, each measure lists the references of the cases its numerator counts.

use casefile_domain::calendar::Calendar;
use casefile_domain::procedure::Step;
use casefile_domain::values::{Stage, Tenure};
use serde::Serialize;
use utoipa::ToSchema;

use super::code::timed;
use super::{rate, Homes, ReportCase, ReportingYear};

/// The tenures the regulator asks about, in report order.
const REPORTED: [Tenure; 2] = [Tenure::Lcra, Tenure::Lcho];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum TsmCode {
    #[serde(rename = "CH01")]
    Ch01,
    #[serde(rename = "CH02")]
    Ch02,
}

impl TsmCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ch01 => "CH01",
            Self::Ch02 => "CH02",
        }
    }
}

/// One figure: a measure, for a stage and a tenure.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TsmMeasure {
    pub code: TsmCode,
    /// 1 or 2.
    #[schema(minimum = 1, maximum = 2)]
    pub stage: u8,
    /// `lcra` or `lcho`.
    pub tenure: Tenure,
    /// CH01: complaints per 1,000 homes; CH02: a percentage. Two decimal places; `null`
    /// when the denominator is 0.
    pub value: Option<f64>,
    pub numerator: u64,
    /// CH01: the homes of the tenure; CH02: the responses sent in the year.
    pub denominator: u64,
    /// The references behind the numerator, sorted; only when detail is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cases: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TsmReport {
    #[schema(value_type = String, example = "2025-26")]
    pub year: ReportingYear,
    /// CH01 then CH02; within each, Stage 1 then 2; within each, `lcra` then `lcho`.
    pub measures: Vec<TsmMeasure>,
}

fn stage_number(stage: Stage) -> u8 {
    match stage {
        Stage::Stage1 => 1,
        Stage::Stage2 => 2,
    }
}

/// CH01 and CH02 for `homes.year`, over every case given.
pub fn tsm(cases: &[ReportCase], calendar: &Calendar, homes: &Homes, detail: bool) -> TsmReport {
    let year = homes.year;
    let mut measures = Vec::with_capacity(8);

    for stage in [Stage::Stage1, Stage::Stage2] {
        for tenure in REPORTED {
            let received: Vec<&ReportCase> = cases
                .iter()
                .filter(|case| case.tenure == tenure)
                .filter(|case| {
                    let on = match stage {
                        Stage::Stage1 => Some(case.received_on),
                        Stage::Stage2 => case.escalated_on,
                    };
                    on.is_some_and(|on| year.contains(on))
                })
                .collect();
            let homes = homes.of(tenure);
            measures.push(measure(
                TsmCode::Ch01,
                stage,
                tenure,
                &received,
                homes,
                1000,
                detail,
            ));
        }
    }

    for stage in [Stage::Stage1, Stage::Stage2] {
        let step = match stage {
            Stage::Stage1 => Step::Stage1Response,
            Stage::Stage2 => Step::Stage2Response,
        };
        for tenure in REPORTED {
            let responded: Vec<(&ReportCase, bool)> = cases
                .iter()
                .filter(|case| case.tenure == tenure)
                .filter_map(|case| {
                    let timed = timed(case, calendar, step)?;
                    let on = timed.met_on?;
                    year.contains(on).then_some((case, timed.in_time()))
                })
                .collect();
            let in_time: Vec<&ReportCase> = responded
                .iter()
                .filter(|(_, in_time)| *in_time)
                .map(|(case, _)| *case)
                .collect();
            let of = u64::try_from(responded.len()).unwrap_or(u64::MAX);
            measures.push(measure(
                TsmCode::Ch02,
                stage,
                tenure,
                &in_time,
                of,
                100,
                detail,
            ));
        }
    }

    TsmReport { year, measures }
}

fn measure(
    code: TsmCode,
    stage: Stage,
    tenure: Tenure,
    counted: &[&ReportCase],
    denominator: u64,
    scale: u64,
    detail: bool,
) -> TsmMeasure {
    let numerator = u64::try_from(counted.len()).unwrap_or(u64::MAX);
    let cases = detail.then(|| {
        let mut references: Vec<String> =
            counted.iter().map(|case| case.reference.clone()).collect();
        references.sort();
        references
    });
    TsmMeasure {
        code,
        stage: stage_number(stage),
        tenure,
        value: rate(numerator, denominator, scale),
        numerator,
        denominator,
        cases,
    }
}
