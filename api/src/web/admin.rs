//! The administrator's pages: users and their roles, sign-in email addresses, passwords,
//! set-password links and API token revocation. Administrators only.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::auth::{parse_roles, Role};
use crate::error::ApiError;
use crate::startup::AppState;
use casefile_store::users::UserRow;
use casefile_store::web::AccountRow;

use super::credentials;
use super::forms::{FieldErrors, FormData, Problem};
use super::session::Staff;
use super::sign_in::capitalise;
use super::PageError;

const ALL_ROLES: [Role; 7] = [
    Role::Advisor,
    Role::Officer,
    Role::Reviewer,
    Role::Manager,
    Role::Compliance,
    Role::Auditor,
    Role::Admin,
];

fn require_admin(staff: &Staff) -> Result<(), PageError> {
    staff.principal.require(&[Role::Admin])?;
    Ok(())
}

#[derive(Debug, Serialize)]
struct Account {
    id: String,
    name: String,
    roles: Vec<String>,
    email: Option<String>,
    has_password: bool,
    live_tokens: i64,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Self {
            roles: parse_roles(&row.roles)
                .iter()
                .map(|r| r.to_string())
                .collect(),
            id: row.id,
            name: row.name,
            email: row.email,
            has_password: row.has_password,
            live_tokens: row.live_tokens,
        }
    }
}

#[derive(Debug, Serialize)]
struct UsersPage {
    accounts: Vec<Account>,
    roles: Vec<&'static str>,
    values: std::collections::BTreeMap<String, String>,
    chosen_roles: Vec<String>,
    errors: FieldErrors,
    problems: Vec<Problem>,
    min_chars: usize,
}

async fn users_page(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: &FormData,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let accounts = state
        .store
        .accounts()
        .await?
        .into_iter()
        .map(Account::from)
        .collect();
    state.web.page_with_status(
        status,
        "admin_users.html",
        Some(staff),
        UsersPage {
            accounts,
            roles: ALL_ROLES.iter().map(Role::as_str).collect(),
            values: form.values(),
            chosen_roles: form.all("roles"),
            problems: errors.problems(|field| match field {
                "roles" => "new-roles-advisor".to_string(),
                other => format!("new-{other}"),
            }),
            errors,
            min_chars: credentials::MIN_PASSWORD_CHARS,
        },
    )
}

pub async fn users(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    require_admin(&staff)?;
    users_page(
        &state,
        &staff,
        StatusCode::OK,
        &FormData::default(),
        FieldErrors::default(),
    )
    .await
}

