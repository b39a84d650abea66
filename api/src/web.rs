//! The staff web app, served at `/` by the same binary as the API: server-rendered pages
//! that work with JavaScript off, from templates embedded in the binary (an organisation may
//! override any of them from a folder), signed in with a session cookie. Every command goes
//! through the same [`Cases`](crate::cases::Cases) as the API, guarded by the same roles.
//!
//! # Layout
//!
//! - [`templates`]: the embedded templates, overrides and the filters they use.
//! - [`session`]: session cookies, CSRF tokens and the [`session::Staff`] extractor; the
//!   seam for single sign-on.
//! - [`credentials`]: email sign-in names, Argon2 passwords, lockout, set-password links.
//! - [`forms`]: form bodies and the errors tied to their fields.
//! - [`evidence`]: evidence files uploaded and downloaded from the case page.
//! - [`letters`]: letters issued and read from the case page, and the ombudsman bundle.
//! - [`sign_in`], [`home`] (the dashboard), [`queue`], [`cases`], [`audit`] (a case as of
//!   a moment, its chain check), [`reports`], [`admin`]: the pages.
//! - [`users_api`]: the users API's sign-in endpoints.
//! - [`assets`]: the stylesheet and script.

pub mod admin;
pub mod assets;
pub mod audit;
pub mod cases;
pub mod credentials;
pub mod emails;
pub mod evidence;
pub mod forms;
pub mod home;
pub mod letters;
pub mod queue;
pub mod reports;
pub mod session;
pub mod sign_in;
pub mod templates;
pub mod users_api;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use casefile_domain::Calendar;
use serde::Serialize;

use crate::error::ApiError;
use crate::startup::AppState;

use self::session::Staff;
use self::templates::{TemplateError, Templates};

/// A procedure a complaint can be logged under, for the intake form.
#[derive(Debug, Clone, Serialize)]
pub struct ProcedureOption {
    pub id: String,
    pub name: String,
}

/// What the web app needs beyond the API's state.
pub struct Web {
    templates: Templates,
    /// Mark cookies `Secure` even when no proxy says the request came over https.
    pub secure_cookies: bool,
    pub calendar: Arc<Calendar>,
    pub procedures: Vec<ProcedureOption>,
}

impl Web {
    /// Loads the templates (with any overrides from `templates_dir`) and fails if one of
    /// them does not parse.
    pub fn new(
        templates_dir: Option<&PathBuf>,
        secure_cookies: bool,
        calendar: Arc<Calendar>,
        mut procedures: Vec<ProcedureOption>,
    ) -> Result<Self, TemplateError> {
        procedures.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self {
            templates: Templates::load(templates_dir.map(PathBuf::as_path))?,
            secure_cookies,
            calendar,
            procedures,
        })
    }

    /// Renders a page with the layout's facts about the signed-in user.
    pub fn page<S: Serialize>(
        &self,
        template: &str,
        staff: Option<&Staff>,
        page: S,
    ) -> Result<Response, PageError> {
        self.page_with_status(StatusCode::OK, template, staff, page)
    }

    pub fn page_with_status<S: Serialize>(
        &self,
        status: StatusCode,
        template: &str,
        staff: Option<&Staff>,
        page: S,
    ) -> Result<Response, PageError> {
        let html = self
            .templates
            .render(template, &Layout::of(staff), &page)
            .map_err(|err| PageError::Internal(ApiError::internal(err)))?;
        Ok((status, Html(html)).into_response())
    }
}

