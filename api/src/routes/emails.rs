//! `/api/v1/emails`: the notification emails, each with where it went and how its
//! attempts went, so that one the mail server never took is seen, not lost in a log.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
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
    pub event_type: String,
    pub to: String,
    pub cc: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
    pub gave_up_at: Option<String>,
    /// The mail server's reply or the error of the last failed attempt.
    pub last_error: Option<String>,
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
    Ok(Json(
        emails
            .into_iter()
            .map(|e| EmailView {
                id: e.id,
                case_id: e.case_id,
                event_type: e.event_type,
                to: e.to,
                cc: e.cc,
                attempts: e.attempts,
                next_attempt_at: e.next_attempt_at,
                sent_at: e.sent_at,
                gave_up_at: e.gave_up_at,
                last_error: e.last_error,
            })
            .collect(),
    ))
}
