//! `/api/v1/complaints`: log, read, list and act on cases.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use casefile_domain::aggregate::Status;
use casefile_domain::command::{
    AcknowledgeComplaint, AddLinkedCase, AssignOwner, AttachEvidence, Categorise, CloseComplaint,
    DeclareDeadlock, Escalate, ExtendDeadline, LogComplaint, RecordNote, ReferToRedress,
    RefuseComplaint, ReopenComplaint, RespondToStage, WithdrawComplaint,
};
use casefile_domain::values::Stage;
use casefile_domain::{Action, Actor};
use casefile_projections::case_view::CaseSummary;
use casefile_projections::{CaseView, History};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Principal, Role};
use crate::cases::CommandContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{body_bytes, json_body, BodyBytes};
use crate::startup::AppState;
use crate::store::summaries::SummaryFilter;

use Role::*;

pub(crate) const READERS: &[Role] = &[Advisor, Officer, Reviewer, Manager, Compliance, Auditor];
pub(crate) const LOGGERS: &[Role] = &[Advisor, Officer, Manager];
pub(crate) const CASEWORKERS: &[Role] = &[Advisor, Officer, Reviewer, Manager];
pub(crate) const STAGE1: &[Role] = &[Officer, Manager];
pub(crate) const STAGE2: &[Role] = &[Reviewer, Manager];
pub(crate) const CLOSERS: &[Role] = &[Officer, Reviewer, Manager];
pub(crate) const REFERRERS: &[Role] = &[Reviewer, Manager, Compliance];
pub(crate) const MANAGERS: &[Role] = &[Manager];

/// A case id from the path: anything that is not a UUID names no case.
pub(crate) fn case_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::NotFound)
}

pub(crate) fn context(principal: &Principal, role: Role, headers: &HeaderMap) -> CommandContext {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    CommandContext {
        principal: principal.clone(),
        role,
        request_id: header("x-request-id").unwrap_or_default(),
        user_agent: header("user-agent"),
    }
}

