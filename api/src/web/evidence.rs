//! Evidence files on the case page: uploaded through a `multipart/form-data` form that
//! works without JavaScript, with the API's limits (size, media types) and its messages
//! shown on the file field; downloaded through the same function as the API.

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use casefile_domain::command::AttachEvidence;
use casefile_domain::Action;
use casefile_store::evidence::EvidenceBlob;
use sha2::{Digest, Sha256};

use crate::cases::CommandContext;
use crate::error::ApiError;
use crate::routes::complaints::{case_id, context, CASEWORKERS, READERS};
use crate::routes::evidence::{allowed_media_type, evidence_file};
use crate::startup::AppState;

use super::cases::{refusal, render_case};
use super::forms::{without_nul, FieldErrors, FormData};
use super::session::Staff;
use super::sign_in::capitalise;
use super::PageError;

/// A size in words: `25 MB`, `4 KB`, `900 bytes`.
pub fn size_words(bytes: usize) -> String {
    const KB: usize = 1024;
    const MB: usize = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else if bytes >= KB && bytes.is_multiple_of(KB) {
        format!("{} KB", bytes / KB)
    } else if bytes >= KB {
        format!("{:.1} KB", bytes as f64 / KB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// The API's message for a file over the limit, with the limit in words.
fn too_large(limit: usize) -> String {
    format!(
        "{}: choose a file of {} or less",
        capitalise(&ApiError::PayloadTooLarge.to_string()),
        size_words(limit)
    )
}

/// A file part read whole, or why it cannot be kept.
struct Upload {
    name: String,
    media_type: String,
    sha256: String,
    content: Vec<u8>,
}

/// Reads the file part: hashes it as it arrives, and past the limit keeps reading without
/// keeping, so the browser finishes sending and sees the answer.
async fn read_file(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: usize,
    errors: &mut FieldErrors,
) -> Result<Option<Upload>, MultipartError> {
    let name = field
        .file_name()
        .map(str::to_string)
        .filter(|n| !n.trim().is_empty());
    let media_type = allowed_media_type(field.content_type());
    let mut hasher = Sha256::new();
    let mut content = Vec::new();
    let mut size = 0usize;
    while let Some(chunk) = field.chunk().await? {
        size = size.saturating_add(chunk.len());
        if size <= limit {
            hasher.update(&chunk);
            content.extend_from_slice(&chunk);
        }
    }
    let Some(name) = name else {
        errors.add("file", "Choose a file to upload");
        return Ok(None);
    };
    let Some(media_type) = media_type else {
        errors.add("file", capitalise(&ApiError::EvidenceMediaType.to_string()));
        return Ok(None);
    };
    if size > limit {
        errors.add("file", too_large(limit));
        return Ok(None);
    }
    Ok(Some(Upload {
        name,
        media_type,
        sha256: hex::encode(hasher.finalize()),
        content,
    }))
}

/// `POST /cases/{id}/evidence`: records the file on the case, storing it once per hash in
/// the same transaction, then back to the case; a problem comes back on the form's fields.
pub async fn upload(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, PageError> {
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    let role = staff.principal.require(CASEWORKERS)?;
    if state.cases.view(&id).await?.is_none() {
        return Err(PageError::NotFound);
    }
    // A body that is not a multipart form did not come from the page's form.
    let mut form = Multipart::from_request(request, &state)
        .await
        .map_err(|_| PageError::Csrf)?;
    let limit = state.evidence_limit;
    let mut errors = FieldErrors::default();
    let mut csrf_checked = false;
    let mut upload = None;
    let mut description = String::new();
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => {
                if !csrf_checked {
                    return Err(PageError::Csrf);
                }
                errors.add("file", broken_upload(&err, limit));
                break;
            }
        };
        // The token is the form's first field: nothing is read, let alone kept, for a
        // form that did not come from this session's page.
        match field.name() {
            Some("csrf") => {
                let token = field.text().await.map_err(|_| PageError::Csrf)?;
                staff.check_csrf(Some(&token))?;
                csrf_checked = true;
            }
            _ if !csrf_checked => return Err(PageError::Csrf),
            Some("file") => match read_file(&mut field, limit, &mut errors).await {
                Ok(file) => upload = file,
                Err(err) => {
                    errors.add("file", broken_upload(&err, limit));
                    break;
                }
            },
            Some("description") => match field.text().await {
                Ok(text) => description = without_nul(text),
                Err(err) => {
                    errors.add("file", broken_upload(&err, limit));
                    break;
                }
            },
            // Anything else is not this form's, and ignored.
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(PageError::Csrf);
    }
    let description = Some(description.trim().to_string()).filter(|d| !d.is_empty());
    let mut problem = None;
    match upload {
        Some(file) if errors.is_empty() => {
            let command = AttachEvidence {
                name: file.name,
                media_type: file.media_type.clone(),
                size_bytes: file.content.len() as u64,
                sha256: file.sha256.clone(),
                description: description.clone(),
                occurred_at: None,
                stored: true,
            };
            let file = EvidenceBlob {
                sha256: file.sha256,
                media_type: file.media_type,
                content: file.content,
            };
            // The page is drawn afresh after the redirect, so the answer's lists go unread.
            let ctx = CommandContext {
                minimal: true,
                ..context(&staff.principal, role, &headers, None)
            };
            match state
                .cases
                .execute_storing(
                    &id,
                    "evidence",
                    Action::AttachEvidence(command),
                    &ctx,
                    &file,
                )
                .await
            {
                Ok(_) => {
                    let to = format!("/cases/{id}?done=evidence#evidence-heading");
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(err) => problem = refusal(err, &[], &mut errors)?,
            }
        }
        Some(_) => {}
        None if errors.is_empty() => errors.add("file", "Choose a file to upload"),
        None => {}
    }
    let sent = FormData::from_pairs(vec![(
        "description".to_string(),
        description.unwrap_or_default(),
    )]);
    render_case(
        &state,
        &staff,
        &id,
        None,
        Some(("evidence", &sent, errors, problem)),
    )
    .await
}

/// What to say when the form's body broke off or ran past the route's limit.
fn broken_upload(err: &MultipartError, limit: usize) -> String {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        "The file did not arrive whole. Choose it and send it again".to_string()
    }
}

/// `GET /cases/{id}/evidence/{evidence_id}`: the stored file, as the API sends it.
pub async fn download(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, evidence_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    staff.principal.require(READERS)?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    match evidence_file(&state, &id, &evidence_id).await {
        Ok(response) => Ok(response),
        Err(ApiError::EvidenceNotStored) => Err(PageError::NotStored),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_the_largest_whole_unit() {
        assert_eq!(size_words(25 * 1024 * 1024), "25 MB");
        assert_eq!(size_words(4096), "4 KB");
        assert_eq!(size_words(1536), "1.5 KB");
        assert_eq!(size_words(900), "900 bytes");
    }

    #[test]
    fn the_size_message_is_the_apis_with_the_limit() {
        assert_eq!(
            too_large(4096),
            "The request body is larger than the server accepts: choose a file of 4 KB or less"
        );
    }
}
