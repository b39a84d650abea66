//! Operations endpoints: liveness, readiness, metrics, fallbacks.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::startup::AppState;

/// Alive while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "The store does not answer", body = crate::error::ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|err| ApiError::Unavailable(Box::new(err)))?;
    Ok(Json(
        json!({"status": "ready", "store": state.store.backend()}),
    ))
}

/// Prometheus text format; any authenticated user may scrape it.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus metrics", body = String, content_type = "text/plain"),
        (status = 401, body = crate::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn metrics() -> impl IntoResponse {
    let text = crate::metrics::handle()
        .map(|handle| handle.render())
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A NUL character (`%00`) in the path or query names nothing and filters on nothing,
/// and PostgreSQL text cannot hold one: refused before any handler reads the store,
/// the same on both stores.
pub async fn refuse_nul(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let has_nul = |part: &str| {
        part.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    };
    let uri = request.uri();
    if has_nul(uri.path()) {
        return ApiError::NotFound.into_response();
    }
    if uri.query().is_some_and(has_nul) {
        return ApiError::BadRequest {
            code: "invalid_query",
            message: "the query must not contain NUL (%00) characters".to_string(),
        }
        .into_response();
    }
    next.run(request).await
}