/// Log a new complaint.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints",
    request_body = LogComplaint,
    responses(
        (status = 201, description = "The new case", body = CaseView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn log_complaint(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<(StatusCode, Json<CaseView>), ApiError> {
    let role = principal.require(LOGGERS)?;
    let complaint: LogComplaint = json_body(&headers, body_bytes(bytes)?)?;
    let ctx = context(&principal, role, &headers);
    let view = state.cases.log(complaint, &ctx).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One case as it stands today.
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints",
    params(("id" = String, Path, description = "Case id")),
    responses(
        (status = 200, body = CaseView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_complaint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    principal.require(READERS)?;
    let id = case_id(&id)?;
    state
        .cases
        .view(&id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Every event of a case, in order, with who, when and through which request.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/history", tag = "complaints",
    params(("id" = String, Path, description = "Case id")),
    responses(
        (status = 200, body = History),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<History>, ApiError> {
    principal.require(READERS)?;
    let id = case_id(&id)?;
    state
        .cases
        .history(&id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<Status>,
    pub stage: Option<Stage>,
    pub owner_id: Option<String>,
    pub procedure: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Cases to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    pub items: Vec<CaseSummary>,
    pub total: i64,
}

/// The work queue: cases filtered by status, stage, owner and procedure.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints",
    params(ListParams),
    responses(
        (status = 200, body = CaseList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_complaints(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(READERS)?;
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        message: rejection.body_text(),
    })?;
    let limit = params.limit.unwrap_or(50);
    let offset = params.offset.unwrap_or(0);
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            message: "limit must be between 1 and 500 and offset at least 0".to_string(),
        });
    }
    let filter = SummaryFilter {
        status: params.status.map(|s| s.to_string()),
        stage: params.stage.map(|s| match s {
            Stage::Stage1 => "stage1".to_string(),
            Stage::Stage2 => "stage2".to_string(),
        }),
        owner_id: params.owner_id,
        procedure: params.procedure,
        limit,
        offset,
    };
    let (items, total) = state.store.list_summaries(&filter).await?;
    Ok(Json(serde_json::json!({"items": items, "total": total})))
}

/// Body of `assign`: the user who will own the case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[schema(min_length = 1)]
    pub owner_id: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Assign or reassign the case's owner.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/assign", tag = "actions",
    params(("id" = String, Path, description = "Case id")),
    request_body = AssignRequest,
    responses(
        (status = 200, body = CaseView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<Json<CaseView>, ApiError> {
    let role = principal.require(MANAGERS)?;
    let id = case_id(&id)?;
    let request: AssignRequest = json_body(&headers, body_bytes(bytes)?)?;
    let owner =
        state
            .store
            .user(&request.owner_id)
            .await?
            .ok_or_else(|| ApiError::Unprocessable {
                code: "unknown_user",
                message: format!("no user has the id `{}`", request.owner_id),
                details: serde_json::Value::Null,
            })?;
    let action = Action::AssignOwner(AssignOwner {
        owner: Actor {
            id: owner.id,
            name: owner.name,
        },
        occurred_at: request.occurred_at,
    });
    let ctx = context(&principal, role, &headers);
    state
        .cases
        .execute(&id, "assign", action, &ctx)
        .await
        .map(Json)
}

/// Declares one `POST /api/v1/complaints/{id}/<action>` handler: role check, body, command.
macro_rules! action {
    ($handler:ident, $path:literal, $body:ident, $roles:expr, $variant:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "actions",
                    params(("id" = String, Path, description = "Case id")),
                    request_body = $body,
                    responses(
                        (status = 200, description = "The case after the action", body = CaseView),
                        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
                        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
                    ),
                    security(("bearer" = [])))]
        pub async fn $handler(
            State(state): State<AppState>,
            principal: Principal,
            Path(id): Path<String>,
            headers: HeaderMap,
            bytes: BodyBytes,
        ) -> Result<Json<CaseView>, ApiError> {
            let role = principal.require($roles)?;
            let id = case_id(&id)?;
            let command: $body = json_body(&headers, body_bytes(bytes)?)?;
            let ctx = context(&principal, role, &headers);
            state
                .cases
                .execute(&id, stringify!($handler), Action::$variant(command), &ctx)
                .await
                .map(Json)
        }
    };
}

action!(
    acknowledge,
    "/api/v1/complaints/{id}/acknowledge",
    AcknowledgeComplaint,
    STAGE1,
    Acknowledge,
    "Acknowledge the complaint (starts the Stage 1 response clock)."
);
action!(
    notes,
    "/api/v1/complaints/{id}/notes",
    RecordNote,
    CASEWORKERS,
    RecordNote,
    "Record an internal note or a piece of correspondence."
);
action!(
    evidence,
    "/api/v1/complaints/{id}/evidence",
    AttachEvidence,
    CASEWORKERS,
    AttachEvidence,
    "Attach evidence (metadata and checksum)."
);
action!(
    links,
    "/api/v1/complaints/{id}/links",
    AddLinkedCase,
    CASEWORKERS,
    AddLinkedCase,
    "Link a repair, anti-social behaviour, tenancy or contact record."
);
action!(
    categorise,
    "/api/v1/complaints/{id}/categorise",
    Categorise,
    CASEWORKERS,
    Categorise,
    "Set the theme and root cause."
);
action!(
    extend,
    "/api/v1/complaints/{id}/extend",
    ExtendDeadline,
    STAGE1,
    ExtendDeadline,
    "Extend the current stage's response deadline within the procedure's cap."
);
action!(
    stage1_response,
    "/api/v1/complaints/{id}/stage1-response",
    RespondToStage,
    STAGE1,
    RespondStage1,
    "Record the Stage 1 response."
);
action!(
    escalate,
    "/api/v1/complaints/{id}/escalate",
    Escalate,
    CASEWORKERS,
    Escalate,
    "Record the resident's request for Stage 2."
);
action!(
    stage2_acknowledge,
    "/api/v1/complaints/{id}/stage2-acknowledge",
    AcknowledgeComplaint,
    STAGE2,
    AcknowledgeStage2,
    "Acknowledge the Stage 2 request."
);
action!(
    stage2_response,
    "/api/v1/complaints/{id}/stage2-response",
    RespondToStage,
    STAGE2,
    RespondStage2,
    "Record the Stage 2 response (by someone other than the Stage 1 responder)."
);
action!(
    close,
    "/api/v1/complaints/{id}/close",
    CloseComplaint,
    CLOSERS,
    Close,
    "Close the case with its remedy and learning."
);
action!(
    deadlock,
    "/api/v1/complaints/{id}/deadlock",
    DeclareDeadlock,
    STAGE2,
    DeclareDeadlock,
    "Declare the case deadlocked, where the procedure has a deadlock rule."
);
action!(
    refer,
    "/api/v1/complaints/{id}/refer",
    ReferToRedress,
    REFERRERS,
    ReferToRedress,
    "Record the referral to a redress scheme."
);
action!(
    refuse,
    "/api/v1/complaints/{id}/refuse",
    RefuseComplaint,
    STAGE1,
    Refuse,
    "Refuse the complaint for a reason the Code allows."
);
action!(
    withdraw,
    "/api/v1/complaints/{id}/withdraw",
    WithdrawComplaint,
    CASEWORKERS,
    Withdraw,
    "Record that the resident withdrew the complaint."
);
action!(
    reopen,
    "/api/v1/complaints/{id}/reopen",
    ReopenComplaint,
    MANAGERS,
    Reopen,
    "Reopen a closed, withdrawn or refused case."
);
