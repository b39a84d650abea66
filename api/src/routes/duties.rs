//! What the Complaint Handling Code asks a case to hold beyond its dates: representatives,
//! updates given to the resident, tracked actions, and learning (listed across cases at
//! `/api/v1/learning`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use casefile_domain::command::{
    AddRepresentative, CompleteAction, CompleteLearning, EndRepresentative, RecordLearning,
    RecordUpdate, SetAction,
};
use casefile_domain::{uk_date, Action};
use casefile_projections::case_view::{LearningRow, LearningStatus};
use casefile_projections::CaseView;
use casefile_store::idempotency::KeyClaim;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::complaints::{action, case_id, context};
use crate::auth::{Principal, Role};
use crate::cases::CaseResponse;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{body_bytes, json_body, parse_json, BodyBytes};
use crate::startup::AppState;

use Role::*;

const CASEWORKERS: &[Role] = &[Advisor, Officer, Reviewer, Manager];
const RESPONDERS: &[Role] = &[Officer, Reviewer, Manager];
const READERS: &[Role] = &[Advisor, Officer, Reviewer, Manager, Compliance, Auditor];

action!(
    add_representative,
    "/api/v1/complaints/{id}/representatives",
    AddRepresentative,
    CASEWORKERS,
    AddRepresentative,
    "Record a representative acting for the resident, and where letters go."
);
action!(
    record_update,
    "/api/v1/complaints/{id}/updates",
    RecordUpdate,
    CASEWORKERS,
    RecordUpdate,
    "Record an update given to the resident and, optionally, when the next one is due."
);
action!(
    record_learning_on_case,
    "/api/v1/complaints/{id}/learning",
    RecordLearning,
    RESPONDERS,
    RecordLearning,
    "Record a learning action on a case."
);

/// The body of a command whose id is in the path: the path's value is put in under `field`
/// (a body naming a different one is refused) and the whole read as the command.
fn with_path_id<T: DeserializeOwned>(
    headers: &HeaderMap,
    bytes: BodyBytes,
    field: &str,
    value: &str,
) -> Result<T, ApiError> {
    let mut body: serde_json::Map<String, serde_json::Value> =
        json_body(headers, body_bytes(bytes)?)?;
    if let Some(given) = body.get(field) {
        if given.as_str() != Some(value) {
            return Err(ApiError::Unprocessable {
                code: "invalid_body",
                message: format!("`{field}` in the body differs from the path's"),
                details: serde_json::json!({"path": field, "reason": "differs from the path"}),
            });
        }
    }
    body.insert(
        field.to_string(),
        serde_json::Value::String(value.to_string()),
    );
    let bytes = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    parse_json(&bytes)
}

/// A command on a case with a second id in the path.
macro_rules! sub_action {
    ($handler:ident, $path:literal, $param:literal, $body:ident, $roles:expr, $variant:ident,
     $method:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path($method, path = $path, tag = "actions",
                    params(("id" = String, Path, description = "Case id"),
                           ($param = String, Path, description = "Id of the entry on the case")),
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
            Path((id, entry)): Path<(String, String)>,
            claim: Option<Extension<KeyClaim>>,
            headers: HeaderMap,
            bytes: BodyBytes,
        ) -> Result<CaseResponse, ApiError> {
            let role = principal.require($roles)?;
            let id = case_id(&id)?;
            let command: $body = with_path_id(&headers, bytes, $param, &entry)?;
            let ctx = context(&principal, role, &headers, claim);
            state
                .cases
                .execute(&id, stringify!($handler), Action::$variant(command), &ctx)
                .await
        }
    };
}

