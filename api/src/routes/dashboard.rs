//! `/api/v1/dashboard`: the numbers every staff role works from, each with the queue query
//! that lists the cases behind it.

use axum::extract::State;
use axum::Json;
use casefile_domain::uk_date;
use casefile_projections::dashboard::Dashboard;
use chrono::Utc;

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

use Role::*;

/// Open cases by stage, status, theme, root cause, owner, division and SLA state; deadlines
/// due today and this week; breached now; received and closed this week and month.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "complaints",
    responses(
        (status = 200, body = Dashboard),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn dashboard(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Dashboard>, ApiError> {
    principal.require(&[Advisor, Officer, Reviewer, Manager, Compliance, Auditor])?;
    let calendar = state.cases.calendar();
    Ok(Json(
        state.store.dashboard(calendar, uk_date(Utc::now())).await?,
    ))
}
