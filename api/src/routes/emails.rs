//! `/api/v1/emails`: the notification emails, each with where it went and how its
//! attempts went, so that one the mail server never took is seen, not lost in a log; and
//! given-up ones put back in the queue once what refused them is mended.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use casefile_store::outbox::EmailState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

/// The most emails one listing returns.
const LIMIT: i64 = 1000;

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailFilter {
    #[default]
    All,
    /// Neither sent nor given up.
    Waiting,
    Sent,
    /// Given up: refused for good, or for now at every attempt.
    Failed,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EmailParams {
    /// `all` (the default), `waiting`, `sent` or `failed`.
    pub state: Option<EmailFilter>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailView {
    pub id: i64,
    pub case_id: String,
    pub reference: String,
    pub event_type: String,
    pub to: String,
    pub cc: Option<String>,
    /// The recipients who have taken it: each is sent to on their own, so one who refuses
    /// it holds back none of the others.
    pub sent_to: Vec<String>,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
    pub gave_up_at: Option<String>,
    /// What the mail server said to each recipient who refused it at the last attempt
    /// that failed, or what went wrong.
    pub last_error: Option<String>,
}

impl From<casefile_store::outbox::Email> for EmailView {
    fn from(e: casefile_store::outbox::Email) -> Self {
        Self {
            id: e.id,
            case_id: e.case_id,
            reference: e.reference,
            event_type: e.event_type,
            to: e.to,
            cc: e.cc,
            sent_to: e.sent_to,
            attempts: e.attempts,
            next_attempt_at: e.next_attempt_at,
            sent_at: e.sent_at,
            gave_up_at: e.gave_up_at,
            last_error: e.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Requeued {
    /// How many given-up emails went back in the queue.
    pub requeued: u64,
}

/// The newest 1,000 notification emails, newest first.
#[utoipa::path(get, path = "/api/v1/emails", tag = "webhooks",
    params(EmailParams),
    responses(
        (status = 200, body = Vec<EmailView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_emails(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<EmailParams>, QueryRejection>,
) -> Result<Json<Vec<EmailView>>, ApiError> {
    principal.require(&[Role::Admin])?;
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        message: rejection.body_text(),
    })?;
    let wanted = match params.state.unwrap_or_default() {
        EmailFilter::All => EmailState::All,
        EmailFilter::Waiting => EmailState::Waiting,
        EmailFilter::Sent => EmailState::Sent,
        EmailFilter::Failed => EmailState::GivenUp,
    };
    let emails = state.store.emails(wanted, LIMIT).await?;
    Ok(Json(emails.into_iter().map(EmailView::from).collect()))
}

/// Puts a given-up email back in the queue, due now, with its attempts counted afresh;
/// whoever has it already is not sent it again.
#[utoipa::path(post, path = "/api/v1/emails/{id}/retry", tag = "webhooks",
    params(("id" = i64, Path, description = "The email's id")),
    responses(
        (status = 200, body = EmailView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`email_not_given_up`: it is sent or waiting"),
    ),
    security(("bearer" = [])))]
pub async fn retry_email(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<EmailView>, ApiError> {
    principal.require(&[Role::Admin])?;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    if state.store.requeue_emails(Some(id)).await? == 0 {
        return Err(match state.store.email(id).await? {
            Some(_) => ApiError::Rejected {
                code: "email_not_given_up",
                message:
                    "only a given-up email goes back in the queue; this one is sent or waiting"
                        .to_string(),
            },
            None => ApiError::NotFound,
        });
    }
    let email = state.store.email(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(email.into()))
}

/// Puts every given-up email back in the queue, as `POST /emails/{id}/retry` does one:
/// once the mail server's settings that refused them are mended.
#[utoipa::path(post, path = "/api/v1/emails/retry", tag = "webhooks",
    responses(
        (status = 200, body = Requeued),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn retry_given_up(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Requeued>, ApiError> {
    principal.require(&[Role::Admin])?;
    let requeued = state.store.requeue_emails(None).await?;
    Ok(Json(Requeued { requeued }))
}
