//! Management and regulator reports, as pure functions of the cases.
//!
//! Every report reads [`ReportCase`]s (of each case, the facts some report counts, which its
//! view gives alike on any day) and the [`Calendar`](casefile_domain::Calendar). None does I/O, and none divides by zero: an empty period gives zeros and `null`
//! percentages.
//!
//! Timeliness is judged against the Housing Ombudsman's Complaint Handling Code 2024, whatever
//! procedure a case follows: acknowledgement within 5 working days of receipt
//! (6.2), the Stage 1 response within 10 working days of the acknowledgement (6.3), the
//! Stage 2 acknowledgement within 5 working days of the escalation request (6.11), the Stage 2
//! response within 20 working days of that acknowledgement (6.14). An extension counts up to
//! the Code's cap (10 working days at Stage 1, 6.4; 20 at Stage 2, 6.15); beyond the cap the
//! response is late.
//!
//! # Layout
//!
//! - [`case`]: what the reports read of a case, and how it is read from a stored fold.
//! - [`kpi`]: the managers' figures over any period.
//! - [`tsm`]: the Tenant Satisfaction Measures CH01 and CH02 for a reporting year.
//! - [`self_assessment`]: the Code provisions case data can evidence, for a reporting year.
//! - [`annual`]: the annual complaints performance and service improvement report.
//! - [`csv`]: the CSV form of each report.
//! - here: the reporting year, the homes per tenure, the ratio every report uses.

pub mod annual;
pub mod case;
mod code;
pub mod csv;
pub mod kpi;
pub mod self_assessment;
pub mod tsm;

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use casefile_domain::values::Tenure;

pub use annual::{annual, AnnualReport};
pub use case::{ReportCase, ReportRecord};
pub use kpi::{kpi, KpiReport, Period, PeriodError};
pub use self_assessment::{self_assessment, ProvisionRow, SelfAssessment};
pub use tsm::{tsm, TsmMeasure, TsmReport};

/// The regulator's reporting year, 1 April to 31 March, written `2025-26`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportingYear {
    /// The calendar year of its 1 April.
    first: i32,
}

/// A reporting year that cannot be read; each variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportingYearError {
    #[error("`{0}` is not a reporting year such as 2025-26")]
    Malformed(String),
    #[error("`{0}` does not run from one year into the next (2025-26 does)")]
    NotConsecutive(String),
}

impl ReportingYearError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_reporting_year",
            Self::NotConsecutive(_) => "reporting_year_not_consecutive",
        }
    }
}

impl ReportingYear {
    /// Years chrono can date comfortably, written with four digits.
    const FIRST: i32 = 1000;
    const LAST: i32 = 9998;

    /// The reporting year starting on 1 April of `first`, if that is a four-digit year.
    pub fn starting(first: i32) -> Option<Self> {
        (Self::FIRST..=Self::LAST)
            .contains(&first)
            .then_some(Self { first })
    }

    /// The reporting year a date falls in.
    pub fn containing(day: NaiveDate) -> Self {
        let first = if day.month() >= 4 {
            day.year()
        } else {
            day.year() - 1
        };
        Self { first }
    }

    /// 1 April.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.first, 4, 1).unwrap_or(NaiveDate::MIN)
    }

    /// 31 March of the next calendar year.
    pub fn last_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.first + 1, 3, 31).unwrap_or(NaiveDate::MAX)
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.first_day() <= day && day <= self.last_day()
    }
}

impl fmt::Display for ReportingYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.first, (self.first + 1).rem_euclid(100))
    }
}

impl FromStr for ReportingYear {
    type Err = ReportingYearError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || ReportingYearError::Malformed(s.to_string());
        let (first, second) = s.split_once('-').ok_or_else(malformed)?;
        let digits = |part: &str, len: usize| {
            (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<i32>().ok())
                .flatten()
        };
        let (Some(first), Some(second)) = (digits(first, 4), digits(second, 2)) else {
            return Err(malformed());
        };
        if (first + 1).rem_euclid(100) != second {
            return Err(ReportingYearError::NotConsecutive(s.to_string()));
        }
        Self::starting(first).ok_or_else(malformed)
    }
}

impl Serialize for ReportingYear {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReportingYear {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How many homes of each reported tenure the organisation has in a reporting year: the
/// denominators of CH01.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Homes {
    #[schema(value_type = String, example = "2025-26", pattern = r"^\d{4}-\d{2}$")]
    pub year: ReportingYear,
    /// Low-cost rental homes.
    pub lcra: u64,
    /// Low-cost home ownership homes.
    pub lcho: u64,
}

impl Homes {
    /// A year for which no numbers have been set: CH01 has no value.
    pub fn unknown(year: ReportingYear) -> Self {
        Self {
            year,
            lcra: 0,
            lcho: 0,
        }
    }

