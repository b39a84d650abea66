//! Signing in with an email address and password, signing out, and the one-time
//! set-password page. The forms shown before signing in carry a CSRF token that is also in
//! a cookie (double submit), since there is no session yet to keep it in.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::auth::{hash_token, new_token};
use crate::startup::AppState;

use super::credentials::{self, SignInOutcome};
use super::forms::{FieldErrors, FormData, Problem};
use super::session::{
    self, is_secure, read_cookie, same_secret, MaybeStaff, SignInMethod, Staff, PRE_SESSION_COOKIE,
};
use super::PageError;

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct SignInPage {
    next: String,
    csrf: String,
    email: String,
    /// A sentence above the form: a refusal or a lock.
    problem: Option<String>,
    errors: FieldErrors,
    problems: Vec<Problem>,
    notice: Option<&'static str>,
}

impl SignInPage {
    fn with_problems(mut self) -> Self {
        self.problems = match &self.problem {
            Some(text) => vec![Problem {
                href: "#email".to_string(),
                text: text.clone(),
            }],
            None => self.errors.problems(str::to_string),
        };
        self
    }
}

/// Only a path on this site, so a link cannot send a user elsewhere after signing in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.contains('\\')
                && !next.starts_with("/sign-") =>
        {
            next.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The token of the forms shown before signing in: the browser's, or a new one.
fn pre_session_token(headers: &HeaderMap) -> (String, bool) {
    match read_cookie(headers, PRE_SESSION_COOKIE) {
        Some(token) => (token, false),
        None => (new_token(), true),
    }
}

/// Renders a page shown before signing in, setting the CSRF cookie when it is new.
fn pre_session_page<S: Serialize>(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    template: &str,
    token: &str,
    is_new: bool,
    page: S,
) -> Result<Response, PageError> {
    let mut response = state.web.page_with_status(status, template, None, page)?;
    if is_new {
        let secure = is_secure(headers, state.web.secure_cookies);
        response.headers_mut().append(
            SET_COOKIE,
            session::cookie(PRE_SESSION_COOKIE, token, 3600, secure),
        );
    }
    Ok(response)
}

fn pre_session_csrf_ok(headers: &HeaderMap, form: &FormData) -> bool {
    match (read_cookie(headers, PRE_SESSION_COOKIE), form.get("csrf")) {
        (Some(cookie), Some(sent)) => same_secret(&cookie, sent),
        _ => false,
    }
}

pub async fn page(
    State(state): State<AppState>,
    MaybeStaff(staff): MaybeStaff,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Result<Response, PageError> {
    let next = safe_next(query.next.as_deref());
    if staff.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let (token, is_new) = pre_session_token(&headers);
    let notice = match query.done.as_deref() {
        Some("signed-out") => Some("You have signed out."),
        Some("password") => Some("Your password is set. Sign in with it now."),
        _ => None,
    };
    let page = SignInPage {
        next,
        csrf: token.clone(),
        notice,
        ..SignInPage::default()
    };
    pre_session_page(
        &state,
        &headers,
        StatusCode::OK,
        "sign_in.html",
        &token,
        is_new,
        page,
    )
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    let next = safe_next(form.get("next"));
    let email = form.text("email").unwrap_or_default();
    let password = form.get("password").unwrap_or_default().to_string();
    let (token, is_new) = pre_session_token(&headers);
    let mut page = SignInPage {
        next: next.clone(),
        csrf: token.clone(),
        email: email.clone(),
        ..SignInPage::default()
    };
    let show = |status, page: SignInPage| {
        let page = page.with_problems();
        pre_session_page(
            &state,
            &headers,
            status,
            "sign_in.html",
            &token,
            is_new,
            page,
        )
    };
    if !pre_session_csrf_ok(&headers, &form) {
        page.problem = Some(
            "The sign-in form had expired, so nothing was checked. Sign in again.".to_string(),
        );
        return show(StatusCode::FORBIDDEN, page);
    }
    if email.is_empty() {
        page.errors.add("email", "Enter your email address");
    }
    if password.is_empty() {
        page.errors.add("password", "Enter your password");
    }
    if !page.errors.is_empty() {
        return show(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let now = Utc::now();
    match credentials::sign_in_with_password(&state.store, &email, &password, now).await? {
        SignInOutcome::SignedIn(user_id) => {
            let secure = is_secure(&headers, state.web.secure_cookies);
            Ok(
                session::open_session(&state, &user_id, SignInMethod::Password, secure, &next)
                    .await?,
            )
        }
        SignInOutcome::Refused => {
            page.problem = Some("The email address or password is not right.".to_string());
            page.errors.add(
                "password",
                "Check the email address and password and try again",
            );
            show(StatusCode::UNAUTHORIZED, page)
        }
        SignInOutcome::Locked { until } => {
            let seconds = (until - now).num_seconds().max(1);
            let time = until
                .with_timezone(&chrono_tz::Europe::London)
                .format("%H:%M:%S");
            page.problem = Some(format!(
                "This account is locked after too many failed sign-ins. \
                 Try again after {time} (in {seconds} seconds), or ask an administrator \
                 to set a new password."
            ));
            show(StatusCode::TOO_MANY_REQUESTS, page)
        }
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    staff.check_csrf(form.get("csrf"))?;
    let cookie = session::close_session(&state, &headers).await?;
    let mut response = Redirect::to("/sign-in?done=signed-out").into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct SetPasswordPage {
    token: String,
    csrf: String,
    /// The link no longer works; the form is not shown.
    invalid: bool,
    user_name: String,
    /// The user has no sign-in name yet and must choose one.
    needs_email: bool,
    email: String,
    errors: FieldErrors,
    problems: Vec<Problem>,
    min_chars: usize,
}

/// The user a live link belongs to, with their name and whether they lack an email.
async fn live_link(
    state: &AppState,
    token: &str,
) -> Result<Option<(String, String, bool)>, PageError> {
    let Some(link) = state.store.password_link(&hash_token(token)).await? else {
        return Ok(None);
    };
    if link.used || link.expires_at <= Utc::now() {
        return Ok(None);
    }
    let Some(user) = state.store.user(&link.user_id).await? else {
        return Ok(None);
    };
    let has_email = state
        .store
        .credentials(&user.id)
        .await?
        .is_some_and(|c| c.email.is_some());
    Ok(Some((user.id, user.name, !has_email)))
}

pub async fn set_password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LinkQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    let (csrf, is_new) = pre_session_token(&headers);
    let mut page = SetPasswordPage {
        token: token.clone(),
        csrf: csrf.clone(),
        min_chars: credentials::MIN_PASSWORD_CHARS,
        ..SetPasswordPage::default()
    };
    let status = match live_link(&state, &token).await? {
        Some((_, name, needs_email)) => {
            page.user_name = name;
            page.needs_email = needs_email;
            StatusCode::OK
        }
        None => {
            page.invalid = true;
            StatusCode::NOT_FOUND
        }
    };
    pre_session_page(
        &state,
        &headers,
        status,
        "set_password.html",
        &csrf,
        is_new,
        page,
    )
}

pub async fn set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    let token = form.get("token").unwrap_or_default().to_string();
    let (csrf, is_new) = pre_session_token(&headers);
    let mut page = SetPasswordPage {
        token: token.clone(),
        csrf: csrf.clone(),
        email: form.text("email").unwrap_or_default(),
        min_chars: credentials::MIN_PASSWORD_CHARS,
        ..SetPasswordPage::default()
    };
    let show = |status, mut page: SetPasswordPage| {
        page.problems = page.errors.problems(str::to_string);
        pre_session_page(
            &state,
            &headers,
            status,
            "set_password.html",
            &csrf,
            is_new,
            page,
        )
    };
    let Some((user_id, name, needs_email)) = live_link(&state, &token).await? else {
        page.invalid = true;
        return show(StatusCode::NOT_FOUND, page);
    };
    page.user_name = name;
    page.needs_email = needs_email;
    if !pre_session_csrf_ok(&headers, &form) {
        page.errors.add(
            "password",
            "The form had expired, so nothing was saved. Enter the password again",
        );
        return show(StatusCode::FORBIDDEN, page);
    }
    let password = form.get("password").unwrap_or_default();
    let email = if needs_email {
        match credentials::normalise_email(&page.email) {
            Ok(email) => Some(email),
            Err(err) => {
                page.errors.add("email", capitalise(&err.to_string()));
                None
            }
        }
    } else {
        None
    };
    if let Err(err) = credentials::check_password(password) {
        page.errors.add("password", capitalise(&err.to_string()));
    } else if form.get("confirm").unwrap_or_default() != password {
        page.errors.add("confirm", "Enter the same password twice");
    }
    if !page.errors.is_empty() {
        return show(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    if let Some(email) = &email {
        if let Err(err) = credentials::set_email(&state.store, &user_id, Some(email)).await {
            page.errors.add("email", capitalise(&err.to_string()));
            return show(StatusCode::CONFLICT, page);
        }
    }
    // Used only now that everything is valid, and only once even if submitted twice.
    if !state.store.use_password_link(&hash_token(&token)).await? {
        page.invalid = true;
        return show(StatusCode::NOT_FOUND, page);
    }
    credentials::set_password(&state.store, &user_id, password).await?;
    Ok(Redirect::to("/sign-in?done=password").into_response())
}

pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_this_site_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/cases/1?x=2")), "/cases/1?x=2");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/sign-in",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
