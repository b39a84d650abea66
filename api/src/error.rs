//! One error type for every handler, one JSON body for every error:
//! `{"error": "<stable_code>", "message": "<sentence>", "details": …}`.
//! Internal failures are logged in full and reported to the client only by code.

use axum::http::header::{CONNECTION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
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
    #[error("the case had not been logged at that moment")]
    NotYetLogged,
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
    #[error("evidence files must be PDF, JPEG, PNG, GIF, WebP, plain text, Word (docx), Excel (xlsx) or a saved e-mail (msg, eml)")]
    EvidenceMediaType,
    #[error("this evidence was recorded by its metadata only; its file is kept elsewhere")]
    EvidenceNotStored,
    #[error("the store cannot be reached; retry shortly")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the store has no room to write; nothing of this request was recorded")]
    StorageFull(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store refused a value only a request can carry (a character its text cannot
    /// hold, an entry too large for an index). The checks at the edge should have caught
    /// it, so it is logged as a warning and counted; the client is told, not handed a 500.
    #[error("the store cannot take a value of this request as sent (a character it cannot hold, or text too long for its index); nothing was changed")]
    Unstorable(#[source] Box<dyn std::error::Error + Send + Sync>),
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
            Self::NotYetLogged => (StatusCode::NOT_FOUND, "not_yet_logged", Value::Null),
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
            Self::EvidenceMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_evidence_type",
                Value::Null,
            ),
            Self::EvidenceNotStored => (StatusCode::NOT_FOUND, "evidence_not_stored", Value::Null),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                json!({"retryable": true}),
            ),
            Self::StorageFull(_) => (
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                json!({"retryable": false}),
            ),
            Self::Unstorable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unstorable_input",
                json!({"retryable": false}),
            ),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", Value::Null),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = self.classified();
        let (status, code, details) = this.parts();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Unavailable for now (the store unreachable, or a bundle's events not yet
            // given positions): the client retries; as the web app's pages log it.
            tracing::warn!(error = ?this, "request failed: unavailable for now");
        } else if status.is_server_error() {
            tracing::error!(error = ?this, "request failed");
        } else if let Self::Unstorable(err) = &this {
            unstorable_seen(err.as_ref());
        }
        let body = ErrorBody {
            error: code.to_string(),
            message: this.to_string(),
            details,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so the connection cannot carry another
            // request: say so, or a client sends its next request down it and gets no answer.
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl ApiError {
    /// However a store failure reached here, reports it as what it is: an outage, a full
    /// disk, or a value the store refused; anything else stays ours.
    pub fn classified(self) -> Self {
        match self {
            Self::Internal(err) => Self::from_fault(store_fault(err.as_ref()), err),
            other => other,
        }
    }

    fn from_fault(
        fault: Option<StoreFault>,
        err: Box<dyn std::error::Error + Send + Sync>,
    ) -> Self {
        match fault {
            Some(StoreFault::Unreachable) => Self::Unavailable(err),
            Some(StoreFault::Full) => Self::StorageFull(err),
            Some(StoreFault::Unstorable) => Self::Unstorable(err),
            None => Self::Internal(err),
        }
    }
}

/// Maps the framework's errors: a lost race is a conflict, a store outage is 503.
impl From<cqrs_es::AggregateError<ComplaintError>> for ApiError {
    fn from(err: cqrs_es::AggregateError<ComplaintError>) -> Self {
        use cqrs_es::AggregateError as E;
        match err {
            E::UserError(rule) => Self::Rule(rule),
            E::AggregateConflict => Self::Conflict,
            // The store hands every failure to load a case over as a "connection" error;
            // only a real outage is a 503.
            E::DatabaseConnectionError(err) => Self::from_fault(store_fault(err.as_ref()), err),
            E::DeserializationError(err) | E::UnexpectedError(err) => Self::Internal(err),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::from_fault(sqlx_fault(&err), Box::new(err))
    }
}

/// A value the input checks let through to the store, which refused it: a hole in the
/// checks, told to operators by a warning and a counter.
pub(crate) fn unstorable_seen(err: &(dyn std::error::Error + 'static)) {
    tracing::warn!(error = ?err, "the store refused a value of the request");
    metrics::counter!("casefile_unstorable_input_total").increment(1);
}

/// A store failure that is not a fault of ours: the store's state, or the request's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreFault {
    /// Down, restarting, unreachable, out of connections or busy: a retry may succeed.
    Unreachable,
    /// Out of disk: nothing was written, and a retry fails until room is made.
    Full,
    /// A value the store cannot hold: the same request fails the same way every time.
    Unstorable,
}

/// The store fault behind an error, looking through its chain of sources.
fn store_fault(err: &(dyn std::error::Error + 'static)) -> Option<StoreFault> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<sqlx::Error>().and_then(sqlx_fault) {
            return Some(found);
        }
        // The store's errors wrap sqlx's transparently: their `source` skips the wrapped
        // error itself, so look inside.
        if let Some(casefile_store::LoadError::Database(db)) =
            err.downcast_ref::<casefile_store::LoadError>()
        {
            return sqlx_fault(db);
        }
        if let Some(casefile_store::CommitError::Database(db)) =
            err.downcast_ref::<casefile_store::CommitError>()
        {
            return sqlx_fault(db);
        }
        // A database's own error (sqlx's `source` of one), found under any other wrapper
        // that skips the `sqlx::Error` holding it.
        if let Some(db) = err.downcast_ref::<Box<dyn sqlx::error::DatabaseError>>() {
            return database_fault(db.as_ref());
        }
        next = err.source();
    }
    None
}

fn sqlx_fault(err: &sqlx::Error) -> Option<StoreFault> {
    use sqlx::Error as E;
    match err {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            Some(StoreFault::Unreachable)
        }
        // A connection that dropped mid-conversation.
        E::Protocol(_) => Some(StoreFault::Unreachable),
        E::Database(db) => database_fault(db.as_ref()),
        _ => None,
    }
}

fn database_fault(db: &dyn sqlx::error::DatabaseError) -> Option<StoreFault> {
    let code = db.code()?;
    // Told apart by the error's type, not its code: many of PostgreSQL's codes are digits
    // too (`53300`, `22021`).
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLite's primary result code is the low byte of the extended one. SQLite holds
        // any text and, within the body limits, any size: nothing it refuses is the
        // request's value alone.
        return match code.parse::<i32>().ok()? & 0xff {
            13 => Some(StoreFault::Full),                // SQLITE_FULL
            5 | 6 | 10 => Some(StoreFault::Unreachable), // BUSY, LOCKED, IOERR
            _ => None,
        };
    }
    // PostgreSQL: connection exceptions (08…), the server shutting down or starting
    // (57P01–57P03), too many connections (53300), out of disk (53100); and the values its
    // text and indexes cannot hold: a NUL or a byte sequence that is not text (22P05,
    // 22021, which only a bound value can carry), an index entry over its page's limit
    // (54000, which also names limits a query of ours could reach, so only when the message
    // names an index row; a server whose messages are not in English answers those with a
    // 500).
    match code.as_ref() {
        c if c.starts_with("08") || c.starts_with("57P") => Some(StoreFault::Unreachable),
        "53300" => Some(StoreFault::Unreachable),
        "53100" => Some(StoreFault::Full),
        "22P05" | "22021" => Some(StoreFault::Unstorable),
        "54000" if db.message().starts_with("index row") => Some(StoreFault::Unstorable),
        _ => None,
    }
}

impl ApiError {
    /// A read of the store that failed: classified as any store error; a case that does
    /// not read back is ours.
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
