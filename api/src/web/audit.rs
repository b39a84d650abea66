//! The audit pages of a case: the case as it stood at a chosen moment (the same
//! [`Cases::as_of`](crate::cases::Cases::as_of) as `GET /api/v1/complaints/{id}?as_of=`),
//! and the check of its hash chain (the same verification as
//! `GET /api/v1/complaints/{id}/verify`). Both only read.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use casefile_domain::{uk_date, DeadlineState};
use casefile_projections::CaseView;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::complaints::{
    case_id, parse_as_of, verification, Verification, READERS, VERIFIERS,
};
use crate::startup::AppState;

use super::cases::event_title;
use super::forms::{FieldErrors, Problem};
use super::session::Staff;
use super::PageError;

/// The query of the audit page, as its form sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// `YYYY-MM-DD`.
    date: String,
    /// `HH:MM` in UK time; blank means the end of the day.
    time: String,
}

/// One event of the case up to the moment chosen.
#[derive(Debug, Serialize)]
struct EventRow {
    sequence: u64,
    title: String,
    occurred_at: String,
    recorded_at: String,
    actor: String,
    role: Option<String>,
}

#[derive(Debug, Serialize)]
struct DeadlineRow {
    step: String,
    due: String,
    state: DeadlineState,
    met_on: Option<String>,
}

#[derive(Debug, Serialize)]
struct AuditPage {
    id: String,
    reference: String,
    summary: String,
    date: String,
    time: String,
    errors: FieldErrors,
    problems: Vec<Problem>,
    /// The moment asked for, in words.
    moment: Option<String>,
    /// Set when the moment is before the case was logged: when it was.
    logged_at: Option<String>,
    /// The case as it stood, with its deadlines and events up to then.
    case: Option<CaseView>,
    deadlines: Vec<DeadlineRow>,
    events: Vec<EventRow>,
    /// Events recorded after the moment, not shown.
    later_events: usize,
}

/// The moment a date and an optional UK wall-clock time stand for.
fn moment(errors: &mut FieldErrors, date: &str, time: &str) -> Option<(DateTime<Utc>, String)> {
    let date = date.trim();
    let time = time.trim();
    if date.is_empty() {
        errors.add("date", "Enter the date to see the case on");
        return None;
    }
    let Ok(day) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
        errors.add("date", "Enter a real date, for example 2025-03-27");
        return None;
    };
    if time.is_empty() {
        // The API's own reading of a date: the last moment of that day in the UK.
        return match parse_as_of(date) {
            Ok(at) => Some((at, format!("the end of {}", day.format("%-d %B %Y")))),
            Err(_) => {
                errors.add("date", "Enter a real date, for example 2025-03-27");
                None
            }
        };
    }
    let Some(clock) = NaiveTime::parse_from_str(time, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M:%S"))
        .ok()
    else {
        errors.add("time", "Enter a time of day, for example 14:30");
        return None;
    };
    // When the clocks go back an hour happens twice: the first of the two is meant.
    match chrono_tz::Europe::London
        .from_local_datetime(&day.and_time(clock))
        .earliest()
    {
        Some(at) => Some((
            at.with_timezone(&Utc),
            format!(
                "{} on {}",
                // Seconds only when given: most people pick a minute.
                if clock.second() == 0 {
                    clock.format("%H:%M")
                } else {
                    clock.format("%H:%M:%S")
                },
                day.format("%-d %B %Y")
            ),
        )),
        None => {
            errors.add(
                "time",
                "There was no such time in the UK that day: the clocks went forward an hour",
            );
            None
        }
    }
}

