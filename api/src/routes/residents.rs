//! `/api/v1/residents/{resident_id}/adjustments`: a resident's disclosed needs and agreed
//! reasonable adjustments. Special-category data: only [`ADJUSTMENT_READERS`] read it, every
//! read is logged (the one read that writes: the access log), and it is attached to the case
//! view of that resident's cases, never to work-queue rows.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use casefile_domain::resident::{ResidentAction, SetAdjustments};
use casefile_domain::values::MAX_RESIDENT_ID;
use casefile_domain::{Actor, ResidentCommand, ResidentServices};
use casefile_projections::recorded::meta;
use casefile_projections::{CaseView, ResidentView};
use casefile_store::residents::ResidentRead;
use chrono::Utc;

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{body_bytes, json_body, BodyBytes};
use crate::startup::AppState;

use Role::*;

/// The roles that may read (and record) a resident's needs and adjustments, besides admin.
/// Auditors and compliance see cases without them.
pub const ADJUSTMENT_READERS: &[Role] = &[Advisor, Officer, Reviewer, Manager];

fn resident_id(raw: &str) -> Result<&str, ApiError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > MAX_RESIDENT_ID || id != raw {
        return Err(ApiError::NotFound);
    }
    Ok(id)
}

/// The resident's disclosed needs, agreed adjustments and next review (an empty record,
/// version 0, when nothing was recorded). The read is logged.
#[utoipa::path(get, path = "/api/v1/residents/{resident_id}/adjustments", tag = "residents",
    params(("resident_id" = String, Path, description = "The landlord's id for the resident")),
    responses(
        (status = 200, body = ResidentView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_adjustments(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
) -> Result<Json<ResidentView>, ApiError> {
    let role = principal.require(ADJUSTMENT_READERS)?;
    let id = resident_id(&raw)?;
    let loaded = state
        .store
        .load_resident(id)
        .await
        .map_err(ApiError::from_load)?;
    state
        .store
        .record_resident_read(&ResidentRead {
            resident_id: id,
            user_id: &principal.id,
            role: role.as_str(),
            via: "adjustments".to_string(),
        })
        .await?;
    Ok(Json(loaded.view))
}

/// Replaces the resident's needs, agreed adjustments and next review date; each change is an
/// event on the resident.
#[utoipa::path(put, path = "/api/v1/residents/{resident_id}/adjustments", tag = "residents",
    params(("resident_id" = String, Path, description = "The landlord's id for the resident")),
    request_body = SetAdjustments,
    responses(
        (status = 200, body = ResidentView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_adjustments(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<Json<ResidentView>, ApiError> {
    let role = principal.require(ADJUSTMENT_READERS)?;
    let id = resident_id(&raw)?;
    let command: SetAdjustments = json_body(&headers, body_bytes(bytes)?)?;
    let base = state
        .store
        .load_resident(id)
        .await
        .map_err(ApiError::from_load)?;
    let events = base.state().decide(
        ResidentCommand {
            actor: Actor {
                id: principal.id.clone(),
                name: principal.name.clone(),
            },
            action: ResidentAction::SetAdjustments(command),
        },
        &ResidentServices::default(),
    )?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut metadata = HashMap::from([
        (meta::ACTOR_ID.to_string(), principal.id.clone()),
        (meta::ACTOR_NAME.to_string(), principal.name.clone()),
        (meta::ACTOR_ROLE.to_string(), role.to_string()),
        (
            meta::REQUEST_ID.to_string(),
            header("x-request-id").unwrap_or_default(),
        ),
        (meta::RECORDED_AT.to_string(), Utc::now().to_rfc3339()),
    ]);
    if let Some(agent) = header("user-agent") {
        metadata.insert(meta::USER_AGENT.to_string(), agent);
    }
    let view = state
        .store
        .commit_resident(&base, events, &metadata)
        .await?;
    Ok(Json(view))
}

/// The case view with its resident's needs and adjustments attached when the reader's role
/// may see them and the case names a resident with a record; the read is logged.
pub async fn attach(
    state: &AppState,
    principal: &Principal,
    view: CaseView,
) -> Result<CaseView, ApiError> {
    let Ok(role) = principal.require(ADJUSTMENT_READERS) else {
        return Ok(view);
    };
    let Some(id) = view.complainant.resident_id.clone() else {
        return Ok(view);
    };
    let loaded = state
        .store
        .load_resident(&id)
        .await
        .map_err(ApiError::from_load)?;
    if loaded.view.version == 0 {
        return Ok(view);
    }
    state
        .store
        .record_resident_read(&ResidentRead {
            resident_id: &id,
            user_id: &principal.id,
            role: role.as_str(),
            via: format!("case:{}", view.id),
        })
        .await?;
    Ok(view.with_adjustments(Some(loaded.view)))
}

/// This module's routes, merged into the authenticated API.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route(
        "/residents/{resident_id}/adjustments",
        get(get_adjustments).put(put_adjustments),
    )
}
