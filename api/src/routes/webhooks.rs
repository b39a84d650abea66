//! `/api/v1/webhooks`: where notifications of automatic events are posted, and every
//! attempt to post them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use casefile_store::outbox::NOTIFIED;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::startup::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `http://` or `https://` address that receives a `POST` per notification.
    pub url: String,
    /// Key of the HMAC-SHA256 signature sent as `X-Casefile-Signature: sha256=<hex>`.
    #[schema(min_length = 16)]
    pub secret: String,
    /// The event types wanted: `SlaAlertRaised`, `SlaAlertResolved`.
    #[schema(min_items = 1)]
    pub events: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
}

impl From<casefile_store::outbox::Webhook> for WebhookView {
    fn from(hook: casefile_store::outbox::Webhook) -> Self {
        Self {
            id: hook.id,
            url: hook.url,
            events: hook.events,
            created_at: hook.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i64,
    pub attempted_at: String,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub event_type: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub delivered_at: Option<String>,
    pub history: Vec<AttemptView>,
}

fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_field",
        message: format!("field `{field}` {reason}"),
        details: serde_json::json!({"field": field}),
    }
}

/// Subscribe a URL to notifications.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, body = WebhookView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_webhook(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    principal.require(&[Role::Admin])?;
    let url = reqwest::Url::parse(&request.url).map_err(|_| invalid("url", "must be a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url", "must be http or https"));
    }
    if request.secret.chars().count() < 16 {
        return Err(invalid("secret", "must be at least 16 characters"));
    }
    if request.events.is_empty() {
        return Err(invalid("events", "must name at least one event type"));
    }
    if let Some(unknown) = request
        .events
        .iter()
        .find(|e| !NOTIFIED.contains(&e.as_str()))
    {
        return Err(invalid(
            "events",
            &format!(
                "names `{unknown}`: only {} are notified",
                NOTIFIED.join(", ")
            ),
        ));
    }
    let mut events = request.events.clone();
    events.sort();
    events.dedup();
    let hook = state
        .store
        .create_webhook(url.as_str(), &request.secret, &events)
        .await?;
    Ok((StatusCode::CREATED, Json(hook.into())))
}

/// Every webhook subscription; secrets are never shown.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, body = Vec<WebhookView>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    principal.require(&[Role::Admin])?;
    let hooks = state.store.webhooks().await?;
    Ok(Json(hooks.into_iter().map(WebhookView::from).collect()))
}

/// A webhook's deliveries, newest first, with every attempt.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, body = Vec<DeliveryView>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    principal.require(&[Role::Admin])?;
    let deliveries = state
        .store
        .deliveries(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(
        deliveries
            .into_iter()
            .map(|d| DeliveryView {
                id: d.id,
                event_type: d.event_type,
                attempts: d.attempts,
                next_attempt_at: d.next_attempt_at,
                delivered_at: d.delivered_at,
                history: d
                    .history
                    .into_iter()
                    .map(|a| AttemptView {
                        attempt: a.attempt,
                        attempted_at: a.attempted_at,
                        status: a.status,
                        error: a.error,
                    })
                    .collect(),
            })
            .collect(),
    ))
}
