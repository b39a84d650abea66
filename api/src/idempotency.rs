//! `Idempotency-Key`: a repeated write returns the first response instead of running again,
//! also when the repeats arrive while the first is still running.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::idempotency::KeyState;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotency-replayed";
const MAX_KEY_LEN: usize = 200;
/// How long a repeat waits for the first request to finish before answering 409.
const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(25);

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
        _ => return Ok(next.run(request).await),
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
        return Ok(next.run(request).await);
    };

    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, state.body_limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    let started = tokio::time::Instant::now();
    loop {
        match state
            .store
            .claim_idempotency_key(&principal.id, &key, &request_hash)
            .await?
        {
            KeyState::Claimed => break,
            KeyState::Done {
                request_hash: first,
                ..
            }
            | KeyState::Pending {
                request_hash: first,
            } if first != request_hash => {
                return Err(ApiError::Unprocessable {
                    code: "idempotency_key_reused",
                    message: "this Idempotency-Key was used before for a different request"
                        .to_string(),
                    details: json!(null),
                });
            }
            KeyState::Done { status, body, .. } => return Ok(replay(status, body)),
            KeyState::Pending { .. } if started.elapsed() < WAIT => {
                tokio::time::sleep(POLL).await;
            }
            KeyState::Pending { .. } => return Err(ApiError::IdempotencyInProgress),
        }
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => {
            state
                .store
                .release_idempotency_key(&principal.id, &key)
                .await?;
            return Err(ApiError::Internal(err.into()));
        }
    };
    if parts.status.is_server_error() {
        // Our failure, not the client's: let a retry run the request again.
        state
            .store
            .release_idempotency_key(&principal.id, &key)
            .await?;
    } else {
        let text = String::from_utf8_lossy(&body);
        state
            .store
            .complete_idempotency_key(&principal.id, &key, parts.status.as_u16(), &text)
            .await?;
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
