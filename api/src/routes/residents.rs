//! `/api/v1/residents/{resident_id}/adjustments`: a resident's disclosed needs and agreed
//! reasonable adjustments (special-category data).

/// This module's routes, merged into the authenticated API.
pub fn routes() -> axum::Router<crate::startup::AppState> {
    axum::Router::new()
}