pub async fn create_user(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    require_admin(&staff)?;
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    let mut errors = FieldErrors::default();
    let name = errors.required(&form, "name", "the user's name");
    if name.chars().count() > 200 {
        errors.add("name", "The name must be at most 200 characters");
    }
    let mut roles: Vec<Role> = form
        .all("roles")
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        errors.add("roles", "Select at least one role");
    }
    let email = match form.text("email").map(|e| credentials::normalise_email(&e)) {
        Some(Ok(email)) => Some(email),
        Some(Err(err)) => {
            errors.add("email", capitalise(&err.to_string()));
            None
        }
        None => None,
    };
    let password = form.get("password").filter(|p| !p.is_empty());
    if let Some(Err(err)) = password.map(credentials::check_password) {
        errors.add("password", capitalise(&err.to_string()));
    }
    if let Some(email) = &email {
        if state.store.credentials_by_email(email).await?.is_some() {
            errors.add(
                "email",
                "Another user already signs in with this email address",
            );
        }
    }
    if !errors.is_empty() {
        return users_page(
            &state,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            errors,
        )
        .await;
    }
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        roles: roles.iter().map(Role::as_str).collect::<Vec<_>>().join(","),
    };
    state.store.insert_user(&row).await?;
    if email.is_some() {
        match credentials::set_email(&state.store, &row.id, email.as_deref()).await {
            Ok(_) => {}
            Err(err @ ApiError::Rejected { .. }) => {
                errors.add("email", capitalise(&err.to_string()));
            }
            Err(err) => return Err(err.into()),
        }
    }
    if let Some(password) = password {
        credentials::set_password(&state.store, &row.id, password).await?;
    }
    Ok(Redirect::to(&format!("/admin/users/{}?done=created", row.id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

#[derive(Debug, Serialize)]
struct UserPage {
    account: Account,
    done: Option<&'static str>,
    email_value: String,
    errors: FieldErrors,
    problems: Vec<Problem>,
    /// A set-password link just made: shown once.
    link: Option<String>,
    link_expires_at: Option<String>,
    /// Why revoking the tokens was refused.
    revoke_problem: Option<String>,
    min_chars: usize,
}

struct Shown {
    done: Option<&'static str>,
    email_value: Option<String>,
    errors: FieldErrors,
    link: Option<(String, String)>,
    revoke_problem: Option<String>,
}

async fn user_page(
    state: &AppState,
    staff: &Staff,
    id: &str,
    status: StatusCode,
    shown: Shown,
) -> Result<Response, PageError> {
    let account = state
        .store
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .map(Account::from)
        .ok_or(PageError::NotFound)?;
    let email_value = shown
        .email_value
        .unwrap_or_else(|| account.email.clone().unwrap_or_default());
    let (link, link_expires_at) = match shown.link {
        Some((link, expires)) => (Some(link), Some(expires)),
        None => (None, None),
    };
    state.web.page_with_status(
        status,
        "admin_user.html",
        Some(staff),
        UserPage {
            account,
            done: shown.done,
            email_value,
            problems: shown.errors.problems(str::to_string),
            errors: shown.errors,
            link,
            link_expires_at,
            revoke_problem: shown.revoke_problem,
            min_chars: credentials::MIN_PASSWORD_CHARS,
        },
    )
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("The user is created."),
        "email" => Some("The sign-in email address is saved."),
        "password" => Some("The password is set. The user's sessions have ended."),
        "revoked" => Some("Every API token of this user is revoked."),
        _ => None,
    }
}

pub async fn user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    require_admin(&staff)?;
    let shown = Shown {
        done: done_message(query.done.as_deref()),
        email_value: None,
        errors: FieldErrors::default(),
        link: None,
        revoke_problem: None,
    };
    user_page(&state, &staff, &id, StatusCode::OK, shown).await
}

/// Saves the sign-in email (`change=email`) or sets the password (`change=password`).
pub async fn update_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    require_admin(&staff)?;
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    state.store.user(&id).await?.ok_or(PageError::NotFound)?;
    let mut errors = FieldErrors::default();
    let done = match form.get("change") {
        Some("email") => match credentials::set_email(&state.store, &id, form.get("email")).await {
            Ok(_) => "email",
            Err(ApiError::Rejected { message, .. })
            | Err(ApiError::Unprocessable { message, .. }) => {
                let message = message
                    .split_once(": ")
                    .map_or(message.as_str(), |(_, m)| m)
                    .to_string();
                errors.add("email", capitalise(&message));
                ""
            }
            Err(err) => return Err(err.into()),
        },
        Some("password") => {
            let password = form.get("password").unwrap_or_default();
            match credentials::check_password(password) {
                Ok(()) => {
                    credentials::set_password(&state.store, &id, password).await?;
                    "password"
                }
                Err(err) => {
                    errors.add("password", capitalise(&err.to_string()));
                    ""
                }
            }
        }
        _ => return Err(PageError::NotFound),
    };
    if errors.is_empty() {
        return Ok(Redirect::to(&format!("/admin/users/{id}?done={done}")).into_response());
    }
    let shown = Shown {
        done: None,
        email_value: form.get("email").map(str::to_string),
        errors,
        link: None,
        revoke_problem: None,
    };
    user_page(&state, &staff, &id, StatusCode::UNPROCESSABLE_ENTITY, shown).await
}

/// `https://host` as the browser reached us, for links handed to other people.
pub fn origin(headers: &HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or_else(|| "localhost".to_string());
    let scheme = header("x-forwarded-proto")
        .filter(|p| p.eq_ignore_ascii_case("https") || p.eq_ignore_ascii_case("http"))
        .unwrap_or_else(|| "http".to_string());
    format!("{}://{host}", scheme.to_lowercase())
}

pub async fn password_link(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    require_admin(&staff)?;
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    state.store.user(&id).await?.ok_or(PageError::NotFound)?;
    let (token, expires_at) = credentials::new_password_link(&state.store, &id, Utc::now()).await?;
    let url = format!(
        "{}{}",
        origin(&headers),
        credentials::password_link_path(&token)
    );
    let shown = Shown {
        done: None,
        email_value: None,
        errors: FieldErrors::default(),
        link: Some((url, expires_at.to_rfc3339())),
        revoke_problem: None,
    };
    user_page(&state, &staff, &id, StatusCode::OK, shown).await
}

pub async fn revoke_tokens(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    require_admin(&staff)?;
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    let user = state.store.user(&id).await?.ok_or(PageError::NotFound)?;
    let is_admin = parse_roles(&user.roles).contains(&Role::Admin);
    let live = state
        .store
        .accounts()
        .await?
        .iter()
        .find(|a| a.id == id)
        .map_or(0, |a| a.live_tokens);
    // The same rule as the API: someone must still be able to administer through it.
    if is_admin && live > 0 && state.store.admins_with_tokens().await? <= 1 {
        let shown = Shown {
            done: None,
            email_value: None,
            errors: FieldErrors::default(),
            link: None,
            revoke_problem: Some(
                "These are the API tokens of the only administrator who holds any. \
                 Give another administrator a token first."
                    .to_string(),
            ),
        };
        return user_page(&state, &staff, &id, StatusCode::CONFLICT, shown).await;
    }
    state.store.revoke_tokens(&id).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}?done=revoked")).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn links_use_the_address_the_browser_used() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(origin(&headers), "http://127.0.0.1:8080");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("cases.example.org"),
        );
        assert_eq!(origin(&headers), "https://cases.example.org");
    }
}
