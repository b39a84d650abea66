//! `/api/v1/alerts`: SLA alerts a team leader still has to look at, folded from the
//! alert events of every case.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use casefile_domain::{AlertState, ComplaintEvent, DeadlineStep};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertFilter {
    /// Not yet resolved.
    #[default]
    Open,
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// `open` (the default) or `all`.
    pub state: Option<AlertFilter>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub case_id: String,
    pub reference: String,
    pub owner_id: Option<String>,
    #[schema(value_type = String)]
    pub step: DeadlineStep,
    #[schema(value_type = String)]
    pub state: AlertState,
    pub due: NaiveDate,
    pub raised_at: DateTime<Utc>,
    pub open: bool,
}

/// SLA alerts, oldest due first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    params(AlertParams),
    responses(
        (status = 200, body = Vec<AlertView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_alerts(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<AlertParams>, QueryRejection>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    principal.require(&[Role::Manager])?;
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        message: rejection.body_text(),
    })?;
    let only_open = matches!(params.state.unwrap_or_default(), AlertFilter::Open);
    let mut alerts: BTreeMap<(String, DeadlineStep, AlertState, NaiveDate), AlertView> =
        BTreeMap::new();
    for row in state.store.alert_events().await? {
        match serde_json::from_str(&row.payload).map_err(ApiError::internal)? {
            ComplaintEvent::SlaAlertRaised {
                occurred_at,
                step,
                state,
                due,
                ..
            } => {
                alerts.insert(
                    (row.case_id.clone(), step, state, due),
                    AlertView {
                        case_id: row.case_id,
                        reference: row.reference,
                        owner_id: row.owner_id,
                        step,
                        state,
                        due,
                        raised_at: occurred_at,
                        open: true,
                    },
                );
            }
            ComplaintEvent::SlaAlertResolved {
                step, state, due, ..
            } => {
                if let Some(alert) = alerts.get_mut(&(row.case_id, step, state, due)) {
                    alert.open = false;
                }
            }
            _ => {}
        }
    }
    let mut list: Vec<AlertView> = alerts
        .into_values()
        .filter(|alert| alert.open || !only_open)
        .collect();
    list.sort_by(|a, b| (a.due, &a.reference).cmp(&(b.due, &b.reference)));
    Ok(Json(list))
}
