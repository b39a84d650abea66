//! `/api/v1/complaints/{id}/evidence`: files attached to a case, uploaded and downloaded.
//!
//! An upload is `multipart/form-data` with a `file` part (and an optional `description`):
//! its SHA-256 is computed as the parts arrive, and `AttachEvidence` records it on the case
//! with its content, stored once per hash in the same transaction. A JSON body records a
//! file kept elsewhere by its metadata only.

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use casefile_domain::command::AttachEvidence;
use casefile_domain::Action;
use casefile_store::evidence::EvidenceBlob;
use casefile_store::idempotency::KeyClaim;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::{Principal, Role};
use crate::cases::CaseResponse;
use crate::error::{ApiError, ErrorBody};
use crate::extract::json_body;
use crate::routes::complaints::{case_id, context};
use crate::startup::AppState;

use Role::*;

const READERS: &[Role] = &[Advisor, Officer, Reviewer, Manager, Compliance, Auditor];
const CASEWORKERS: &[Role] = &[Advisor, Officer, Reviewer, Manager];

/// Media types an evidence file may have: documents, photographs, plain text, Word and
/// Excel files, and saved e-mails.
pub const ALLOWED_MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "text/plain",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-outlook",
    "message/rfc822",
];

/// Room for the multipart framing and the description around a file of the largest size.
const FORM_OVERHEAD_BYTES: usize = 64 * 1024;

/// The body limit of the evidence route: the largest file plus its form's framing.
pub fn body_limit(evidence_limit: usize) -> usize {
    evidence_limit.saturating_add(FORM_OVERHEAD_BYTES)
}

/// The multipart form of an upload.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EvidenceUpload {
    /// The file; its part's `Content-Type` must be an allowed media type and its filename
    /// becomes the evidence's name.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// What the file shows.
    pub description: Option<String>,
}

/// Attach evidence: upload a file (`multipart/form-data`), or record one kept elsewhere by
/// its metadata and checksum (JSON).
#[utoipa::path(post, path = "/api/v1/complaints/{id}/evidence", tag = "actions",
    params(("id" = String, Path, description = "Case id")),
    request_body(content(
        (EvidenceUpload = "multipart/form-data"),
        (AttachEvidence = "application/json"),
    )),
    responses(
        (status = 200, description = "The case after the action", body = casefile_projections::CaseView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "a file over `CASEFILE_EVIDENCE_LIMIT_BYTES`"),
        (status = 415, body = ErrorBody, description = "a file whose media type is not allowed"),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn attach(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    claim: Option<Extension<KeyClaim>>,
    headers: HeaderMap,
    request: Request,
) -> Result<CaseResponse, ApiError> {
    let role = principal.require(CASEWORKERS)?;
    let id = case_id(&id)?;
    let ctx = context(&principal, role, &headers, claim);
    if is_multipart(&headers) {
        // A file is read only for a case that exists.
        state.cases.view(&id).await?.ok_or(ApiError::NotFound)?;
        let form = Multipart::from_request(request, &state)
            .await
            .map_err(|rejection| bad_form(rejection.body_text()))?;
        let (command, file) = upload(&state, form).await?;
        let action = Action::AttachEvidence(command);
        return state
            .cases
            .execute_storing(&id, "evidence", action, &ctx, &file)
            .await;
    }
    // The route's larger limit is for files: metadata keeps the usual one.
    let bytes = to_bytes(request.into_body(), state.body_limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let command = json_body(&headers, bytes)?;
    state
        .cases
        .execute(&id, "evidence", Action::AttachEvidence(command), &ctx)
        .await
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
        .unwrap_or(false)
}

fn bad_form(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_form",
        message: message.into(),
    }
}

/// PostgreSQL text cannot hold a NUL, and no description or filename needs one: refused on
/// both stores alike, as a JSON body's are. Today's form parser already refuses a NUL in a
/// part's header and does not decode `filename*`, so a filename cannot carry one yet; the
/// check keeps it so should the parser ever decode it.
fn refuse_nul(part: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(bad_form(format!(
            "the `{part}` must not contain NUL characters"
        )));
    }
    Ok(())
}

fn form_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        bad_form(err.body_text())
    }
}

/// The media type without parameters, lower-cased, if it is on the allow-list.
pub(crate) fn allowed_media_type(raw: Option<&str>) -> Option<String> {
    let essence = raw?.split(';').next()?.trim().to_ascii_lowercase();
    ALLOWED_MEDIA_TYPES
        .contains(&essence.as_str())
        .then_some(essence)
}

