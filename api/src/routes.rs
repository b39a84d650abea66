//! The HTTP routes, grouped by resource.
//!
//! # Layout
//!
//! - [`complaints`]: log, read, list, verify and act on cases.
//! - [`dashboard`]: the figures every role works from.
//! - [`events`]: the global event feed.
//! - [`evidence`]: evidence files, uploaded and downloaded.
//! - [`letters`]: letters to the resident, and the ombudsman bundle.
//! - [`users`]: users and tokens.
//! - [`alerts`], [`webhooks`], [`emails`]: SLA alerts and where their notifications go.
//! - [`ops`]: health, readiness, metrics.
//! - [`reports`]: KPI, TSM and self-assessment reports; homes per tenure; tenure.
//! - [`duties`]: representatives, updates, actions and learning on a case.
//! - [`residents`]: a resident's needs and reasonable adjustments.

pub mod alerts;
pub mod complaints;
pub mod dashboard;
pub mod duties;
pub mod emails;
pub mod events;
pub mod evidence;
pub mod letters;
pub mod ops;
pub mod reports;
pub mod residents;
pub mod users;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};
use axum::Router;

use crate::startup::AppState;

/// The authenticated API under `/api/v1`.
pub fn api(state: AppState) -> Router<AppState> {
    use complaints as c;
    Router::new()
        .route(
            "/complaints",
            post(c::log_complaint).get(c::list_complaints),
        )
        .route("/complaints/{id}", get(c::get_complaint))
        .route("/complaints/{id}/history", get(c::get_history))
        .route("/complaints/{id}/verify", get(c::verify))
        .route(
            "/complainants/{resident_id}/complaints",
            get(c::resident_complaints),
        )
        .route("/dashboard", get(dashboard::dashboard))
        .route("/events", get(events::feed))
        .route("/complaints/{id}/acknowledge", post(c::acknowledge))
        .route("/complaints/{id}/assign", post(c::assign))
        .route("/complaints/{id}/notes", post(c::notes))
        .route(
            "/complaints/{id}/evidence",
            post(evidence::attach).layer(DefaultBodyLimit::max(evidence::body_limit(
                state.evidence_limit,
            ))),
        )
        .route(
            "/complaints/{id}/evidence/{evidence_id}",
            get(evidence::download),
        )
        .route("/complaints/{id}/letters", post(letters::issue))
        .route(
            "/complaints/{id}/letters/{letter_id}",
            get(letters::get_letter),
        )
        .route("/complaints/{id}/bundle", get(letters::bundle))
        .route("/complaints/{id}/links", post(c::links))
        .route("/complaints/{id}/categorise", post(c::categorise))
        .route("/complaints/{id}/definition", post(c::define))
        .route("/complaints/{id}/extend", post(c::extend))
        .route("/complaints/{id}/stage1-response", post(c::stage1_response))
        .route("/complaints/{id}/escalate", post(c::escalate))
        .route(
            "/complaints/{id}/stage2-acknowledge",
            post(c::stage2_acknowledge),
        )
        .route("/complaints/{id}/stage2-response", post(c::stage2_response))
        .route("/complaints/{id}/close", post(c::close))
        .route("/complaints/{id}/deadlock", post(c::deadlock))
        .route("/complaints/{id}/refer", post(c::refer))
        .route(
            "/complaints/{id}/referral-reference",
            post(c::referral_reference),
        )
        .route("/complaints/{id}/refuse", post(c::refuse))
        .route("/complaints/{id}/withdraw", post(c::withdraw))
        .route("/complaints/{id}/reopen", post(c::reopen))
        .route("/users", post(users::create_user).get(users::list_users))
        .route("/users/{id}", put(crate::web::users_api::update_user))
        .route(
            "/users/{id}/password-link",
            post(crate::web::users_api::password_link),
        )
        .route(
            "/users/{id}/tokens",
            post(users::issue_token).delete(users::revoke_tokens),
        )
        .route(
            "/users/{id}/team-leader",
            put(users::set_team_leader).get(users::team_leader),
        )
        .route("/me", get(users::me))
        .merge(reports::routes())
        .merge(duties::routes())
        .merge(residents::routes())
        .route("/alerts", get(alerts::list_alerts))
        .route(
            "/webhooks",
            post(webhooks::create_webhook).get(webhooks::list_webhooks),
        )
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/emails", get(emails::list_emails))
        .route("/emails/retry", post(emails::retry_given_up))
        .route("/emails/test", post(emails::send_test))
        .route("/emails/{id}/retry", post(emails::retry_email))
        // Layers run bottom-up: authenticate, then deduplicate by Idempotency-Key.
        .layer(from_fn_with_state(
            state.clone(),
            crate::idempotency::idempotent,
        ))
        .layer(from_fn_with_state(state, crate::auth::authenticate))
        .layer(from_fn(ops::refuse_nul))
        .method_not_allowed_fallback(ops::method_not_allowed)
}

/// Everything the server answers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route(
            "/metrics",
            get(ops::metrics).layer(from_fn_with_state(state.clone(), crate::auth::authenticate)),
        )
        .route("/api/v1/openapi.json", get(crate::openapi::document))
        .route("/api/v1/docs", get(crate::openapi::page))
        .nest("/api/v1", api(state.clone()))
        .merge(crate::web::router(state.clone()))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(from_fn(crate::metrics::track))
        .with_state(state)
}