sub_action!(
    end_representative,
    "/api/v1/complaints/{id}/representatives/{representative_id}",
    "representative_id",
    EndRepresentative,
    CASEWORKERS,
    EndRepresentative,
    delete,
    "End a representative's authority to act (body: `{\"reason\"}`)."
);
sub_action!(
    set_action,
    "/api/v1/complaints/{id}/actions/{action_id}",
    "action_id",
    SetAction,
    RESPONDERS,
    SetAction,
    post,
    "Give a remedy or outstanding action its owner and due date."
);
sub_action!(
    complete_action,
    "/api/v1/complaints/{id}/actions/{action_id}/complete",
    "action_id",
    CompleteAction,
    RESPONDERS,
    CompleteAction,
    post,
    "Complete an action, with evidence of completion."
);
sub_action!(
    complete_learning,
    "/api/v1/learning/{id}/{learning_id}/complete",
    "learning_id",
    CompleteLearning,
    RESPONDERS,
    CompleteLearning,
    post,
    "Complete a learning action, saying what changed (`id` is the case's)."
);

/// A learning action recorded against a case named in the body (read field by field by
/// [`record_learning`]; this type describes it).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewLearning {
    #[schema(min_length = 1)]
    pub case_id: String,
    #[serde(flatten)]
    pub learning: RecordLearning,
}

/// Record a learning action on the case named by `case_id`.
#[utoipa::path(post, path = "/api/v1/learning", tag = "actions",
    request_body = NewLearning,
    responses(
        (status = 200, description = "The case after the action", body = CaseView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn record_learning(
    State(state): State<AppState>,
    principal: Principal,
    claim: Option<Extension<KeyClaim>>,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<CaseResponse, ApiError> {
    let role = principal.require(RESPONDERS)?;
    let mut body: serde_json::Map<String, serde_json::Value> =
        json_body(&headers, body_bytes(bytes)?)?;
    let Some(serde_json::Value::String(raw_id)) = body.remove("case_id") else {
        return Err(ApiError::Unprocessable {
            code: "invalid_body",
            message: "send the case's id as `case_id`".to_string(),
            details: serde_json::json!({"path": "case_id", "reason": "missing"}),
        });
    };
    let id = case_id(&raw_id)?;
    let bytes = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    let command: RecordLearning = parse_json(&bytes)?;
    let ctx = context(&principal, role, &headers, claim);
    state
        .cases
        .execute(
            &id,
            "record_learning",
            Action::RecordLearning(command),
            &ctx,
        )
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LearningParams {
    pub status: Option<LearningStatus>,
    /// A theme, whatever its letter case.
    pub theme: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LearningList {
    pub items: Vec<LearningRow>,
    pub total: usize,
}

/// Learning actions across every case, oldest case first.
#[utoipa::path(get, path = "/api/v1/learning", tag = "complaints",
    params(LearningParams),
    responses(
        (status = 200, body = LearningList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_learning(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<LearningParams>, QueryRejection>,
) -> Result<Json<LearningList>, ApiError> {
    principal.require(READERS)?;
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        message: rejection.body_text(),
    })?;
    let views = state
        .store
        .case_views_without_items(state.cases.calendar(), uk_date(Utc::now()))
        .await
        .map_err(ApiError::from_load)?;
    let mut items: Vec<(chrono::NaiveDate, LearningRow)> = views
        .iter()
        .flat_map(|view| {
            view.learning_rows()
                .into_iter()
                .map(move |row| (view.received_on, row))
        })
        .filter(|(_, row)| row.matches(params.status, params.theme.as_deref()))
        .collect();
    items.sort_by(|a, b| (a.0, &a.1.reference).cmp(&(b.0, &b.1.reference)));
    let items: Vec<LearningRow> = items.into_iter().map(|(_, row)| row).collect();
    Ok(Json(LearningList {
        total: items.len(),
        items,
    }))
}

/// This module's routes, merged into the authenticated API.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{delete, post};
    axum::Router::new()
        .route("/complaints/{id}/representatives", post(add_representative))
        .route(
            "/complaints/{id}/representatives/{representative_id}",
            delete(end_representative),
        )
        .route("/complaints/{id}/updates", post(record_update))
        .route("/complaints/{id}/learning", post(record_learning_on_case))
        .route("/complaints/{id}/actions/{action_id}", post(set_action))
        .route(
            "/complaints/{id}/actions/{action_id}/complete",
            post(complete_action),
        )
        .route("/learning", post(record_learning).get(list_learning))
        .route(
            "/learning/{id}/{learning_id}/complete",
            post(complete_learning),
        )
}