/// `/cases/{id}/audit?date=&time=`: the case as it stood then.
pub async fn audit(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    staff.principal.require(READERS)?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    let now = state.cases.view(&id).await?.ok_or(PageError::NotFound)?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let asked = !query.date.trim().is_empty() || !query.time.trim().is_empty();
    let mut errors = FieldErrors::default();
    let mut page = AuditPage {
        id: id.clone(),
        reference: now.reference.clone(),
        summary: now.summary.clone(),
        date: query.date.trim().to_string(),
        time: query.time.trim().to_string(),
        errors: FieldErrors::default(),
        problems: Vec::new(),
        moment: None,
        logged_at: None,
        case: None,
        deadlines: Vec::new(),
        events: Vec::new(),
        later_events: 0,
    };
    if !asked {
        page.date = uk_date(Utc::now()).to_string();
        return state.web.page("audit.html", Some(&staff), page);
    }
    if let Some((at, words)) = moment(&mut errors, &query.date, &query.time) {
        page.moment = Some(words);
        match state.cases.as_of(&id, at).await {
            Ok(stood) => {
                let total = state
                    .cases
                    .history(&id)
                    .await?
                    .map_or(0, |h| h.events.len());
                page.later_events = total.saturating_sub(stood.history.events.len());
                page.events = stood
                    .history
                    .events
                    .iter()
                    .map(|e| EventRow {
                        sequence: e.sequence,
                        title: event_title(&e.event_type),
                        occurred_at: e.occurred_at.to_rfc3339(),
                        recorded_at: e.recorded_at.to_rfc3339(),
                        actor: e.actor.name.clone(),
                        role: e.actor.role.clone(),
                    })
                    .collect();
                page.deadlines = stood
                    .view
                    .deadlines
                    .iter()
                    .map(|(step, d)| DeadlineRow {
                        step: step.clone(),
                        due: d.due.to_string(),
                        state: d.state,
                        met_on: d.met_on.map(|m| m.to_string()),
                    })
                    .collect();
                page.case = Some(stood.view);
            }
            Err(ApiError::NotYetLogged) => {
                // Not an error: the case simply did not exist yet. Say when it began.
                let history = state.cases.history(&id).await?;
                page.logged_at =
                    history.and_then(|h| h.events.first().map(|e| e.recorded_at.to_rfc3339()));
            }
            Err(other) => return Err(other.into()),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page.problems = errors.problems(|field| format!("audit-{field}"));
    page.errors = errors;
    state
        .web
        .page_with_status(status, "audit.html", Some(&staff), page)
}

#[derive(Debug, Serialize)]
struct ChainPage {
    id: String,
    reference: String,
    summary: String,
    checked_at: String,
    result: Verification,
}

/// `/cases/{id}/verify`: whether every event of the case is as it was written.
pub async fn verify(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.principal.require(VERIFIERS)?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    let now = state.cases.view(&id).await?.ok_or(PageError::NotFound)?;
    let result = verification(&state, &id).await?;
    state.web.page(
        "chain.html",
        Some(&staff),
        ChainPage {
            id,
            reference: now.reference,
            summary: now.summary,
            checked_at: Utc::now().to_rfc3339(),
            result,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_date_alone_means_the_end_of_that_uk_day() {
        let mut errors = FieldErrors::default();
        // 1 July is in British Summer Time: the day ends at 23:00 UTC.
        let (moment, words) = moment(&mut errors, "2025-07-01", "").unwrap_or_default();
        assert_eq!(moment, at("2025-07-01T22:59:59.999999Z"));
        assert_eq!(words, "the end of 1 July 2025");
        assert!(errors.is_empty());
    }

    #[test]
    fn a_time_is_uk_wall_clock_time() {
        let mut errors = FieldErrors::default();
        let (summer, words) = moment(&mut errors, "2025-07-01", "10:30").unwrap_or_default();
        assert_eq!(summer, at("2025-07-01T09:30:00Z"));
        assert_eq!(words, "10:30 on 1 July 2025");
        let (winter, words) = moment(&mut errors, "2025-01-15", "10:30:05").unwrap_or_default();
        assert_eq!(winter, at("2025-01-15T10:30:05Z"));
        assert_eq!(words, "10:30:05 on 15 January 2025");
    }

    #[test]
    fn a_time_skipped_by_the_clocks_or_a_bad_date_is_an_error_on_its_field() {
        let mut errors = FieldErrors::default();
        // 30 March 2025: the clocks went from 01:00 to 02:00.
        assert!(moment(&mut errors, "2025-03-30", "01:30").is_none());
        assert!(moment(&mut errors, "30/03/2025", "").is_none());
        let fields: Vec<&str> = errors.0.keys().map(String::as_str).collect();
        assert_eq!(fields, vec!["date", "time"]);
    }
}
