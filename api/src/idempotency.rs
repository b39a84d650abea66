//! `Idempotency-Key`: a repeated write returns the first response instead of running again.
//!
//! A case command records its response under the key in the transaction of its events
//! (`CommandContext::idempotency`), so a key is never left answered-but-unwritten or
//! written-but-unanswered. Repeats that race run side by side: the first to commit wins, the
//! others find the key taken and answer with its response. Other writes (users, tokens) and
//! rejections, which commit nothing else, store their response after the handler ran.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casefile_store::idempotency::KeyClaim;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::startup::AppState;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotency-replayed";
/// Set (and removed before the response leaves) by a handler whose commit recorded the key.
pub const RECORDED_HEADER: &str = "x-casefile-key-recorded";
const MAX_KEY_LEN: usize = 200;

pub fn key_reused() -> ApiError {
    ApiError::Unprocessable {
        code: "idempotency_key_reused",
        message: "this Idempotency-Key was used before for a different request".to_string(),
        details: json!(null),
    }
}

pub async fn idempotent(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let is_write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let key = match request.headers().get(HEADER) {
        Some(value) if is_write => value,
        _ => return Ok(strip(next.run(request).await)),
    };
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_header",
            message: format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        })?
        .to_string();
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        return Ok(strip(next.run(request).await));
    };

    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, state.body_limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let claim = KeyClaim {
        user_id: principal.id.clone(),
        key,
        request_hash: hex::encode(hasher.finalize()),
    };

    if let Some(response) = answered(&state, &claim).await? {
        return Ok(response);
    }
    parts.extensions.insert(claim.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.headers().contains_key(RECORDED_HEADER) || response.status().is_server_error() {
        // Recorded by the commit; or our failure, which wrote nothing: a retry runs again.
        return Ok(strip(response));
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX)
        .await
        .map_err(|err| ApiError::Internal(err.into()))?;
    let text = String::from_utf8_lossy(&body);
    if !state
        .store
        .store_response(&claim, parts.status.as_u16(), &text)
        .await?
    {
        // A repeat committed first: its answer is the answer.
        if let Some(response) = answered(&state, &claim).await? {
            return Ok(response);
        }
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// The stored answer to this key, if the key was used: replayed for the same request,
/// refused for another.
async fn answered(state: &AppState, claim: &KeyClaim) -> Result<Option<Response>, ApiError> {
    match state
        .store
        .stored_response(&claim.user_id, &claim.key)
        .await?
    {
        Some(stored) if stored.request_hash != claim.request_hash => Err(key_reused()),
        Some(stored) => Ok(Some(replay(stored.status, stored.body))),
        None => Ok(None),
    }
}

/// The response without the handler-to-middleware marker.
fn strip(mut response: Response) -> Response {
    response.headers_mut().remove(RECORDED_HEADER);
    response
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
