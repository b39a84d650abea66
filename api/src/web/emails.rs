//! The administrator's page of notification emails: where each went, how its attempts went,
//! and a button that puts given-up ones back in the queue once what refused them is mended.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use casefile_store::outbox::{Email, EmailState};
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::startup::AppState;

use super::forms::FormData;
use super::session::Staff;
use super::PageError;

/// The most emails the page shows.
const LIMIT: i64 = 200;

#[derive(Debug, Default, Deserialize)]
pub struct EmailsQuery {
    /// `all` (the default), `waiting`, `sent` or `failed`, as in the API.
    state: Option<String>,
    /// How many the last button put back in the queue.
    requeued: Option<u64>,
}

#[derive(Debug, Serialize)]
struct EmailsPage {
    /// The state shown, and the states to choose from with their words.
    state: &'static str,
    states: [(&'static str, &'static str); 4],
    emails: Vec<Shown>,
    limit: i64,
    notice: Option<String>,
}

#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    email: Email,
    /// `waiting`, `sent` or `failed`.
    state: &'static str,
}

fn state_of(email: &Email) -> &'static str {
    match (&email.sent_at, &email.gave_up_at) {
        (Some(_), _) => "sent",
        (None, Some(_)) => "failed",
        (None, None) => "waiting",
    }
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    query: Result<Query<EmailsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    staff.principal.require(&[Role::Admin])?;
    // A query that does not parse (typed by hand) shows every email.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let (shown, wanted) = match query.state.as_deref() {
        Some("waiting") => ("waiting", EmailState::Waiting),
        Some("sent") => ("sent", EmailState::Sent),
        Some("failed") => ("failed", EmailState::GivenUp),
        _ => ("all", EmailState::All),
    };
    let emails = state
        .store
        .emails(wanted, LIMIT)
        .await?
        .into_iter()
        .map(|email| Shown {
            state: state_of(&email),
            email,
        })
        .collect();
    let notice = query.requeued.map(|n| match n {
        0 => "No email was given up, so none went back in the queue.".to_string(),
        1 => "1 email went back in the queue.".to_string(),
        n => format!("{n} emails went back in the queue."),
    });
    state.web.page(
        "admin_emails.html",
        Some(&staff),
        EmailsPage {
            state: shown,
            states: [
                ("all", "All"),
                ("waiting", "Waiting"),
                ("sent", "Sent"),
                ("failed", "Given up"),
            ],
            emails,
            limit: LIMIT,
            notice,
        },
    )
}

/// Puts every given-up email back in the queue.
pub async fn retry_all(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    staff.principal.require(&[Role::Admin])?;
    staff.check_csrf(FormData::parse(&body).get("csrf"))?;
    let requeued = state.store.requeue_emails(None).await?;
    Ok(Redirect::to(&format!("/admin/emails?state=waiting&requeued={requeued}")).into_response())
}

/// Puts one given-up email back in the queue; one sent or waiting is left as it is.
pub async fn retry(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    staff.principal.require(&[Role::Admin])?;
    staff.check_csrf(FormData::parse(&body).get("csrf"))?;
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    if state.store.email(id).await?.is_none() {
        return Err(PageError::NotFound);
    }
    let requeued = state.store.requeue_emails(Some(id)).await?;
    Ok(Redirect::to(&format!("/admin/emails?state=waiting&requeued={requeued}")).into_response())
}
