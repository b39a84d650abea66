//! Request extractors whose rejections are our JSON errors, never axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::Principal;
use crate::error::ApiError;

/// A JSON body: 415 without a JSON content type, 413 over the limit, 400 if it is not
/// JSON, 422 (with the offending path) if its fields are wrong.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await;
        json_body(&headers, body_bytes(bytes)?).map(ApiJson)
    }
}

/// Parses a body already read, after checking it was sent as JSON.
pub fn json_body<T: DeserializeOwned>(headers: &HeaderMap, bytes: Bytes) -> Result<T, ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(&bytes)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde reads a struct from an array too; every body here is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            message: "the body must be a JSON object".to_string(),
            details: json!({"path": ".", "reason": "expected an object"}),
        });
    }
    refuse_nul(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::BadRequest {
                    code: "malformed_json",
                    message: format!("the body is not valid JSON: {inner}"),
                }
            }
            _ => ApiError::Unprocessable {
                code: "invalid_body",
                message: format!("the body does not fit this request: {inner}"),
                details: json!({"path": path, "reason": inner.to_string()}),
            },
        }
    })?;
    // Trailing garbage after the value is malformed too.
    de.end().map_err(|err| ApiError::BadRequest {
        code: "malformed_json",
        message: format!("the body is not valid JSON: {err}"),
    })?;
    Ok(value)
}

/// A NUL character cannot be stored in PostgreSQL text, and no field of ours needs one:
/// a body that has one in any string is refused up front, the same on both stores.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    // JSON can only carry NUL escaped; look closer only when the escape is there.
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    fn has_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(has_nul),
            serde_json::Value::Object(map) => map
                .iter()
                .any(|(key, value)| key.contains('\0') || has_nul(value)),
            _ => false,
        }
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) if has_nul(&value) => Err(ApiError::Unprocessable {
            code: "invalid_body",
            message: "text in the body must not contain NUL (\\u0000) characters".to_string(),
            details: json!({"path": ".", "reason": "contains a NUL character"}),
        }),
        // Not JSON: the parse below says where.
        _ => Ok(()),
    }
}

/// A body read as bytes, its rejection kept for [`body_bytes`] to turn into our error.
pub type BodyBytes = Result<Bytes, BytesRejection>;

pub fn body_bytes(bytes: BodyBytes) -> Result<Bytes, ApiError> {
    bytes.map_err(body_rejection)
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest {
            code: "unreadable_body",
            message: rejection.body_text(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod nul_tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Note {
        #[allow(dead_code)]
        text: String,
    }

    #[test]
    fn a_nul_character_in_any_string_is_refused_as_invalid_body() {
        let result = parse_json::<Note>(br#"{"text": "a\u0000b"}"#);
        assert!(
            matches!(
                result,
                Err(ApiError::Unprocessable {
                    code: "invalid_body",
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_plain_text() {
        // `\\u0000` is a backslash followed by the letters u0000, not a NUL.
        assert!(parse_json::<Note>(br#"{"text": "a\\u0000b"}"#).is_ok());
    }
}
