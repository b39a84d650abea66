//! The users API's part in signing in to the web app: `PUT /api/v1/users/{id}` sets a
//! user's sign-in email and password, `POST /api/v1/users/{id}/password-link` makes a
//! one-time set-password link, and `POST /api/v1/users` accepts both fields at creation.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::auth::{parse_roles, Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::startup::AppState;
use casefile_store::Store;

use super::credentials::{self, CredentialError};

/// Checks the sign-in fields of a new user before anything is stored; returns the email
/// as it will be stored.
pub async fn check_new_credentials(
    store: &Store,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let email = email.map(credentials::normalise_email).transpose()?;
    if let Some(password) = password {
        credentials::check_password(password)?;
    }
    if let Some(email) = &email {
        if store.credentials_by_email(email).await?.is_some() {
            return Err(CredentialError::EmailTaken.into());
        }
    }
    Ok(email)
}

/// Stores the sign-in fields of a user just created.
pub async fn save_new_credentials(
    store: &Store,
    user_id: &str,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<(), ApiError> {
    if email.is_some() {
        credentials::set_email(store, user_id, email).await?;
    }
    if let Some(password) = password {
        credentials::set_password(store, user_id, password).await?;
    }
    Ok(())
}

/// Present (even as `null`) is `Some`, absent is `None`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Body of `PUT /users/{id}`: each field present is changed, each absent is kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// The sign-in name; `null` removes it, so the user can no longer sign in to the web app.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Option<Option<String>>,
    /// A new password (at least 12 characters); ends the user's web sessions.
    #[serde(default)]
    pub password: Option<String>,
}

/// A user with their sign-in name. Passwords are never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAccount {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub email: Option<String>,
    pub has_password: bool,
}

/// Set a user's sign-in email and password.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, body = UserAccount),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateUser>,
) -> Result<Json<UserAccount>, ApiError> {
    principal.require(&[Role::Admin])?;
    let user = state.store.user(&id).await?.ok_or(ApiError::NotFound)?;
    // Check everything before changing anything.
    if let Some(password) = &request.password {
        credentials::check_password(password)?;
    }
    if let Some(Some(email)) = &request.email {
        credentials::normalise_email(email)?;
    }
    if let Some(email) = &request.email {
        credentials::set_email(&state.store, &id, email.as_deref()).await?;
    }
    if let Some(password) = &request.password {
        credentials::set_password(&state.store, &id, password).await?;
    }
    let credentials = state.store.credentials(&id).await?;
    Ok(Json(UserAccount {
        roles: parse_roles(&user.roles),
        id: user.id,
        name: user.name,
        email: credentials.as_ref().and_then(|c| c.email.clone()),
        has_password: credentials.is_some_and(|c| c.password_hash.is_some()),
    }))
}

/// A one-time link to the page where a user sets their own password.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordLink {
    /// The whole link, on the address the request came to.
    pub url: String,
    /// The link's path on this server, for clients that know its public address better.
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

/// Make a one-time set-password link for a user (valid for 72 hours, usable once).
#[utoipa::path(post, path = "/api/v1/users/{id}/password-link", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 201, body = PasswordLink),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn password_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<PasswordLink>), ApiError> {
    principal.require(&[Role::Admin])?;
    let user = state.store.user(&id).await?.ok_or(ApiError::NotFound)?;
    let (token, expires_at) =
        credentials::new_password_link(&state.store, &user.id, Utc::now()).await?;
    let path = credentials::password_link_path(&token);
    Ok((
        StatusCode::CREATED,
        Json(PasswordLink {
            url: format!("{}{path}", super::admin::origin(&headers)),
            path,
            expires_at,
        }),
    ))
}
