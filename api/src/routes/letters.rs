//! `/api/v1/complaints/{id}/letters` and `/bundle`: letters to the resident, rendered from
//! the case and recorded on it, and the zip an ombudsman receives.
//!
//! A letter is rendered from the case as it stands and recorded by one `LetterIssued`
//! event through the ordinary command path (so an `Idempotency-Key` answers a repeat with
//! the same letter); the event keeps the letter word for word, so it is in the trail and
//! in the bundle whatever the templates say later.

use std::io::{Seek, SeekFrom};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use casefile_documents::{LetterContext, LetterError};
use casefile_domain::command::IssueLetter;
use casefile_domain::procedure::Scheme;
use casefile_domain::values::LetterKind;
use casefile_domain::{uk_date, Action, Actor, ComplaintEvent};
use casefile_projections::RecordedEvent;
use casefile_store::bundle::{BundleOptions, ExportError};
use casefile_store::idempotency::KeyClaim;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Principal, Role};
use crate::cases::{CaseResponse, CommandContext};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{body_bytes, json_body, BodyBytes};
use crate::routes::complaints::{case_id, context, CASEWORKERS, READERS};
use crate::startup::AppState;

use Role::*;

/// Who may download a case's bundle (and admin).
pub(crate) const BUNDLERS: &[Role] = &[Compliance, Manager, Auditor];

/// The body of `POST …/letters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterRequest {
    /// Which letter to write.
    pub kind: LetterKind,
}

/// A letter as issued on a case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Letter {
    pub letter_id: String,
    pub case_id: String,
    pub kind: LetterKind,
    pub subject: String,
    /// The letter as an HTML document.
    pub html: String,
    /// The same letter as plain text.
    pub text: String,
    pub issued_at: DateTime<Utc>,
    pub issued_by: Actor,
}

impl Letter {
    fn from_recorded(recorded: &RecordedEvent) -> Option<Self> {
        match &recorded.event {
            ComplaintEvent::LetterIssued {
                occurred_at,
                by,
                letter_id,
                kind,
                subject,
                html,
                text,
            } => Some(Self {
                letter_id: letter_id.clone(),
                case_id: recorded.aggregate_id.clone(),
                kind: *kind,
                subject: subject.clone(),
                html: html.clone(),
                text: text.clone(),
                issued_at: *occurred_at,
                issued_by: by.clone(),
            }),
            _ => None,
        }
    }
}

/// The response to `POST …/letters`: the letter its commit recorded.
fn letter_answer(events: &[RecordedEvent]) -> Option<String> {
    let letter = events.iter().find_map(Letter::from_recorded)?;
    serde_json::to_string(&letter).ok()
}

fn letter_error(err: LetterError) -> ApiError {
    if err.is_state() {
        ApiError::Rejected {
            code: err.code(),
            message: format!("this letter does not fit the case yet: {err}"),
        }
    } else {
        // The templates passed the start-up check, so this is ours to fix.
        ApiError::internal(err)
    }
}

/// Write a letter: rendered from the case as it stands, recorded on it as correspondence,
/// and returned.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/letters", tag = "actions",
    params(("id" = String, Path, description = "Case id")),
    request_body = LetterRequest,
    responses(
        (status = 201, description = "The letter as issued", body = Letter),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the case's state does not allow the letter yet: \
            `not_acknowledged`, `no_extension`, `no_response_deadline`, `not_responded`, \
            `not_deadlocked` or `not_refused`"),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn issue(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    claim: Option<Extension<KeyClaim>>,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<CaseResponse, ApiError> {
    let role = principal.require(CASEWORKERS)?;
    let id = case_id(&id)?;
    let request: LetterRequest = json_body(&headers, body_bytes(bytes)?)?;
    let ctx = context(&principal, role, &headers, claim);
    issue_letter(&state, &id, request.kind, &ctx)
        .await
        .map(|(_, response)| response)
}

