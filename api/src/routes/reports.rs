//! `/api/v1/reports`: the KPI, Tenant Satisfaction Measures and self-assessment reports
//! built from the cases' stored folds, as JSON or CSV; the homes per tenure behind CH01
//! (`/api/v1/organisation/homes`); and a case's tenure.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use casefile_domain::command::SetTenure;
use casefile_domain::{uk_date, Action};
use casefile_projections::reports::{
    self, AnnualReport, Homes, KpiReport, Period, ReportCase, ReportingYear, SelfAssessment,
    TsmReport,
};
use casefile_projections::CaseView;
use casefile_store::idempotency::KeyClaim;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::complaints::{action, case_id, context};
use crate::auth::{Principal, Role};
use crate::cases::CaseResponse;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{body_bytes, json_body, BodyBytes};
use crate::startup::AppState;

use Role::*;

/// Who reads the reports (admins always may).
pub(crate) const REPORTERS: &[Role] = &[Compliance, Manager];
/// Who records a case's tenure.
const TENURE_SETTERS: &[Role] = &[Advisor, Officer, Reviewer, Manager];
/// Who sets the homes per tenure: admins only.
const ADMINS: &[Role] = &[Admin];

/// The form a report is served in.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    /// UTF-8, a header row, one row per figure.
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KpiParams {
    /// First day of the period, `YYYY-MM-DD`.
    #[param(required = true, value_type = String, format = Date)]
    pub from: Option<String>,
    /// Last day of the period (included), `YYYY-MM-DD`.
    #[param(required = true, value_type = String, format = Date)]
    pub to: Option<String>,
    pub format: Option<Format>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct YearParams {
    /// The regulator's reporting year, 1 April to 31 March, e.g. `2025-26`.
    #[param(required = true, value_type = String)]
    pub year: Option<String>,
    pub format: Option<Format>,
    /// `cases`: list the references behind every count (TSM only).
    pub detail: Option<Detail>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    Cases,
}

fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        message: message.into(),
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::BadRequest {
        code: "missing_parameter",
        message: format!("send `{name}`"),
    }
}

fn date(name: &str, raw: Option<&str>) -> Result<NaiveDate, ApiError> {
    let raw = raw.ok_or_else(|| missing(name))?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| ApiError::BadRequest {
        code: "malformed_date",
        message: format!("`{name}` must be a date such as 2025-04-01, not `{raw}`"),
    })
}

fn year(raw: Option<&str>) -> Result<ReportingYear, ApiError> {
    raw.ok_or_else(|| missing("year"))?
        .parse()
        .map_err(|e: reports::ReportingYearError| ApiError::BadRequest {
            code: e.code(),
            message: e.to_string(),
        })
}

/// The report as JSON, or its CSV.
fn respond<T: Serialize>(
    report: T,
    format: Option<Format>,
    csv: impl Fn(&T) -> String,
) -> Response {
    match format.unwrap_or_default() {
        Format::Json => Json(report).into_response(),
        Format::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&report),
        )
            .into_response(),
    }
}

/// The KPI report over a period, as the API serves it and the web app shows it.
pub(crate) async fn kpi_report(state: &AppState, period: Period) -> Result<KpiReport, ApiError> {
    over_period(state, period.from(), period.to(), |cases| {
        reports::kpi(cases, state.cases.calendar(), period)
    })
    .await
}

/// The TSM report for a reporting year, against the homes set for it (none set: CH01 has
/// no value).
pub(crate) async fn tsm_report(
    state: &AppState,
    year: ReportingYear,
    detail: bool,
) -> Result<TsmReport, ApiError> {
    let homes = state
        .store
        .homes(year)
        .await?
        .unwrap_or_else(|| Homes::unknown(year));
    over_period(state, year.first_day(), year.last_day(), |cases| {
        reports::tsm(cases, state.cases.calendar(), &homes, detail)
    })
    .await
}

/// The self-assessment for a reporting year, judging unmet steps as of today.
pub(crate) async fn self_assessment_report(
    state: &AppState,
    year: ReportingYear,
) -> Result<SelfAssessment, ApiError> {
    let today = uk_date(Utc::now());
    over_period(state, year.first_day(), year.last_day(), |cases| {
        reports::self_assessment(cases, state.cases.calendar(), year, today)
    })
    .await
}

/// A report of the cases received in a period. A year of cases takes tens of MB for the
/// one request, freed on the threads that decoded it, so it is given back to the system
/// once the report is made.
async fn over_period<T>(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    report: impl FnOnce(&[ReportCase]) -> T,
) -> Result<T, ApiError> {
    let cases = state
        .store
        .report_cases_between(from, to, state.cases.calendar(), uk_date(Utc::now()))
        .await
        .map_err(ApiError::from_load)?;
    let made = report(&cases);
    drop(cases);
    crate::memory::give_back();
    Ok(made)
}

