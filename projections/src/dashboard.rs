//! The dashboard every staff role reads: open cases by stage, status, theme, root cause,
//! owner, division and SLA state; deadlines due today and this week; what is breached now;
//! what came in and what left the open state this week and this month; the average age of
//! open cases. Every figure is a [`Bucket`] carrying the work-queue query that lists exactly
//! the cases it counts, so each number can be clicked through and checked.

use std::collections::BTreeMap;

use casefile_domain::deadline::DeadlineState;
use casefile_domain::{unmet_state, Calendar, Division};
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

/// How many open cases share these queue columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenGroup {
    pub stage: String,
    pub theme: Option<String>,
    pub root_cause: Option<String>,
    pub owner_id: Option<String>,
    pub division: String,
    pub count: u64,
}

/// How many open cases of a division share a day: their nearest unmet deadline's due date
/// (`None` with none), or the day they were received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub division: String,
    pub day: Option<String>,
    pub count: u64,
}

/// A count and the `GET /api/v1/complaints` query string that lists those cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Bucket {
    pub count: u64,
    pub filter: String,
}

pub type Buckets = BTreeMap<String, Bucket>;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OpenCases {
    pub total: Bucket,
    pub by_stage: Buckets,
    pub by_status: Buckets,
    pub by_theme: Buckets,
    pub by_root_cause: Buckets,
    pub by_owner: Buckets,
    pub by_division: Buckets,
    pub by_sla: Buckets,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Periods {
    pub this_week: Bucket,
    pub this_month: Bucket,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dashboard {
    /// The UK date the figures are for.
    pub today: NaiveDate,
    pub open: OpenCases,
    /// Live deadlines due today, per step.
    pub due_today: Buckets,
    /// Live deadlines due Monday to Sunday of this UK week, per step.
    pub due_this_week: Buckets,
    /// Open cases whose nearest deadline has passed.
    pub breached: Bucket,
    pub received: Periods,
    /// Cases that left the open state (closed, withdrawn or refused).
    pub closed: Periods,
    /// Working days since receipt, averaged over open cases; `null` with none open.
    pub average_open_age_working_days: Option<f64>,
    /// Cases with a tracked action still open after its due date.
    pub actions_overdue: Bucket,
    /// Open cases whose resident's reasonable adjustments are due for review.
    pub adjustments_review_due: Bucket,
}

/// What the dashboard is computed from: counts grouped by the store, so that reading it
/// costs the number of distinct values, not the number of open cases.
#[derive(Debug, Clone, Default)]
pub struct DashboardInput {
    /// Open cases grouped by stage, theme, root cause, owner and division.
    pub open: Vec<OpenGroup>,
    /// Open cases grouped by division and next due date (their SLA state depends on both).
    pub open_by_next_due: Vec<DayCount>,
    /// Open cases grouped by division and day received (their age depends on both).
    pub open_by_received: Vec<DayCount>,
    /// `(step, due, count)` of live deadlines due this week.
    pub due_this_week: Vec<(String, NaiveDate, u64)>,
    pub received_this_week: u64,
    pub received_this_month: u64,
    pub closed_this_week: u64,
    pub closed_this_month: u64,
    /// Cases with a tracked action open after its due date.
    pub actions_overdue: u64,
    /// Open cases whose resident's adjustments are due for review.
    pub adjustments_review_due: u64,
}

/// Monday of `today`'s week, and the Monday after.
pub fn week_of(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    (monday, monday + Days::new(7))
}

/// The first day of `today`'s month, and the first day of the next.
pub fn month_of(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today.with_day(1).unwrap_or(today);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (first, next)
}

fn bucket(count: u64, filter: String) -> Bucket {
    Bucket { count, filter }
}

fn tally<'a>(
    values: impl Iterator<Item = (Option<&'a str>, u64)>,
    param: &str,
    base: &str,
) -> Buckets {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (value, count) in values {
        *counts
            .entry(value.unwrap_or("none").to_string())
            .or_default() += count;
    }
    counts
        .into_iter()
        .map(|(value, count)| {
            let filter = format!("{base}&{param}={}", encode(&value));
            (value, bucket(count, filter))
        })
        .collect()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl Dashboard {
    pub fn build(input: &DashboardInput, calendar: &Calendar, today: NaiveDate) -> Self {
        let base = "status=open";
        let open = &input.open;
        let division = |name: &str| -> Division {
            serde_json::from_value(serde_json::Value::String(name.to_string()))
                .unwrap_or(Division::EnglandAndWales)
        };
        let day = |text: Option<&str>| NaiveDate::parse_from_str(text?, "%Y-%m-%d").ok();
        let open_total: u64 = open.iter().map(|g| g.count).sum();

        // One SLA state per division and due date, not per case.
        let mut sla_counts: Vec<(DeadlineState, u64)> = Vec::new();
        for group in &input.open_by_next_due {
            if let Some(due) = day(group.day.as_deref()) {
                let state = unmet_state(calendar, division(&group.division), due, today);
                sla_counts.push((state, group.count));
            }
        }
        let mut by_sla = Buckets::new();
        for (state, name) in [
            (DeadlineState::Pending, "pending"),
            (DeadlineState::DueSoon, "due_soon"),
            (DeadlineState::Breached, "breached"),
        ] {
            let count = sla_counts
                .iter()
                .filter(|(s, _)| *s == state)
                .map(|(_, n)| n)
                .sum();
            by_sla.insert(
                name.to_string(),
                bucket(count, format!("{base}&sla={name}")),
            );
        }
        let breached = by_sla
            .get("breached")
            .cloned()
            .unwrap_or_else(|| bucket(0, format!("{base}&sla=breached")));

        let (monday, next_monday) = week_of(today);
        let tomorrow = today + Days::new(1);
        let mut due_today: BTreeMap<String, u64> = BTreeMap::new();
        let mut due_week: BTreeMap<String, u64> = BTreeMap::new();
        for (step, due, count) in &input.due_this_week {
            *due_week.entry(step.clone()).or_default() += count;
            if *due == today {
                *due_today.entry(step.clone()).or_default() += count;
            }
        }
        let steps = |counts: BTreeMap<String, u64>, from: NaiveDate, before: NaiveDate| {
            counts
                .into_iter()
                .map(|(step, count)| {
                    let filter = format!(
                        "{base}&step={}&due_from={from}&due_before={before}",
                        encode(&step)
                    );
                    (step, bucket(count, filter))
                })
                .collect::<Buckets>()
        };

        let (first, next_first) = month_of(today);
        let last_of = |d: NaiveDate| d - Days::new(1);
        let period = |param: &str, from: NaiveDate, to: NaiveDate, count: u64| {
            bucket(count, format!("{param}_from={from}&{param}_to={to}"))
        };

        let mut total_age: u64 = 0;
        let mut aged: u64 = 0;
        for group in &input.open_by_received {
            let age = day(group.day.as_deref())
                .map(|received| {
                    calendar.working_days_between(division(&group.division), received, today)
                })
                .unwrap_or(0);
            total_age += u64::from(age) * group.count;
            aged += group.count;
        }
        let average_open_age_working_days =
            (aged > 0).then(|| (total_age as f64 / aged as f64 * 10.0).round() / 10.0);

        Self {
            today,
            open: OpenCases {
                total: bucket(open_total, base.to_string()),
                by_stage: tally(
                    open.iter().map(|g| (Some(g.stage.as_str()), g.count)),
                    "stage",
                    base,
                ),
                by_status: BTreeMap::from([(
                    "open".to_string(),
                    bucket(open_total, base.to_string()),
                )]),
                by_theme: tally(
                    open.iter().map(|g| (g.theme.as_deref(), g.count)),
                    "theme",
                    base,
                ),
                by_root_cause: tally(
                    open.iter().map(|g| (g.root_cause.as_deref(), g.count)),
                    "root_cause",
                    base,
                ),
                by_owner: tally(
                    open.iter().map(|g| (g.owner_id.as_deref(), g.count)),
                    "owner",
                    base,
                ),
                by_division: tally(
                    open.iter().map(|g| (Some(g.division.as_str()), g.count)),
                    "division",
                    base,
                ),
                by_sla,
            },
            actions_overdue: bucket(input.actions_overdue, "actions=overdue".to_string()),
            adjustments_review_due: bucket(
                input.adjustments_review_due,
                format!("{base}&adjustments=review_due"),
            ),
            due_today: steps(due_today, today, tomorrow),
            due_this_week: steps(due_week, monday, next_monday),
            breached,
            received: Periods {
                this_week: period(
                    "received",
                    monday,
                    last_of(next_monday),
                    input.received_this_week,
                ),
                this_month: period(
                    "received",
                    first,
                    last_of(next_first),
                    input.received_this_month,
                ),
            },
            closed: Periods {
                this_week: period(
                    "closed",
                    monday,
                    last_of(next_monday),
                    input.closed_this_week,
                ),
                this_month: period(
                    "closed",
                    first,
                    last_of(next_first),
                    input.closed_this_month,
                ),
            },
            average_open_age_working_days,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_week_runs_monday_to_sunday_and_the_month_to_its_last_day() {
        // 2026-11-25 is a Wednesday.
        assert_eq!(
            week_of(day("2026-11-25")),
            (day("2026-11-23"), day("2026-11-30"))
        );
        assert_eq!(
            week_of(day("2026-11-23")),
            (day("2026-11-23"), day("2026-11-30"))
        );
        assert_eq!(
            week_of(day("2026-11-29")),
            (day("2026-11-23"), day("2026-11-30"))
        );
        assert_eq!(
            month_of(day("2026-12-31")),
            (day("2026-12-01"), day("2027-01-01"))
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("Damp & mould"), "Damp%20%26%20mould");
        assert_eq!(encode("england-and-wales"), "england-and-wales");
    }

    #[test]
    fn an_empty_store_gives_zeros_and_no_average() {
        let calendar = Calendar::builtin();
        let d = Dashboard::build(&DashboardInput::default(), &calendar, day("2026-11-25"));
        assert_eq!(d.open.total.count, 0);
        assert_eq!(d.average_open_age_working_days, None);
        assert_eq!(d.breached.count, 0);
        assert_eq!(
            d.received.this_week.filter,
            "received_from=2026-11-23&received_to=2026-11-29"
        );
    }

    fn group(
        stage: &str,
        theme: Option<&str>,
        root_cause: Option<&str>,
        owner: Option<&str>,
        division: &str,
        count: u64,
    ) -> OpenGroup {
        OpenGroup {
            stage: stage.to_string(),
            theme: theme.map(str::to_string),
            root_cause: root_cause.map(str::to_string),
            owner_id: owner.map(str::to_string),
            division: division.to_string(),
            count,
        }
    }

    fn days(division: &str, day: Option<&str>, count: u64) -> DayCount {
        DayCount {
            division: division.to_string(),
            day: day.map(str::to_string),
            count,
        }
    }

    #[test]
    fn grouped_counts_are_added_up_per_bucket() {
        let calendar = Calendar::builtin();
        let ew = "england-and-wales";
        let input = DashboardInput {
            open: vec![
                group("stage1", Some("Damp"), None, Some("u1"), "scotland", 3),
                group("stage1", None, None, None, ew, 2),
                group(
                    "stage2",
                    Some("Damp"),
                    Some("Contractor"),
                    Some("u1"),
                    ew,
                    4,
                ),
            ],
            open_by_next_due: vec![
                days(ew, Some("2026-10-01"), 2),
                days("scotland", Some("2026-10-01"), 1),
                // Thursday: one working day after Wednesday 25 November.
                days(ew, Some("2026-11-26"), 3),
                days(ew, Some("2027-03-01"), 2),
                days("scotland", None, 1),
            ],
            open_by_received: vec![
                // Five working days before Wednesday 25 November, none a holiday.
                days(ew, Some("2026-11-18"), 4),
                days("scotland", Some("2026-11-25"), 3),
                days(ew, Some("2026-11-24"), 2),
            ],
            due_this_week: vec![
                ("stage1_response".to_string(), day("2026-11-25"), 2),
                ("stage1_response".to_string(), day("2026-11-27"), 3),
                ("acknowledgement".to_string(), day("2026-11-25"), 1),
            ],
            ..DashboardInput::default()
        };
        let d = Dashboard::build(&input, &calendar, day("2026-11-25"));
        let count = |buckets: &Buckets, key: &str| buckets.get(key).map(|b| b.count);
        assert_eq!(d.open.total.count, 9);
        assert_eq!(count(&d.open.by_status, "open"), Some(9));
        assert_eq!(count(&d.open.by_stage, "stage1"), Some(5));
        assert_eq!(count(&d.open.by_stage, "stage2"), Some(4));
        assert_eq!(count(&d.open.by_theme, "Damp"), Some(7));
        assert_eq!(count(&d.open.by_theme, "none"), Some(2));
        assert_eq!(count(&d.open.by_root_cause, "Contractor"), Some(4));
        assert_eq!(count(&d.open.by_root_cause, "none"), Some(5));
        assert_eq!(count(&d.open.by_owner, "u1"), Some(7));
        assert_eq!(count(&d.open.by_owner, "none"), Some(2));
        assert_eq!(count(&d.open.by_division, "scotland"), Some(3));
        assert_eq!(count(&d.open.by_division, ew), Some(6));
        assert_eq!(count(&d.open.by_sla, "breached"), Some(3));
        assert_eq!(count(&d.open.by_sla, "due_soon"), Some(3));
        assert_eq!(count(&d.open.by_sla, "pending"), Some(2));
        assert_eq!(d.breached.count, 3);
        assert_eq!(count(&d.due_today, "stage1_response"), Some(2));
        assert_eq!(count(&d.due_today, "acknowledgement"), Some(1));
        assert_eq!(count(&d.due_this_week, "stage1_response"), Some(5));
        assert_eq!(count(&d.due_this_week, "acknowledgement"), Some(1));
        // (4 × 5 + 3 × 0 + 2 × 1) / 9 = 2.44…
        assert_eq!(d.average_open_age_working_days, Some(2.4));
        assert_eq!(
            d.open.by_theme.get("Damp").map(|b| b.filter.as_str()),
            Some("status=open&theme=Damp")
        );
    }
}
