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
use crate::watchdog::smtp::Sent;

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
    /// How a test email went, when it was not taken.
    test_problem: Option<String>,
    /// The test form's address, and the error on it.
    test_to: String,
    test_error: Option<String>,
    /// Whether a mail server is set, so that a test email can be sent.
    mail_server: bool,
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
    let notice = query.requeued.map(|n| match n {
        0 => "No email was given up, so none went back in the queue.".to_string(),
        1 => "1 email went back in the queue.".to_string(),
        n => format!("{n} emails went back in the queue."),
    });
    emails_page(
        &state,
        &staff,
        query.state.as_deref(),
        Tested {
            notice,
            ..Tested::default()
        },
    )
    .await
}

/// What the test form gave, if it was sent.
#[derive(Default)]
struct Tested {
    notice: Option<String>,
    problem: Option<String>,
    to: String,
    error: Option<String>,
}

async fn emails_page(
    state: &AppState,
    staff: &Staff,
    wanted: Option<&str>,
    tested: Tested,
) -> Result<Response, PageError> {
    let (shown, wanted) = match wanted {
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
    let status = if tested.error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    state.web.page_with_status(
        status,
        "admin_emails.html",
        Some(staff),
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
            notice: tested.notice,
            test_problem: tested.problem,
            test_to: tested.to,
            test_error: tested.error,
            mail_server: state.mailer.is_some(),
        },
    )
}

/// Sends a test email through the mail server, and shows how it went.
pub async fn test(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    staff.principal.require(&[Role::Admin])?;
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    let to = form.text("to").unwrap_or_default();
    let mut tested = Tested {
        to: to.clone(),
        ..Tested::default()
    };
    match (&state.mailer, to.parse::<lettre::Address>()) {
        (None, _) => tested.problem = Some("No mail server is set (CASEFILE_SMTP_URL).".into()),
        (Some(_), Err(_)) => {
            tested.error = Some("Enter an email address, like name@example.org".to_string());
        }
        (Some(mailer), Ok(address)) => match mailer.send_test(address).await {
            Sent::Tried { accepted, .. } if !accepted.is_empty() => {
                tested.notice = Some(format!("The mail server took a test email for {to}."));
            }
            Sent::Tried { refused, .. } => {
                let reply = refused
                    .into_iter()
                    .next()
                    .map(|r| r.reply)
                    .unwrap_or_default();
                tested.problem = Some(format!(
                    "The mail server refused a test email for {to}: {reply}"
                ));
            }
            Sent::ServerDown(down) => {
                tested.problem = Some(format!(
                    "The mail server could not be used, so no alert email goes out until this is mended: {}",
                    down.error
                ));
            }
        },
    }
    emails_page(&state, &staff, None, tested).await
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