/// Renders the letter of `kind` for the case `id` (a canonical case id) as it stands and
/// records it, as the API and the web app both issue one: the new letter's id, and the
/// command's response.
pub(crate) async fn issue_letter(
    state: &AppState,
    id: &str,
    kind: LetterKind,
    ctx: &CommandContext,
) -> Result<(String, CaseResponse), ApiError> {
    let writer = LetterWriter {
        store: &state.store,
        cases: &state.cases,
        letters: &state.letters,
        organisation: &state.organisation,
    };
    writer.issue(id, kind, ctx).await
}

/// What issuing a letter needs: the request path has it in the app state, the automation
/// (which sends the acknowledgement letter on logging) gets it at start-up.
pub(crate) struct LetterWriter<'a> {
    pub store: &'a casefile_store::Store,
    pub cases: &'a crate::cases::Cases,
    pub letters: &'a casefile_documents::Letters,
    pub organisation: &'a casefile_documents::Organisation,
}

impl LetterWriter<'_> {
    pub(crate) async fn issue(
        &self,
        id: &str,
        kind: LetterKind,
        ctx: &CommandContext,
    ) -> Result<(String, CaseResponse), ApiError> {
        let id = id.to_string();
        // The case's own copy of its procedure says which scheme and how many stages.
        let loaded = self
            .store
            .load_case(&id)
            .await
            .map_err(ApiError::from_load)?
            .ok_or(ApiError::NotFound)?;
        let procedure = loaded.record.state.facts()?.procedure.clone();
        let view = self.cases.view(&id).await?.ok_or(ApiError::NotFound)?;
        let letter_context = LetterContext::for_procedure(
            self.organisation.clone(),
            &procedure,
            uk_date(Utc::now()),
        );
        let rendered = self
            .letters
            .render(kind, &view, &letter_context)
            .map_err(letter_error)?;
        let letter_id = uuid::Uuid::now_v7().to_string();
        let action = Action::IssueLetter(IssueLetter {
            letter_id: letter_id.clone(),
            kind: rendered.kind,
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
        });
        let response = self
            .cases
            .create(&id, "letter", action, ctx, letter_answer)
            .await?;
        Ok((letter_id, response))
    }
}

/// A letter issued on the case, as it was sent.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/letters/{letter_id}", tag = "complaints",
    params(
        ("id" = String, Path, description = "Case id"),
        ("letter_id" = String, Path, description = "Letter id, as `POST …/letters` returned it"),
    ),
    responses(
        (status = 200, body = Letter),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_letter(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, letter_id)): Path<(String, String)>,
) -> Result<axum::Json<Letter>, ApiError> {
    principal.require(READERS)?;
    let id = case_id(&id)?;
    case_letter(&state, &id, &letter_id).await.map(axum::Json)
}

/// One letter issued on the case `id` (a canonical case id), word for word from its event.
pub(crate) async fn case_letter(
    state: &AppState,
    id: &str,
    letter_id: &str,
) -> Result<Letter, ApiError> {
    let events = state
        .store
        .case_events(id)
        .await
        .map_err(ApiError::from_load)?;
    events
        .iter()
        .filter_map(Letter::from_recorded)
        .find(|letter| letter.letter_id == letter_id)
        .ok_or(ApiError::NotFound)
}

/// `?scheme=`: the redress scheme whose name and address head the case file.
#[derive(Debug, Deserialize, IntoParams)]
pub struct BundleParams {
    /// `housing-ombudsman`, `property-redress-scheme` or `ombudsman-services`; the case's
    /// procedure's first scheme when omitted.
    pub scheme: Option<String>,
}

/// Parses `?scheme=` as the procedure files spell schemes.
pub fn parse_scheme(raw: &str) -> Option<Scheme> {
    serde_json::from_value(serde_json::Value::String(raw.to_string())).ok()
}

