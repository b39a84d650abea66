//! `/api/v1/events`: the global event feed, in position order, for integrations and data
//! warehouses. A reader that asks again with the last position it saw never misses an
//! event (see decision 0003).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use casefile_store::StoredEvent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedParams {
    /// The last position already read (default 0: from the start).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Events per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// One event of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEvent {
    pub position: i64,
    pub case_id: String,
    pub sequence: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub event_version: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// The event's link in its case's hash chain, hex.
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Feed {
    pub events: Vec<FeedEvent>,
    /// Pass as `after` for the next page (the last position served, or `after` itself).
    pub next_after: i64,
}

/// Events in global order after a position.
#[utoipa::path(get, path = "/api/v1/events", tag = "audit",
    params(FeedParams),
    responses(
        (status = 200, body = Feed),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Json<Feed>, ApiError> {
    principal.require(&[Role::Auditor, Role::Compliance])?;
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        message: rejection.body_text(),
    })?;
    let after = params.after.unwrap_or(0);
    let limit = params.limit.unwrap_or(100);
    if after < 0 || !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            message: "after must be at least 0 and limit between 1 and 1000".to_string(),
        });
    }
    let events = state
        .store
        .feed(after, limit)
        .await
        .map_err(ApiError::from_load)?;
    let next_after = events.last().map_or(after, |e| e.position);
    Ok(Json(Feed {
        events: events.into_iter().map(FeedEvent::from).collect(),
        next_after,
    }))
}

impl From<StoredEvent> for FeedEvent {
    fn from(e: StoredEvent) -> Self {
        Self {
            position: e.position,
            case_id: e.case_id,
            sequence: e.sequence,
            event_type: e.event_type,
            event_version: e.event_version,
            payload: e.payload,
            metadata: e.metadata,
            recorded_at: e.recorded_at,
            hash: e.hash,
        }
    }
}