/// Received, timeliness, extensions, escalations, outcomes, remedies, themes and response
/// times over a period.
#[utoipa::path(get, path = "/api/v1/reports/kpi", tag = "reports",
    params(KpiParams),
    responses(
        (status = 200, body = KpiReport, description = "JSON, or CSV with `format=csv`"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn kpi(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<KpiParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require(REPORTERS)?;
    let Query(params) = params.map_err(|rejection| invalid_query(rejection.body_text()))?;
    let from = date("from", params.from.as_deref())?;
    let to = date("to", params.to.as_deref())?;
    let period = Period::new(from, to).map_err(|e| ApiError::BadRequest {
        code: e.code(),
        message: e.to_string(),
    })?;
    let report = kpi_report(&state, period).await?;
    Ok(respond(report, params.format, KpiReport::to_csv))
}

/// The Tenant Satisfaction Measures CH01 and CH02 for a reporting year, per stage and
/// tenure.
#[utoipa::path(get, path = "/api/v1/reports/tsm", tag = "reports",
    params(YearParams),
    responses(
        (status = 200, body = TsmReport,
         description = "JSON, or CSV (`code,stage,tenure,value,numerator,denominator`)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn tsm(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<YearParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require(REPORTERS)?;
    let Query(params) = params.map_err(|rejection| invalid_query(rejection.body_text()))?;
    let year = year(params.year.as_deref())?;
    let report = tsm_report(&state, year, params.detail.is_some()).await?;
    Ok(respond(report, params.format, TsmReport::to_csv))
}

/// One row per Code provision the case data can evidence, for a reporting year.
#[utoipa::path(get, path = "/api/v1/reports/self-assessment", tag = "reports",
    params(YearParams),
    responses(
        (status = 200, body = SelfAssessment, description = "JSON, or CSV with `format=csv`"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn self_assessment(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<YearParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require(REPORTERS)?;
    let Query(params) = params.map_err(|rejection| invalid_query(rejection.body_text()))?;
    let year = year(params.year.as_deref())?;
    let report = self_assessment_report(&state, year).await?;
    Ok(respond(report, params.format, SelfAssessment::to_csv))
}

/// The form the annual report is served in.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnnualFormat {
    #[default]
    Json,
    /// `section,figure,value,count,of`, one row per figure.
    Csv,
    /// A printable page.
    Html,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AnnualParams {
    /// The reporting year, 1 April to 31 March, e.g. `2025-26`.
    #[param(required = true, value_type = String)]
    pub year: Option<String>,
    pub format: Option<AnnualFormat>,
}

/// The annual complaints performance and service improvement report for a reporting year:
/// volumes, themes and outcomes by stage, the TSMs, timeliness, the self-assessment,
/// refusals by reason, findings of non-compliance and learning actions.
#[utoipa::path(get, path = "/api/v1/reports/annual", tag = "reports",
    params(AnnualParams),
    responses(
        (status = 200, body = AnnualReport,
         description = "JSON, CSV (`section,figure,value,count,of`) with `format=csv`, or a \
                        printable HTML page with `format=html`"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn annual(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<AnnualParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require(REPORTERS)?;
    let Query(params) = params.map_err(|rejection| invalid_query(rejection.body_text()))?;
    let year = year(params.year.as_deref())?;
    let homes = state
        .store
        .homes(year)
        .await?
        .unwrap_or_else(|| Homes::unknown(year));
    let today = uk_date(Utc::now());
    let report = over_period(&state, year.first_day(), year.last_day(), |cases| {
        reports::annual(cases, state.cases.calendar(), &homes, today)
    })
    .await?;
    Ok(match params.format.unwrap_or_default() {
        AnnualFormat::Json => Json(report).into_response(),
        AnnualFormat::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report.to_csv(),
        )
            .into_response(),
        AnnualFormat::Html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            report.to_html(),
        )
            .into_response(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HomesParams {
    /// The reporting year, e.g. `2025-26`.
    #[param(required = true, value_type = String)]
    pub year: Option<String>,
}

/// The homes per tenure set for a reporting year; zeros when none were set.
#[utoipa::path(get, path = "/api/v1/organisation/homes", tag = "reports",
    params(HomesParams),
    responses(
        (status = 200, body = Homes),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_homes(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<HomesParams>, QueryRejection>,
) -> Result<Json<Homes>, ApiError> {
    principal.require(REPORTERS)?;
    let Query(params) = params.map_err(|rejection| invalid_query(rejection.body_text()))?;
    let year = year(params.year.as_deref())?;
    let homes = state.store.homes(year).await?;
    Ok(Json(homes.unwrap_or_else(|| Homes::unknown(year))))
}

/// Sets the number of homes of each tenure for a reporting year (CH01's denominators).
#[utoipa::path(put, path = "/api/v1/organisation/homes", tag = "reports",
    request_body = Homes,
    responses(
        (status = 200, body = Homes),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_homes(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<Json<Homes>, ApiError> {
    principal.require(ADMINS)?;
    let homes: Homes = json_body(&headers, body_bytes(bytes)?)?;
    state.store.set_homes(&homes, &principal.id).await?;
    Ok(Json(homes))
}

action!(
    tenure,
    "/api/v1/complaints/{id}/tenure",
    SetTenure,
    TENURE_SETTERS,
    SetTenure,
    "Record the tenure of the home (`lcra`, `lcho` or `other`), by which the TSMs are reported."
);

/// This module's routes, merged into the authenticated API.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/reports/kpi", get(kpi))
        .route("/reports/tsm", get(tsm))
        .route("/reports/self-assessment", get(self_assessment))
        .route("/reports/annual", get(annual))
        .route("/organisation/homes", get(get_homes).put(put_homes))
        .route("/complaints/{id}/tenure", post(tenure))
}
