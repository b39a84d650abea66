//! Letters and the ombudsman bundle on the case page: a letter issued through a form (the
//! same rendering and `IssueLetter` command as `POST /api/v1/complaints/{id}/letters`),
//! each issued letter shown as sent, and the bundle downloaded as
//! `GET /api/v1/complaints/{id}/bundle` sends it, for the roles the API allows.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use casefile_domain::values::LetterKind;
use serde::{Deserialize, Serialize};

use crate::routes::complaints::{case_id, context, CASEWORKERS, READERS};
use crate::routes::letters::{bundle_response, case_letter, issue_letter, Letter, BUNDLERS};
use crate::startup::AppState;

use super::cases::{refusal, render_case, LETTER_FIELDS};
use super::forms::{FieldErrors, FormData};
use super::session::Staff;
use super::PageError;

/// `POST /cases/{id}/letters`: renders the letter chosen, records it, and shows it.
pub async fn issue(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    let role = staff.principal.require(CASEWORKERS)?;
    if state.cases.view(&id).await?.is_none() {
        return Err(PageError::NotFound);
    }
    let mut errors = FieldErrors::default();
    let mut problem = None;
    if let Some(kind) = errors.choice::<LetterKind>(&form, "kind", "the letter") {
        let ctx = context(&staff.principal, role, &headers, None);
        match issue_letter(&state, &id, kind, &ctx).await {
            Ok((letter_id, _)) => {
                let to = format!("/cases/{id}/letters/{letter_id}?done=issued");
                return Ok(Redirect::to(&to).into_response());
            }
            Err(err) => problem = refusal(err, LETTER_FIELDS, &mut errors)?,
        }
    }
    render_case(
        &state,
        &staff,
        &id,
        None,
        Some(("letters", &form, errors, problem)),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LetterQuery {
    done: String,
    format: String,
}

#[derive(Debug, Serialize)]
struct LetterPage {
    id: String,
    reference: String,
    summary: String,
    letter: Letter,
    issued: bool,
}

/// `GET /cases/{id}/letters/{letter_id}`: the letter as it was issued; `?format=html` is
/// the letter's own HTML document, to print.
pub async fn view(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, letter_id)): Path<(String, String)>,
    query: Result<Query<LetterQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    staff.principal.require(READERS)?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let case = state.cases.view(&id).await?.ok_or(PageError::NotFound)?;
    let letter = case_letter(&state, &id, &letter_id).await?;
    if query.format == "html" {
        let mut response = letter.html.into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return Ok(response);
    }
    state.web.page(
        "letter.html",
        Some(&staff),
        LetterPage {
            id,
            reference: case.reference,
            summary: case.summary,
            letter,
            issued: query.done == "issued",
        },
    )
}

/// `GET /cases/{id}/bundle`: the ombudsman bundle, as the API sends it.
pub async fn bundle(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.principal.require(BUNDLERS)?;
    let id = case_id(&id).map_err(|_| PageError::NotFound)?;
    // A broken chain is refused with its reason (see `PageError::Refused`).
    Ok(bundle_response(&state, &id, None).await?)
}