/// Reads the form, hashing the file as it arrives, and returns the command that records it
/// with the file its commit stores (the rules check the evidence's fields when it runs).
async fn upload(
    state: &AppState,
    mut form: Multipart,
) -> Result<(AttachEvidence, EvidenceBlob), ApiError> {
    let mut file: Option<(String, String, String, Vec<u8>)> = None;
    let mut description = None;
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("file") => {
                let name = field
                    .file_name()
                    .map(str::to_string)
                    .filter(|n| !n.trim().is_empty())
                    .ok_or_else(|| bad_form("the `file` part needs a filename"))?;
                refuse_nul("filename", &name)?;
                let media_type =
                    allowed_media_type(field.content_type()).ok_or(ApiError::EvidenceMediaType)?;
                let mut hasher = Sha256::new();
                let mut content = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                    if content.len() + chunk.len() > state.evidence_limit {
                        return Err(ApiError::PayloadTooLarge);
                    }
                    hasher.update(&chunk);
                    content.extend_from_slice(&chunk);
                }
                file = Some((name, media_type, hex::encode(hasher.finalize()), content));
            }
            Some("description") => {
                let text = field.text().await.map_err(form_error)?;
                refuse_nul("description", &text)?;
                description = Some(text).filter(|t| !t.trim().is_empty());
            }
            other => {
                return Err(bad_form(format!(
                    "unknown form part `{}`: send `file` and optionally `description`",
                    other.unwrap_or("")
                )))
            }
        }
    }
    let (name, media_type, sha256, content) =
        file.ok_or_else(|| bad_form("the form has no `file` part"))?;
    let command = AttachEvidence {
        name,
        media_type,
        size_bytes: content.len() as u64,
        sha256,
        description,
        occurred_at: None,
        stored: true,
    };
    let file = EvidenceBlob {
        sha256: command.sha256.clone(),
        media_type: command.media_type.clone(),
        content,
    };
    Ok((command, file))
}

/// Download an evidence file, with its media type and filename.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/evidence/{evidence_id}", tag = "complaints",
    params(
        ("id" = String, Path, description = "Case id"),
        ("evidence_id" = String, Path, description = "Evidence id, e.g. `ev-1`"),
    ),
    responses(
        (status = 200, description = "The file's bytes, as the media type it was uploaded with (one of those an upload may have), else `application/octet-stream`", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody,
            description = "`not_found`, or `evidence_not_stored` for evidence recorded by its metadata only"),
    ),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, evidence_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    principal.require(READERS)?;
    let id = case_id(&id)?;
    evidence_file(&state, &id, &evidence_id).await
}

/// The stored file of one evidence item of the case `id` (a canonical case id), with its
/// media type and filename: what the API and the web app both send.
pub(crate) async fn evidence_file(
    state: &AppState,
    id: &str,
    evidence_id: &str,
) -> Result<Response, ApiError> {
    let view = state.cases.view(id).await?.ok_or(ApiError::NotFound)?;
    let evidence = view
        .evidence
        .iter()
        .find(|e| e.evidence_id == evidence_id)
        .ok_or(ApiError::NotFound)?;
    let blob = state
        .store
        .evidence_blob(&evidence.sha256)
        .await?
        .ok_or(ApiError::EvidenceNotStored)?;
    // Only the media types an upload may have: evidence recorded by its metadata names
    // any type it likes, and its file may be one the store holds under the same hash
    // (served as `text/html`, an uploaded text file would open as a page).
    let media_type = ALLOWED_MEDIA_TYPES
        .iter()
        .find(|allowed| **allowed == evidence.media_type)
        .map_or(
            HeaderValue::from_static("application/octet-stream"),
            |allowed| HeaderValue::from_static(allowed),
        );
    let disposition = HeaderValue::from_str(&content_disposition(&evidence.name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let length = HeaderValue::from(blob.content.len());
    let mut response = Body::from(blob.content).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, media_type);
    headers.insert(CONTENT_DISPOSITION, disposition);
    headers.insert(CONTENT_LENGTH, length);
    Ok(response)
}

/// `attachment` with the name as a plain ASCII `filename` (for old clients) and as
/// UTF-8 in `filename*` (RFC 6266).
fn content_disposition(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filename_is_sent_plain_and_utf8_encoded() {
        assert_eq!(
            content_disposition("Café \"damp\".pdf"),
            "attachment; filename=\"Caf_ _damp_.pdf\"; filename*=UTF-8''Caf%C3%A9%20%22damp%22.pdf"
        );
    }

    #[test]
    fn media_types_are_compared_without_parameters_or_case() {
        assert_eq!(
            allowed_media_type(Some("Text/Plain; charset=utf-8")),
            Some("text/plain".to_string())
        );
        assert_eq!(allowed_media_type(Some("application/x-msdownload")), None);
        assert_eq!(allowed_media_type(None), None);
    }
}
