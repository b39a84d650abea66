//! One error type for every handler, one JSON body for every error:
//! `{"error": "<stable_code>", "message": "<sentence>", "details": …}`.
//! Internal failures are logged in full and reported to the client only by code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use casefile_domain::error::ErrorKind;
use casefile_domain::ComplaintError;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_acknowledged`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// Extra structured facts, or null.
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Rule(#[from] ComplaintError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: Value,
    },
    /// The request conflicts with the state of something other than a case.
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    #[error("authentication required: send `Authorization: Bearer <token>`")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("another write to this case won the race; retry the request")]
    Conflict,
    #[error("the first request with this Idempotency-Key is still running; retry shortly")]
    IdempotencyInProgress,
    #[error("the request body is larger than the server accepts")]
    PayloadTooLarge,
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("the store cannot be reached")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }

    fn parts(&self) -> (StatusCode, &str, Value) {
        match self {
            Self::Rule(rule) => {
                let status = match rule.kind() {
                    ErrorKind::Conflict => StatusCode::CONFLICT,
                    ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorKind::NotFound => StatusCode::NOT_FOUND,
                };
                (status, rule.code(), Value::Null)
            }
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code, Value::Null),
            Self::Unprocessable { code, details, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, details.clone())
            }
            Self::Rejected { code, .. } => (StatusCode::CONFLICT, code, Value::Null),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", Value::Null),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", Value::Null),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found", Value::Null),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                Value::Null,
            ),
            Self::Conflict => (
                StatusCode::CONFLICT,
                "concurrent_modification",
                json!({"retryable": true}),
            ),
            Self::IdempotencyInProgress => (
                StatusCode::CONFLICT,
                "idempotency_key_in_progress",
                json!({"retryable": true}),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                Value::Null,
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Value::Null,
            ),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", Value::Null),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", Value::Null),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, details) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let body = ErrorBody {
            error: code.to_string(),
            message: self.to_string(),
            details,
        };
        (status, Json(body)).into_response()
    }
}

/// Maps the framework's errors: a lost race is a conflict, a store outage is 503.
impl From<cqrs_es::AggregateError<ComplaintError>> for ApiError {
    fn from(err: cqrs_es::AggregateError<ComplaintError>) -> Self {
        use cqrs_es::AggregateError as E;
        match err {
            E::UserError(rule) => Self::Rule(rule),
            E::AggregateConflict => Self::Conflict,
            E::DatabaseConnectionError(err) => Self::Unavailable(err),
            E::DeserializationError(err) | E::UnexpectedError(err) => Self::Internal(err),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::Unavailable(Box::new(err))
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl ApiError {
    /// A read of the store that failed: an outage is 503, anything else ours.
    pub fn from_load(err: casefile_store::LoadError) -> Self {
        match err {
            casefile_store::LoadError::Database(err) => Self::from(err),
            corrupt => Self::internal(corrupt),
        }
    }
}

impl From<casefile_store::CommitError> for ApiError {
    fn from(err: casefile_store::CommitError) -> Self {
        match err {
            casefile_store::CommitError::Conflict => Self::Conflict,
            casefile_store::CommitError::Database(err) => Self::from(err),
            other => Self::internal(other),
        }
    }
}
