//! How dates, money and the domain's codes read in a document.

use casefile_domain::deadline::DeadlineState;
use casefile_domain::values::{Outcome, RefusalReason, Stage};
use chrono::{DateTime, NaiveDate, Utc};

/// `3 March 2025`.
pub fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// `2025-03-03 09:00:00 UTC`, or `09:00:00.250 UTC` when the instant has a fraction:
/// instants in the case file say which clock they are on and lose no precision.
pub fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.f UTC").to_string()
}

/// `£1,234.56`.
pub fn pounds(pence: u64) -> String {
    let pounds = (pence / 100).to_string();
    let mut grouped = String::with_capacity(pounds.len() + pounds.len() / 3);
    for (i, digit) in pounds.chars().enumerate() {
        if i > 0 && (pounds.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("£{grouped}.{:02}", pence % 100)
}

/// `Stage 1`, as a heading or at the start of a sentence.
pub fn stage(stage: Stage) -> &'static str {
    match stage {
        Stage::Stage1 => "Stage 1",
        Stage::Stage2 => "Stage 2",
    }
}

pub fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Upheld => "upheld",
        Outcome::PartlyUpheld => "partly upheld",
        Outcome::NotUpheld => "not upheld",
    }
}

/// The reason in words a resident reads.
pub fn refusal_reason(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::OlderThanTwelveMonths => {
            "the issue you raised arose more than twelve months before you told us about it"
        }
        RefusalReason::LegalProceedings => "legal proceedings about the matter have started",
        RefusalReason::PreviouslyConsidered => {
            "the matter has already been considered under our complaints policy"
        }
    }
}

/// The name of a deadline-bearing step, keyed as in the case view.
pub fn step(step: &str) -> String {
    match step {
        "acknowledge" => "Acknowledgement".into(),
        "stage1_response" => "Stage 1 response".into(),
        "stage2_acknowledge" => "Stage 2 acknowledgement".into(),
        "stage2_response" => "Stage 2 response".into(),
        other => other.replace('_', " "),
    }
}

pub fn deadline_state(state: DeadlineState) -> &'static str {
    match state {
        DeadlineState::Pending => "pending",
        DeadlineState::DueSoon => "due soon",
        DeadlineState::Breached => "missed",
        DeadlineState::Met => "met",
        DeadlineState::MetLate => "met late (missed)",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pounds_group_thousands_and_keep_two_decimals() {
        assert_eq!(pounds(0), "£0.00");
        assert_eq!(pounds(5), "£0.05");
        assert_eq!(pounds(15_000), "£150.00");
        assert_eq!(pounds(123_456_789), "£1,234,567.89");
        assert_eq!(pounds(100_000), "£1,000.00");
    }

    #[test]
    fn an_instant_shows_a_fraction_only_when_it_has_one() {
        let at = DateTime::parse_from_rfc3339("2025-03-03T09:00:00Z").unwrap();
        assert_eq!(instant(at.to_utc()), "2025-03-03 09:00:00 UTC");
        let at = DateTime::parse_from_rfc3339("2025-03-03T09:00:00.25Z").unwrap();
        assert_eq!(instant(at.to_utc()), "2025-03-03 09:00:00.250 UTC");
    }

    #[test]
    fn a_long_date_has_no_leading_zero() {
        let date = NaiveDate::from_ymd_opt(2025, 3, 3).unwrap();
        assert_eq!(long_date(date), "3 March 2025");
    }
}
