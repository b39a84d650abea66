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
use crate::extract::ApiJson;
use crate::startup::AppState;
use crate::watchdog::smtp::Sent;

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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEmail {
    /// Where the test email goes.
    #[schema(format = "email")]
    pub to: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestEmailSent {
    pub to: String,
    /// The mail server took it for this address.
    pub taken: bool,
    /// The mail server could not be used at all (not reached, TLS or login failed, the
    /// sender refused): alert emails wait, none is given up.
    pub server_down: bool,
    /// What the server said when it did not take it, or what went wrong.
    pub reply: Option<String>,
}

/// Sends a test email through the mail server alerts go out by, and says how it went: to
/// check `CASEFILE_SMTP_URL` and `CASEFILE_SMTP_FROM`, and that the relay takes mail for
/// an address, before an alert depends on it. Nothing is recorded.
#[utoipa::path(post, path = "/api/v1/emails/test", tag = "webhooks",
    request_body = TestEmail,
    responses(
        (status = 200, body = TestEmailSent),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`email_not_configured`: no `CASEFILE_SMTP_URL`"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn send_test(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<TestEmail>,
) -> Result<Json<TestEmailSent>, ApiError> {
    principal.require(&[Role::Admin])?;
    let Some(mailer) = &state.mailer else {
        return Err(ApiError::Rejected {
            code: "email_not_configured",
            message: "no mail server is set: see CASEFILE_SMTP_URL".to_string(),
        });
    };
    let to = request.to.trim().to_string();
    let Ok(address) = to.parse::<lettre::Address>() else {
        return Err(ApiError::Unprocessable {
            code: "invalid_field",
            message: "field `to` is not an email address a mail server can be given".to_string(),
            details: serde_json::json!({"field": "to"}),
        });
    };
    let sent = mailer.send_test(address).await;
    Ok(Json(match sent {
        Sent::ServerDown(down) => TestEmailSent {
            to,
            taken: false,
            server_down: true,
            reply: Some(down.error),
        },
        Sent::Tried {
            accepted, refused, ..
        } => TestEmailSent {
            to,
            taken: !accepted.is_empty(),
            server_down: false,
            reply: refused.into_iter().next().map(|refusal| refusal.reply),
        },
    }))
}