/// What the layout shows about the signed-in user and what they may open.
#[derive(Debug, Serialize)]
pub struct Layout {
    pub user: Option<LayoutUser>,
    pub csrf: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LayoutUser {
    pub name: String,
    pub roles: Vec<String>,
    pub can_log: bool,
    pub can_read: bool,
    /// Reads the reports: compliance, managers and administrators, as in the API.
    pub can_report: bool,
    pub is_admin: bool,
}

impl Layout {
    fn of(staff: Option<&Staff>) -> Self {
        Self {
            user: staff.map(|s| LayoutUser {
                name: s.principal.name.clone(),
                roles: s.principal.roles.iter().map(|r| r.to_string()).collect(),
                can_log: s
                    .principal
                    .require(crate::routes::complaints::LOGGERS)
                    .is_ok(),
                can_read: s
                    .principal
                    .require(crate::routes::complaints::READERS)
                    .is_ok(),
                can_report: s
                    .principal
                    .require(crate::routes::reports::REPORTERS)
                    .is_ok(),
                is_admin: s.is_admin(),
            }),
            csrf: staff.map(|s| s.csrf.clone()),
        }
    }
}

/// A page that cannot be shown. Rendered as an HTML page by [`web_layer`], which knows
/// the templates.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("page not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error("the form has expired")]
    Csrf,
    #[error("evidence file not held")]
    NotStored,
    /// The case's state does not allow this now; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Internal(ApiError),
}

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::NotFound => Self::NotFound,
            ApiError::Forbidden(message) => Self::Forbidden(message),
            // The case's state refuses this now (a broken chain, say): a 409 page saying
            // why, not a failure of ours.
            ApiError::Rejected { message, .. } => Self::Refused(message),
            // An outage, a full disk or a refused value is told apart when rendered.
            other => Self::Internal(other.classified()),
        }
    }
}

impl From<sqlx::Error> for PageError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

/// The facts of a failed page, carried from the handler to [`web_layer`].
#[derive(Debug, Clone)]
struct FailedPage {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address. Check it, or go back to the home page."
                    .to_string(),
            ),
            Self::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                "You cannot do this",
                format!("Your roles do not allow this: {message}."),
            ),
            Self::Refused(message) => (
                StatusCode::CONFLICT,
                "This cannot be done now",
                format!("{}.", sign_in::capitalise(message)),
            ),
            Self::NotStored => (
                StatusCode::NOT_FOUND,
                "File not held in Casefile",
                "This evidence was recorded by its details only: its file is kept elsewhere, \
                 not in Casefile."
                    .to_string(),
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "The form has expired",
                "The form was out of date or came from another site, so nothing was done. \
                 Go back, reload the page and try again."
                    .to_string(),
            ),
            Self::Internal(err) => match err {
                ApiError::Unavailable(err) => {
                    tracing::warn!(error = ?err, "page failed: the store is unavailable");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Casefile is unavailable",
                        "Casefile cannot reach its records just now, so nothing was done. \
                         Try again in a moment."
                            .to_string(),
                    )
                }
                ApiError::StorageFull(err) => {
                    tracing::error!(error = ?err, "page failed: the store is full");
                    (
                        StatusCode::INSUFFICIENT_STORAGE,
                        "Casefile has no room to save",
                        "Casefile's storage is full, so nothing was saved. Tell your \
                         administrator."
                            .to_string(),
                    )
                }
                ApiError::Unstorable(err) => {
                    crate::error::unstorable_seen(err.as_ref());
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Casefile cannot take this as written",
                        "Something sent with this page holds a character Casefile cannot \
                         store, or text too long to index, so nothing was changed. Go back, \
                         change it and try again."
                            .to_string(),
                    )
                }
                err => {
                    tracing::error!(error = ?err, "page failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong",
                        "Casefile could not show this page. Try again; if it keeps \
                         happening, tell your administrator."
                            .to_string(),
                    )
                }
            },
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(FailedPage {
            status,
            title,
            message,
        });
        response
    }
}

