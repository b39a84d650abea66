//! The home page: the dashboard. Every figure links to the work queue filtered to exactly
//! the cases it counts, so a number can always be checked case by case.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use casefile_domain::uk_date;
use casefile_projections::dashboard::{week_of, Bucket, Buckets};
use chrono::Utc;
use serde::Serialize;

use crate::routes::complaints::READERS;
use crate::startup::AppState;

use super::session::Staff;
use super::templates::label;
use super::PageError;

/// One figure of the dashboard and the queue that lists its cases.
#[derive(Debug, Serialize)]
struct Figure {
    label: String,
    count: u64,
    href: String,
    /// The bar's length as a share of the largest figure of its chart, in percent.
    share: u64,
}

fn href(bucket: &Bucket) -> String {
    format!("/cases?{}", bucket.filter)
}

fn figure(label: String, bucket: &Bucket) -> Figure {
    Figure {
        label,
        count: bucket.count,
        href: href(bucket),
        share: 0,
    }
}

/// Figures in the buckets' own order, labelled for people.
fn figures(buckets: &Buckets, name: impl Fn(&str) -> String) -> Vec<Figure> {
    let mut rows: Vec<Figure> = buckets
        .iter()
        .map(|(key, bucket)| figure(name(key), bucket))
        .collect();
    let largest = rows.iter().map(|f| f.count).max().unwrap_or(0);
    for row in &mut rows {
        row.share = (row.count * 100).checked_div(largest).unwrap_or(0);
    }
    rows
}

fn words(value: &str) -> String {
    if value == "none" {
        "Not set".to_string()
    } else {
        label(value.to_string())
    }
}

#[derive(Debug, Serialize)]
struct DashboardPage {
    can_read: bool,
    today: String,
    open_total: Option<Figure>,
    breached: Option<Figure>,
    due_this_week: Vec<Figure>,
    due_this_week_total: u64,
    due_this_week_href: String,
    due_today: Vec<Figure>,
    by_sla: Vec<Figure>,
    by_stage: Vec<Figure>,
    by_owner: Vec<Figure>,
    by_theme: Vec<Figure>,
    by_root_cause: Vec<Figure>,
    by_division: Vec<Figure>,
    flow: Vec<Figure>,
    average_open_age_working_days: Option<f64>,
    /// `SLA state: count` pairs, the chart's text alternative.
    sla_summary: String,
}

pub async fn home(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    let can_read = staff.principal.require(READERS).is_ok();
    let mut page = DashboardPage {
        can_read,
        today: String::new(),
        open_total: None,
        breached: None,
        due_this_week: Vec::new(),
        due_this_week_total: 0,
        due_this_week_href: String::new(),
        due_today: Vec::new(),
        by_sla: Vec::new(),
        by_stage: Vec::new(),
        by_owner: Vec::new(),
        by_theme: Vec::new(),
        by_root_cause: Vec::new(),
        by_division: Vec::new(),
        flow: Vec::new(),
        average_open_age_working_days: None,
        sla_summary: String::new(),
    };
    if can_read {
        let today = uk_date(Utc::now());
        let dashboard = state.store.dashboard(&state.web.calendar, today).await?;
        let names: HashMap<String, String> = state
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        let open = &dashboard.open;
        page.today = today.to_string();
        page.open_total = Some(figure("Open cases".to_string(), &open.total));
        page.breached = Some(figure("Breached now".to_string(), &dashboard.breached));
        page.due_this_week_total = dashboard.due_this_week.values().map(|b| b.count).sum();
        let (monday, next_monday) = week_of(today);
        page.due_this_week_href =
            format!("/cases?status=open&due_from={monday}&due_before={next_monday}");
        page.due_this_week = figures(&dashboard.due_this_week, words);
        page.due_today = figures(&dashboard.due_today, words);
        // Breached, due soon, on track: the buckets' alphabetical order is worst first.
        let by_sla = figures(&open.by_sla, words);
        page.sla_summary = by_sla
            .iter()
            .map(|f| format!("{} {}", f.label, f.count))
            .collect::<Vec<_>>()
            .join(", ");
        page.by_sla = by_sla;
        page.by_stage = figures(&open.by_stage, words);
        page.by_owner = figures(&open.by_owner, |id| match id {
            "none" => "Nobody yet".to_string(),
            id => names.get(id).cloned().unwrap_or_else(|| id.to_string()),
        });
        page.by_theme = figures(&open.by_theme, words);
        page.by_root_cause = figures(&open.by_root_cause, words);
        page.by_division = figures(&open.by_division, words);
        page.flow = vec![
            figure(
                "Received this week".to_string(),
                &dashboard.received.this_week,
            ),
            figure(
                "Received this month".to_string(),
                &dashboard.received.this_month,
            ),
            figure("Closed this week".to_string(), &dashboard.closed.this_week),
            figure(
                "Closed this month".to_string(),
                &dashboard.closed.this_month,
            ),
        ];
        page.average_open_age_working_days = dashboard.average_open_age_working_days;
    }
    state.web.page("home.html", Some(&staff), page)
}