    /// The homes of a tenure; the regulator asks for none of `other`.
    pub fn of(&self, tenure: Tenure) -> u64 {
        match tenure {
            Tenure::Lcra => self.lcra,
            Tenure::Lcho => self.lcho,
            Tenure::Other => 0,
        }
    }
}

/// `count` of `of`, and the percentage (two decimal places; `null` when `of` is 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ratio {
    pub count: u64,
    pub of: u64,
    pub percent: Option<f64>,
}

impl Ratio {
    pub fn new(count: u64, of: u64) -> Self {
        Self {
            count,
            of,
            percent: rate(count, of, 100),
        }
    }
}

/// How many items there are, as the reports' counts are kept.
pub(crate) fn count<T>(items: impl IntoIterator<Item = T>) -> u64 {
    u64::try_from(items.into_iter().count()).unwrap_or(u64::MAX)
}

/// `numerator × scale ÷ denominator` rounded half up to two decimal places, in integers so
/// the figure is exact; `None` when the denominator is 0.
pub(crate) fn rate(numerator: u64, denominator: u64, scale: u64) -> Option<f64> {
    if denominator == 0 {
        return None;
    }
    let numerator = u128::from(numerator) * u128::from(scale) * 100;
    let denominator = u128::from(denominator);
    let hundredths = (2 * numerator + denominator) / (2 * denominator);
    // Hundredths fit an f64 exactly far beyond any count of complaints.
    Some(hundredths as f64 / 100.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_reporting_year_runs_from_1_april_to_31_march() {
        let year: ReportingYear = "2025-26".parse().unwrap();
        assert_eq!(year.first_day(), date("2025-04-01"));
        assert_eq!(year.last_day(), date("2026-03-31"));
        assert!(year.contains(date("2026-03-31")));
        assert!(!year.contains(date("2026-04-01")));
        assert!(!year.contains(date("2025-03-31")));
        assert_eq!(year.to_string(), "2025-26");
        assert_eq!(ReportingYear::containing(date("2026-03-31")), year);
        assert_eq!(ReportingYear::containing(date("2025-04-01")), year);
        // The century turns.
        let turn: ReportingYear = "2099-00".parse().unwrap();
        assert_eq!(turn.last_day(), date("2100-03-31"));
        assert_eq!(turn.to_string(), "2099-00");
    }

    #[test]
    fn malformed_reporting_years_are_rejected_with_their_rule() {
        for text in [
            "2025",
            "2025-2026",
            "25-26",
            "2025/26",
            "２０２５-26",
            "+025-26",
            "",
            "-",
        ] {
            assert_eq!(
                text.parse::<ReportingYear>(),
                Err(ReportingYearError::Malformed(text.to_string())),
                "{text}"
            );
        }
        assert_eq!(
            "2025-27".parse::<ReportingYear>(),
            Err(ReportingYearError::NotConsecutive("2025-27".to_string()))
        );
        assert_eq!(
            ReportingYearError::Malformed(String::new()).code(),
            "malformed_reporting_year"
        );
        assert_eq!(
            ReportingYearError::NotConsecutive(String::new()).code(),
            "reporting_year_not_consecutive"
        );
    }

    #[test]
    fn homes_read_and_write_the_configuration_body() {
        let homes: Homes =
            serde_json::from_str(r#"{"year": "2025-26", "lcra": 12500, "lcho": 900}"#).unwrap();
        assert_eq!(homes.of(Tenure::Lcra), 12_500);
        assert_eq!(homes.of(Tenure::Lcho), 900);
        assert_eq!(homes.of(Tenure::Other), 0);
        assert_eq!(
            serde_json::to_value(&homes).unwrap(),
            serde_json::json!({"year": "2025-26", "lcra": 12500, "lcho": 900})
        );
        assert!(
            serde_json::from_str::<Homes>(r#"{"year": "2025-27", "lcra": 1, "lcho": 1}"#).is_err()
        );
        assert!(serde_json::from_str::<Homes>(
            r#"{"year": "2025-26", "lcra": 1, "lcho": 1, "other": 3}"#
        )
        .is_err());
    }

    #[test]
    fn rates_round_half_up_to_two_places_and_never_divide_by_zero() {
        assert_eq!(rate(3, 7, 100), Some(42.86)); // 42.857…
        assert_eq!(rate(1, 8, 100), Some(12.5));
        assert_eq!(rate(1, 200, 1), Some(0.01)); // 0.005 rounds up
        assert_eq!(rate(1, 201, 1), Some(0.0)); // 0.00497…
        assert_eq!(rate(2, 3, 100), Some(66.67));
        assert_eq!(rate(0, 0, 100), None);
        assert_eq!(rate(5, 0, 1000), None);
        assert_eq!(Ratio::new(0, 0).percent, None);
        assert_eq!(
            serde_json::to_value(Ratio::new(3, 7)).unwrap(),
            serde_json::json!({"count": 3, "of": 7, "percent": 42.86})
        );
        assert_eq!(
            serde_json::to_value(Ratio::new(0, 0)).unwrap(),
            serde_json::json!({"count": 0, "of": 0, "percent": null})
        );
    }
}
