//! Sessions of the web app: a random id in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`
//! when the request came over TLS), stored in the database by its SHA-256 hash with a
//! synchroniser CSRF token, so a session survives a restart and works on every instance.
//!
//! # Signing in: the seam for single sign-on
//!
//! A session is opened by [`open_session`] once a sign-in method has proved who the user
//! is, and records which method did. Passwords (`sign_in.rs`, checked by
//! [`credentials::sign_in_with_password`](super::credentials::sign_in_with_password)) are
//! the only method today. An OIDC provider would be a second one: a redirect route and a
//! callback route that verifies the ID token, finds the user by its verified email with
//! `Store::credentials_by_email`, and calls [`open_session`] with
//! [`SignInMethod::Oidc`]. Nothing after that point knows how the user signed in.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};

use crate::auth::{hash_token, new_token, parse_roles, Principal};
use crate::error::ApiError;
use crate::startup::AppState;

use super::PageError;

/// The cookie that carries the session id.
pub const SESSION_COOKIE: &str = "casefile_session";
/// The cookie that carries the CSRF token of the forms used before signing in.
pub const PRE_SESSION_COOKIE: &str = "casefile_csrf";
/// How long a session lasts from sign-in.
pub const SESSION_HOURS: i64 = 12;

/// How a user proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    /// Reserved for single sign-on; no route opens such a session yet.
    Oidc,
}

impl SignInMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Oidc => "oidc",
        }
    }
}

/// Whether cookies must be `Secure`: always when configured, otherwise when a proxy in
/// front says the browser used https.
pub fn is_secure(headers: &HeaderMap, always: bool) -> bool {
    always
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of one cookie of the request.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .filter(|value| !value.is_empty())
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Opens a session for a user whose identity a sign-in method has proved, and answers
/// with the cookie set and a redirect to `next`.
pub async fn open_session(
    state: &AppState,
    user_id: &str,
    method: SignInMethod,
    secure: bool,
    next: &str,
) -> Result<Response, ApiError> {
    let id = new_token();
    let csrf = new_token();
    let expires_at = Utc::now() + Duration::hours(SESSION_HOURS);
    state
        .store
        .insert_session(
            &hash_token(&id),
            user_id,
            &csrf,
            method.as_str(),
            expires_at,
        )
        .await?;
    // Sweeping here keeps the table small without a background task.
    state.store.delete_expired_sessions(Utc::now()).await?;
    let mut response = Redirect::to(next).into_response();
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        cookie(SESSION_COOKIE, &id, SESSION_HOURS * 3600, secure),
    );
    headers.append(SET_COOKIE, cookie(PRE_SESSION_COOKIE, "", 0, secure));
    Ok(response)
}

/// Ends the session the request carries, if any, and clears its cookie.
pub async fn close_session(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    if let Some(id) = read_cookie(headers, SESSION_COOKIE) {
        state.store.delete_session(&hash_token(&id)).await?;
    }
    let secure = is_secure(headers, state.web.secure_cookies);
    Ok(cookie(SESSION_COOKIE, "", 0, secure))
}

/// A signed-in member of staff: the same [`Principal`] the API uses, plus the session's
/// CSRF token. Extracting it from a request without a live session redirects to sign-in.
#[derive(Debug, Clone)]
pub struct Staff {
    pub principal: Principal,
    pub csrf: String,
}

impl Staff {
    /// Checks the CSRF token a form sent.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), PageError> {
        match sent {
            Some(sent) if same_secret(sent, &self.csrf) => Ok(()),
            _ => Err(PageError::Csrf),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.principal.roles.contains(&crate::auth::Role::Admin)
    }
}

/// The redirect to sign-in, coming back to `path` afterwards.
pub struct SignInRequired(String);

impl IntoResponse for SignInRequired {
    fn into_response(self) -> Response {
        let next = form_urlencoded::byte_serialize(self.0.as_bytes()).collect::<String>();
        Redirect::to(&format!("/sign-in?next={next}")).into_response()
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // After a POST the way back is the page the form was on, not the form's target.
        let back = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string())
        } else {
            "/".to_string()
        };
        let required = || SignInRequired(back.clone()).into_response();
        let Some(id) = read_cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(required());
        };
        let session = state
            .store
            .session(&hash_token(&id))
            .await
            .map_err(|e| PageError::from(ApiError::from(e)).into_response())?;
        let Some(session) = session.filter(|s| s.expires_at > Utc::now()) else {
            return Err(required());
        };
        let user = state
            .store
            .user(&session.user_id)
            .await
            .map_err(|e| PageError::from(ApiError::from(e)).into_response())?;
        let Some(user) = user else {
            return Err(required());
        };
        Ok(Staff {
            principal: Principal {
                roles: parse_roles(&user.roles),
                id: user.id,
                name: user.name,
            },
            csrf: session.csrf_token,
        })
    }
}

/// The staff member if signed in, without redirecting when not.
pub struct MaybeStaff(pub Option<Staff>);

impl FromRequestParts<AppState> for MaybeStaff {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeStaff(
            Staff::from_request_parts(parts, state).await.ok(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_http_only_and_same_site_lax() {
        let value = cookie(SESSION_COOKIE, "abc", 60, false);
        assert_eq!(
            value.to_str().ok(),
            Some("casefile_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60")
        );
    }

    #[test]
    fn a_cookie_is_secure_when_a_proxy_says_the_browser_used_https() {
        let mut headers = HeaderMap::new();
        assert!(!is_secure(&headers, false));
        assert!(is_secure(&headers, true));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_secure(&headers, false));
        assert_eq!(
            cookie(SESSION_COOKIE, "abc", 60, true).to_str().ok(),
            Some("casefile_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure")
        );
    }

    #[test]
    fn one_cookie_is_read_from_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; casefile_session=xyz; b=2"),
        );
        assert_eq!(
            read_cookie(&headers, SESSION_COOKIE),
            Some("xyz".to_string())
        );
        assert_eq!(read_cookie(&headers, "missing"), None);
    }

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret("cf_abc", "cf_abc"));
        assert!(!same_secret("cf_abc", "cf_abd"));
        assert!(!same_secret("cf_abc", "cf_ab"));
    }
}