/// The ombudsman bundle: a zip of the readable case file, the case as JSON, the event
/// stream with its hashes, every stored evidence file and letter, the chain digest and
/// `SHA256SUMS`. The same case gives the same bytes.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/bundle", tag = "complaints",
    params(("id" = String, Path, description = "Case id"), BundleParams),
    responses(
        (status = 200, description = "The bundle", content_type = "application/zip"),
        (status = 400, body = ErrorBody, description = "`invalid_query`: an unknown scheme"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`chain_broken`: the case's hash chain \
            does not verify, `evidence_mismatch`: a stored evidence file no longer matches \
            its record, or `evidence_missing`: an uploaded file is gone from the store; no \
            bundle vouches for any of them"),
        (status = 503, body = ErrorBody, description = "`unavailable`: the latest events \
            have no global position yet, or the store cannot be reached; retry"),
    ),
    security(("bearer" = [])))]
pub async fn bundle(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    params: Result<Query<BundleParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require(BUNDLERS)?;
    let id = case_id(&id)?;
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        message: rejection.body_text(),
    })?;
    let scheme = match params.scheme.as_deref() {
        None => None,
        Some(raw) => Some(parse_scheme(raw).ok_or_else(|| ApiError::BadRequest {
            code: "invalid_query",
            message: format!(
                "scheme must be housing-ombudsman, property-redress-scheme or \
                 ombudsman-services, not `{raw}`"
            ),
        })?),
    };
    bundle_response(&state, &id, scheme).await
}

/// The bundle of the case `id` (a canonical case id) as a zip download, headed for
/// `scheme` (the procedure's first when `None`): what the API and the web app both send.
pub(crate) async fn bundle_response(
    state: &AppState,
    id: &str,
    scheme: Option<Scheme>,
) -> Result<Response, ApiError> {
    let options = BundleOptions {
        organisation: (*state.organisation).clone(),
        scheme,
        today: uk_date(Utc::now()),
    };
    let input = state
        .store
        .bundle_input(id, state.cases.calendar(), &options)
        .await
        .map_err(export_error)?;
    let filename = format!("{}-bundle.zip", plain_name(&input.case.reference));

    // The archive is written to an unnamed temporary file on a blocking thread, reading
    // evidence a chunk at a time, then streamed from the file.
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, ApiError> {
        let file = tempfile::tempfile().map_err(ApiError::internal)?;
        let mut file = store
            .write_bundle_blocking(file, &input, runtime)
            .map_err(export_error)?;
        file.seek(SeekFrom::Start(0)).map_err(ApiError::internal)?;
        Ok(file)
    })
    .await
    .map_err(ApiError::internal)??;
    let length = file.metadata().map_err(ApiError::internal)?.len();
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(buffer), file))
            }
            Err(err) => Some((Err(err), file)),
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn export_error(err: ExportError) -> ApiError {
    match err {
        ExportError::NoSuchCase(_) => ApiError::NotFound,
        ExportError::ChainBroken { .. } => ApiError::Rejected {
            code: "chain_broken",
            message: err.to_string(),
        },
        ExportError::EvidenceMissing { .. } => ApiError::Rejected {
            code: "evidence_missing",
            message: err.to_string(),
        },
        ExportError::Unsequenced(_) => ApiError::Unavailable(Box::new(err)),
        ExportError::Load(load) => ApiError::from_load(load),
        // A stored file that no longer matches its record is tampering, not our failure:
        // the bundle is refused as for a broken chain.
        ExportError::Bundle(bundle @ casefile_documents::BundleError::EvidenceMismatch { .. }) => {
            ApiError::Rejected {
                code: bundle.code(),
                message: format!("{bundle}; run `casefile-replay verify`"),
            }
        }
        ExportError::Bundle(bundle) => ApiError::internal(bundle),
    }
}

/// A reference as a file name: letters, digits, `-` and `_`, the rest as `_`.
fn plain_name(reference: &str) -> String {
    let name: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "case".to_string()
    } else {
        name
    }
}
