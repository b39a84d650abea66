//! The dashboard every staff role reads: open cases by stage, status, theme, root cause,
//! owner, division and SLA state; deadlines due today and this week; what is breached now;
//! what came in and what left the open state this week and this month; the average age of
//! open cases. Every figure is a [`Bucket`] carrying the work-queue query that lists exactly
//! the cases it counts, so each number can be clicked through and checked.

use std::collections::{BTreeMap, HashMap};

use casefile_domain::deadline::DeadlineState;
use casefile_domain::{unmet_state, Calendar, Division};
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

/// The queue columns of one open case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCase {
    pub stage: String,
    pub theme: Option<String>,
    pub root_cause: Option<String>,
    pub owner_id: Option<String>,
    pub division: String,
    pub next_due: Option<String>,
    pub received_on: String,
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
}

/// What the dashboard is computed from, read from the queue tables.
#[derive(Debug, Clone, Default)]
pub struct DashboardInput {
    pub open: Vec<OpenCase>,
    /// `(step, due)` of live deadlines due this week.
    pub due_this_week: Vec<(String, NaiveDate)>,
    pub received_this_week: u64,
    pub received_this_month: u64,
    pub closed_this_week: u64,
    pub closed_this_month: u64,
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

fn tally<'a>(values: impl Iterator<Item = Option<&'a str>>, param: &str, base: &str) -> Buckets {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for value in values {
        *counts
            .entry(value.unwrap_or("none").to_string())
            .or_default() += 1;
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
        let division = |c: &OpenCase| -> Division {
            serde_json::from_value(serde_json::Value::String(c.division.clone()))
                .unwrap_or(Division::EnglandAndWales)
        };
        let sla = |c: &OpenCase| -> Option<DeadlineState> {
            let due = NaiveDate::parse_from_str(c.next_due.as_deref()?, "%Y-%m-%d").ok()?;
            Some(unmet_state(calendar, division(c), due, today))
        };
        let mut by_sla = Buckets::new();
        for (state, name) in [
            (DeadlineState::Pending, "pending"),
            (DeadlineState::DueSoon, "due_soon"),
            (DeadlineState::Breached, "breached"),
        ] {
            let count = open.iter().filter(|c| sla(c) == Some(state)).count() as u64;
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
        for (step, due) in &input.due_this_week {
            *due_week.entry(step.clone()).or_default() += 1;
            if *due == today {
                *due_today.entry(step.clone()).or_default() += 1;
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

        let mut ages: HashMap<(String, String), u32> = HashMap::new();
        let mut total_age: u64 = 0;
        for case in open {
            let key = (case.division.clone(), case.received_on.clone());
            let age = *ages.entry(key).or_insert_with(|| {
                NaiveDate::parse_from_str(&case.received_on, "%Y-%m-%d")
                    .map(|received| calendar.working_days_between(division(case), received, today))
                    .unwrap_or(0)
            });
            total_age += u64::from(age);
        }
        let average_open_age_working_days = (!open.is_empty())
            .then(|| (total_age as f64 / open.len() as f64 * 10.0).round() / 10.0);

        Self {
            today,
            open: OpenCases {
                total: bucket(open.len() as u64, base.to_string()),
                by_stage: tally(open.iter().map(|c| Some(c.stage.as_str())), "stage", base),
                by_status: BTreeMap::from([(
                    "open".to_string(),
                    bucket(open.len() as u64, base.to_string()),
                )]),
                by_theme: tally(open.iter().map(|c| c.theme.as_deref()), "theme", base),
                by_root_cause: tally(
                    open.iter().map(|c| c.root_cause.as_deref()),
                    "root_cause",
                    base,
                ),
                by_owner: tally(open.iter().map(|c| c.owner_id.as_deref()), "owner", base),
                by_division: tally(
                    open.iter().map(|c| Some(c.division.as_str())),
                    "division",
                    base,
                ),
                by_sla,
            },
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
}
