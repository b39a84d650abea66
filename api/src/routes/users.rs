//! `/api/v1/users` and `/api/v1/me`: who may use Casefile, and their tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{hash_token, new_token, parse_roles, Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::startup::AppState;
use casefile_store::users::UserRow;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(min_length = 1)]
    pub name: String,
    #[schema(min_items = 1)]
    pub roles: Vec<Role>,
    /// Sign-in name for the web app, and where the user's notifications (SLA alerts on
    /// their cases) are emailed; unique.
    #[serde(default)]
    #[schema(format = "email")]
    pub email: Option<String>,
    /// Web app password, at least 12 characters.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
}

/// A user with a new token. The token is shown only here, once.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserWithToken {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub token: String,
    /// The sign-in name, when one was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            roles: parse_roles(&row.roles),
            id: row.id,
            name: row.name,
        }
    }
}

/// Create a user and their first token.
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, body = UserWithToken),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserWithToken>), ApiError> {
    principal.require(&[Role::Admin])?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("name", "must be 1 to 200 characters"));
    }
    if request.roles.is_empty() {
        return Err(invalid("roles", "must name at least one role"));
    }
    let email = crate::web::users_api::check_new_credentials(
        &state.store,
        request.email.as_deref(),
        request.password.as_deref(),
    )
    .await?;
    let mut roles = request.roles.clone();
    roles.sort();
    roles.dedup();
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_string(),
        roles: roles.iter().map(Role::as_str).collect::<Vec<_>>().join(","),
    };
    state.store.insert_user(&row).await?;
    crate::web::users_api::save_new_credentials(
        &state.store,
        &row.id,
        email.as_deref(),
        request.password.as_deref(),
    )
    .await?;
    if let Some(email) = &email {
        state.store.set_user_email(&row.id, email).await?;
    }
    let token = new_token();
    state
        .store
        .insert_token(&row.id, &hash_token(&token))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UserWithToken {
            id: row.id,
            name: row.name,
            roles,
            token,
            email,
        }),
    ))
}

fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_field",
        message: format!("field `{field}` {reason}"),
        details: serde_json::json!({"field": field}),
    }
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses(
        (status = 200, body = Vec<User>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<User>>, ApiError> {
    principal.require(&[Role::Admin])?;
    let users = state.store.users().await?;
    Ok(Json(users.into_iter().map(User::from).collect()))
}

/// Issue a new token for a user.
#[utoipa::path(post, path = "/api/v1/users/{id}/tokens", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 201, body = UserWithToken),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn issue_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<UserWithToken>), ApiError> {
    principal.require(&[Role::Admin])?;
    let user = state.store.user(&id).await?.ok_or(ApiError::NotFound)?;
    let token = new_token();
    state
        .store
        .insert_token(&user.id, &hash_token(&token))
        .await?;
    let user = User::from(user);
    Ok((
        StatusCode::CREATED,
        Json(UserWithToken {
            id: user.id,
            name: user.name,
            roles: user.roles,
            token,
            email: None,
        }),
    ))
}

/// Revoke every token of a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn revoke_tokens(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(&[Role::Admin])?;
    let user = state.store.user(&id).await?.ok_or(ApiError::NotFound)?;
    let is_admin = parse_roles(&user.roles).contains(&Role::Admin);
    if is_admin && state.store.admins_with_tokens().await? <= 1 {
        return Err(ApiError::Rejected {
            code: "last_administrator",
            message: "these are the tokens of the only administrator who can sign in; \
                      give another administrator a token first"
                .to_string(),
        });
    }
    state.store.revoke_tokens(&id).await?;
    state.tokens.forget_user(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "users",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(principal: Principal) -> Json<User> {
    Json(User {
        id: principal.id,
        name: principal.name,
        roles: principal.roles,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTeamLeader {
    /// The id of the user's team leader; `null` for none.
    pub team_leader: Option<String>,
}

/// A user's team leader, who is emailed the notifications of the user's cases with them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamLeader {
    pub id: String,
    pub team_leader: Option<String>,
}

/// Set or clear a user's team leader.
#[utoipa::path(put, path = "/api/v1/users/{id}/team-leader", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = SetTeamLeader,
    responses(
        (status = 200, body = TeamLeader),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn set_team_leader(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SetTeamLeader>,
) -> Result<Json<TeamLeader>, ApiError> {
    principal.require(&[Role::Admin])?;
    state.store.user(&id).await?.ok_or(ApiError::NotFound)?;
    if let Some(leader) = &request.team_leader {
        if *leader == id {
            return Err(invalid("team_leader", "must be another user"));
        }
        if state.store.user(leader).await?.is_none() {
            return Err(invalid("team_leader", "names no user"));
        }
    }
    state
        .store
        .set_team_leader(&id, request.team_leader.as_deref())
        .await?;
    Ok(Json(TeamLeader {
        id,
        team_leader: request.team_leader,
    }))
}

/// A user's team leader.
#[utoipa::path(get, path = "/api/v1/users/{id}/team-leader", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = TeamLeader),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn team_leader(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TeamLeader>, ApiError> {
    principal.require(&[Role::Admin])?;
    state.store.user(&id).await?.ok_or(ApiError::NotFound)?;
    let team_leader = state.store.team_leader(&id).await?;
    Ok(Json(TeamLeader { id, team_leader }))
}