#[derive(Serialize)]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Renders failed pages and sets the headers every page of the web app carries.
async fn web_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(failed) = response.extensions().get::<FailedPage>().cloned() {
        let page = ErrorPage {
            title: failed.title,
            message: &failed.message,
        };
        response = state
            .web
            .page_with_status(failed.status, "error.html", None, page)
            .unwrap_or_else(|_| (failed.status, failed.message).into_response());
        if failed.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
    }
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if is_html {
        headers.insert(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        );
        // Pages hold residents' personal data and set-password tokens: keep them out of
        // caches and of other sites' referrer logs.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// The pages and assets, mounted at `/` beside the API.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route(
            "/set-password",
            get(sign_in::set_password_page).post(sign_in::set_password),
        )
        .route("/cases/new", get(cases::new_page))
        .route("/cases", get(queue::page).post(cases::log))
        .route("/cases/{id}", get(cases::page))
        .route("/cases/{id}/audit", get(audit::audit))
        .route(
            "/cases/{id}/evidence",
            post(evidence::upload).layer(DefaultBodyLimit::max(
                // Room to read past the limit, so an oversized file is refused in the form
                // rather than by a dropped connection.
                crate::routes::evidence::body_limit(state.evidence_limit).saturating_mul(2),
            )),
        )
        .route(
            "/cases/{id}/evidence/{evidence_id}",
            get(evidence::download),
        )
        .route("/cases/{id}/letters", post(letters::issue))
        .route("/cases/{id}/letters/{letter_id}", get(letters::view))
        .route("/cases/{id}/bundle", get(letters::bundle))
        .route("/cases/{id}/verify", get(audit::verify))
        .route("/cases/{id}/{action}", post(cases::act))
        .route("/reports", get(reports::index))
        .route("/reports/kpi", get(reports::kpi))
        .route("/reports/tsm", get(reports::tsm))
        .route("/reports/self-assessment", get(reports::self_assessment))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route(
            "/admin/users/{id}",
            get(admin::user).post(admin::update_user),
        )
        .route(
            "/admin/users/{id}/password-link",
            post(admin::password_link),
        )
        .route(
            "/admin/users/{id}/revoke-tokens",
            post(admin::revoke_tokens),
        )
        .route("/admin/emails", get(emails::page))
        .route("/admin/emails/retry", post(emails::retry_all))
        .route("/admin/emails/test", post(emails::test))
        .route("/admin/emails/{id}/retry", post(emails::retry))
        .route("/assets/casefile.css", get(assets::css))
        .route("/assets/casefile.js", get(assets::js))
        .layer(from_fn(keep_nul_out))
        .layer(from_fn_with_state(state, web_layer))
}

/// No NUL character (`%00`) reaches a page: PostgreSQL text cannot hold one. A path with
/// one names no page (`404`, as in the API). No field of a page can send one, so one
/// typed into the address bar's query is dropped, as one in a form's body is
/// (`forms::without_nul`).
async fn keep_nul_out(mut request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path().contains("%00") {
        return PageError::NotFound.into_response();
    }
    if let Some(query) = uri.query().filter(|q| q.contains("%00")) {
        let mut parts = uri.clone().into_parts();
        let cleaned = format!("{}?{}", uri.path(), query_without_nul(query));
        if let Ok(path_and_query) = cleaned.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    next.run(request).await
}

/// The query without NUL characters: decoded, cleaned and encoded again, so that taking
/// one out cannot make a new escape of the characters around it (`%%0041`).
fn query_without_nul(query: &str) -> String {
    let mut cleaned = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        cleaned.append_pair(&key.replace('\0', ""), &value.replace('\0', ""));
    }
    cleaned.finish()
}

#[cfg(test)]
mod tests {
    use super::query_without_nul;

    #[test]
    fn a_query_loses_its_nul_characters_and_keeps_the_rest() {
        assert_eq!(query_without_nul("q=a%00b&theme=%00"), "q=ab&theme=");
        // Taking the NUL out does not make `%41` (an `A`) of what was around it.
        assert_eq!(query_without_nul("q=%%0041"), "q=%2541");
        // `%2500` is the text "%00", not a NUL.
        assert_eq!(query_without_nul("q=%2500&sort=due"), "q=%2500&sort=due");
    }
}
