//! `/api/v1/complaints`: log, read, list and act on cases.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use casefile_domain::aggregate::Status;
use casefile_domain::command::{
    AcknowledgeComplaint, AddLinkedCase, AssignOwner, Categorise, CloseComplaint, DeclareDeadlock,
    DefineComplaint, Escalate, ExtendDeadline, LogComplaint, RecordNote, RecordReferralReference,
    ReferToRedress, RefuseComplaint, ReopenComplaint, RespondToStage, WithdrawComplaint,
};
use casefile_domain::values::{Channel, Stage};
use casefile_domain::{uk_date, Action, Actor, Division};
use casefile_projections::case_view::CaseSummary;
use casefile_projections::{CaseView, History};
use casefile_store::commit::wire;
use casefile_store::evidence::EvidenceProblem;
use casefile_store::idempotency::KeyClaim;
use casefile_store::queue::{Cursor, Match, QueueFilter, Sla, Sort, Start, SEARCH_MOST_CHARS};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Principal, Role};
use crate::cases::CaseResponse;
use crate::cases::CommandContext;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{body_bytes, json_body, BodyBytes};
use crate::startup::AppState;

use Role::*;

pub(crate) const READERS: &[Role] = &[Advisor, Officer, Reviewer, Manager, Compliance, Auditor];
pub(crate) const LOGGERS: &[Role] = &[Advisor, Officer, Manager];
pub(crate) const CASEWORKERS: &[Role] = &[Advisor, Officer, Reviewer, Manager];
pub(crate) const STAGE1: &[Role] = &[Officer, Manager];
pub(crate) const STAGE2: &[Role] = &[Reviewer, Manager];
pub(crate) const CLOSERS: &[Role] = &[Officer, Reviewer, Manager];
pub(crate) const REFERRERS: &[Role] = &[Reviewer, Manager, Compliance];
pub(crate) const MANAGERS: &[Role] = &[Manager];
pub(crate) const VERIFIERS: &[Role] = &[Auditor, Compliance, Manager];

/// A case id from the path: anything that is not a UUID names no case.
pub(crate) fn case_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::NotFound)
}

pub(crate) fn context(
    principal: &Principal,
    role: Role,
    headers: &HeaderMap,
    claim: Option<Extension<KeyClaim>>,
) -> CommandContext {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    CommandContext {
        principal: principal.clone(),
        role,
        request_id: header("x-request-id").unwrap_or_default(),
        user_agent: header("user-agent"),
        idempotency: claim.map(|Extension(claim)| claim),
        rule: None,
        minimal: prefers_minimal(headers),
    }
}

/// Whether the request's `Prefer` header (RFC 7240) asks for `return=minimal`.
fn prefers_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| {
            let token = preference.split(';').next()?;
            let (name, value) = token.split_once('=')?;
            Some((
                name.trim().to_ascii_lowercase(),
                value.trim().trim_matches('"').to_string(),
            ))
        })
        .any(|(name, value)| name == "return" && value.eq_ignore_ascii_case("minimal"))
}

/// Log a new complaint.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints",
    request_body = LogComplaint,
    responses(
        (status = 201, description = "The new case", body = CaseView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn log_complaint(
    State(state): State<AppState>,
    principal: Principal,
    claim: Option<Extension<KeyClaim>>,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<CaseResponse, ApiError> {
    let role = principal.require(LOGGERS)?;
    let complaint: LogComplaint = json_body(&headers, body_bytes(bytes)?)?;
    let ctx = context(&principal, role, &headers, claim);
    state.cases.log(complaint, &ctx).await
}

/// `?as_of=`: a moment in RFC 3339, or a date (`YYYY-MM-DD`) meaning the end of that day
/// in UK time.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfParams {
    /// Show the case as it stood at this moment: RFC 3339, or `YYYY-MM-DD` for the end of
    /// that day in UK time (Europe/London).
    pub as_of: Option<String>,
}

impl AsOfParams {
    fn moment(
        params: Result<Query<Self>, QueryRejection>,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Query(params) = params.map_err(|rejection| invalid_query(rejection.body_text()))?;
        params.as_of.as_deref().map(parse_as_of).transpose()
    }
}

/// Parses `as_of`: a date stands for the last instant of that day in the UK.
pub(crate) fn parse_as_of(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let malformed = || {
        invalid_query(format!(
            "as_of must be an RFC 3339 time or a date YYYY-MM-DD, not `{raw}`"
        ))
    };
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| malformed())?;
    let next = day.succ_opt().ok_or_else(malformed)?;
    // UK clocks change at 01:00 or 02:00, so midnight always exists exactly once.
    let next_midnight = chrono_tz::Europe::London
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .earliest()
        .ok_or_else(malformed)?;
    // Stored times are kept to the microsecond: the day's last one is the end of the day.
    Ok(next_midnight.with_timezone(&Utc) - TimeDelta::microseconds(1))
}

/// One case as it stands today, or as it stood at `as_of`.
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints",
    params(("id" = String, Path, description = "Case id"), AsOfParams),
    responses(
        (status = 200, body = CaseView),
        (status = 400, body = ErrorBody, description = "`invalid_query`: a malformed `as_of`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody,
            description = "`not_found`, or `not_yet_logged` when `as_of` is before the case was logged"),
    ),
    security(("bearer" = [])))]
pub async fn get_complaint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    params: Result<Query<AsOfParams>, QueryRejection>,
) -> Result<Json<CaseView>, ApiError> {
    principal.require(READERS)?;
    let as_of = AsOfParams::moment(params)?;
    let id = case_id(&id)?;
    if let Some(as_of) = as_of {
        let view = state.cases.as_of(&id, as_of).await?.view;
        return Ok(Json(
            super::residents::attach(&state, &principal, view).await?,
        ));
    }
    let view = state.cases.view(&id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(
        super::residents::attach(&state, &principal, view).await?,
    ))
}

/// A case's audit trail; with `as_of`, also the case exactly as it stood then.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    #[serde(flatten)]
    pub history: History,
    /// The moment asked for (only with `as_of`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// The case as it stood at `as_of`, folded from the events listed (only with `as_of`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseView>,
}

/// Every event of a case, in order, with who, when and through which request; with
/// `as_of`, the events recorded up to then and the case as it stood.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/history", tag = "complaints",
    params(("id" = String, Path, description = "Case id"), AsOfParams),
    responses(
        (status = 200, body = HistoryResponse),
        (status = 400, body = ErrorBody, description = "`invalid_query`: a malformed `as_of`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody,
            description = "`not_found`, or `not_yet_logged` when `as_of` is before the case was logged"),
    ),
    security(("bearer" = [])))]
pub async fn get_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    params: Result<Query<AsOfParams>, QueryRejection>,
) -> Result<Json<HistoryResponse>, ApiError> {
    principal.require(READERS)?;
    let as_of = AsOfParams::moment(params)?;
    let id = case_id(&id)?;
    if let Some(as_of) = as_of {
        let stood = state.cases.as_of(&id, as_of).await?;
        return Ok(Json(HistoryResponse {
            history: stood.history,
            as_of: Some(as_of),
            case: Some(stood.view),
        }));
    }
    let history = state.cases.history(&id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(HistoryResponse {
        history,
        as_of: None,
        case: None,
    }))
}

/// SLA states a queue can filter on.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaParam {
    Pending,
    DueSoon,
    Breached,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionsParam {
    Overdue,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentsParam {
    ReviewDue,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortParam {
    /// Nearest due date first (cases with no live deadline last).
    #[default]
    Due,
    /// Most recently received first.
    Received,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<Status>,
    pub stage: Option<Stage>,
    /// A user id, or `none` for unassigned cases.
    pub owner: Option<String>,
    /// Same as `owner` (kept for existing clients).
    pub owner_id: Option<String>,
    /// A theme, or `none` for uncategorised cases.
    pub theme: Option<String>,
    /// A root cause, or `none`.
    pub root_cause: Option<String>,
    /// Open cases whose nearest deadline is in this state today.
    pub sla: Option<SlaParam>,
    /// With `due_from`/`due_before`: the live step whose due date counts
    /// (`acknowledge`, `stage1_response`, `stage2_acknowledge`, `stage2_response`).
    pub step: Option<String>,
    /// Open cases with a live deadline due on or after this date.
    pub due_from: Option<NaiveDate>,
    /// Open cases with a live deadline due before this date.
    pub due_before: Option<NaiveDate>,
    pub division: Option<Division>,
    pub procedure: Option<String>,
    pub channel: Option<Channel>,
    /// Received on or after this date.
    pub received_from: Option<NaiveDate>,
    /// Received on or before this date.
    pub received_to: Option<NaiveDate>,
    /// Left the open state (closed, withdrawn, refused) on or after this date.
    pub closed_from: Option<NaiveDate>,
    /// Left the open state on or before this date.
    pub closed_to: Option<NaiveDate>,
    /// Free text over reference, complainant name, address or postcode, and summary; at
    /// most 200 characters.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `overdue`: cases with a tracked action still open after its due date.
    pub actions: Option<ActionsParam>,
    /// `review_due`: cases whose resident's reasonable adjustments are due for review.
    pub adjustments: Option<AdjustmentsParam>,
    pub sort: Option<SortParam>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Cases to skip (instead of `cursor`).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    pub items: Vec<CaseSummary>,
    /// How many cases match, counted up to 10,000.
    pub total: i64,
    /// More than 10,000 cases match (`total` is then 10,000).
    pub total_capped: bool,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        message: message.into(),
    }
}

fn matching(value: Option<String>) -> Option<Match> {
    value.map(|v| {
        if v == "none" {
            Match::Unset
        } else {
            Match::Is(v)
        }
    })
}

/// The work queue: open and closed cases, filtered, searched, sorted and paged.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints",
    params(ListParams),
    responses(
        (status = 200, body = CaseList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_complaints(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<CaseList>, ApiError> {
    principal.require(READERS)?;
    let Query(params) = params.map_err(|rejection| invalid_query(rejection.body_text()))?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(invalid_query("limit must be between 1 and 500"));
    }
    let start = match (params.cursor.as_deref(), params.offset) {
        (Some(_), Some(_)) => return Err(invalid_query("send either cursor or offset, not both")),
        (Some(cursor), None) => Start::After(
            Cursor::decode(cursor)
                .ok_or_else(|| invalid_query("cursor is not one this server gave out"))?,
        ),
        (None, Some(offset)) if offset < 0 => {
            return Err(invalid_query("offset must be at least 0"))
        }
        (None, offset) => Start::Offset(offset.unwrap_or(0)),
    };
    if params
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > SEARCH_MOST_CHARS)
    {
        return Err(invalid_query(format!(
            "q must be at most {SEARCH_MOST_CHARS} characters"
        )));
    }
    if params.owner.is_some() && params.owner_id.is_some() {
        return Err(invalid_query("send either owner or owner_id, not both"));
    }
    let filter = QueueFilter {
        status: params.status.map(|s| s.to_string()),
        stage: params.stage.as_ref().map(wire),
        owner: matching(params.owner.or(params.owner_id)),
        theme: matching(params.theme),
        root_cause: matching(params.root_cause),
        sla: params.sla.map(|s| match s {
            SlaParam::Pending => Sla::Pending,
            SlaParam::DueSoon => Sla::DueSoon,
            SlaParam::Breached => Sla::Breached,
        }),
        step: params.step,
        due_from: params.due_from,
        due_before: params.due_before,
        division: params.division.map(|d| d.as_str().to_string()),
        procedure: params.procedure,
        channel: params.channel.as_ref().map(wire),
        received_from: params.received_from,
        received_to: params.received_to,
        closed_from: params.closed_from,
        closed_to: params.closed_to,
        resident_id: None,
        actions_overdue: params.actions.is_some(),
        adjustments_review_due: params.adjustments.is_some(),
        q: params.q,
    };
    let sort = match params.sort.unwrap_or_default() {
        SortParam::Due => Sort::Due,
        SortParam::Received => Sort::Received,
    };
    let page = state
        .store
        .queue(
            &filter,
            sort,
            &start,
            limit,
            state.cases.calendar(),
            uk_date(Utc::now()),
        )
        .await?;
    Ok(Json(CaseList {
        items: page.items,
        total: page.total,
        total_capped: page.total_capped,
        next_cursor: page.next_cursor,
    }))
}

/// A resident's cases, most recent first, for advisors logging a new one.
#[utoipa::path(get, path = "/api/v1/complainants/{resident_id}/complaints", tag = "complaints",
    params(("resident_id" = String, Path, description = "The landlord's id for the resident")),
    responses(
        (status = 200, body = CaseList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn resident_complaints(
    State(state): State<AppState>,
    principal: Principal,
    Path(resident_id): Path<String>,
) -> Result<Json<CaseList>, ApiError> {
    principal.require(READERS)?;
    let filter = QueueFilter {
        resident_id: Some(resident_id),
        ..QueueFilter::default()
    };
    let page = state
        .store
        .queue(
            &filter,
            Sort::Received,
            &Start::Offset(0),
            500,
            state.cases.calendar(),
            uk_date(Utc::now()),
        )
        .await?;
    Ok(Json(CaseList {
        items: page.items,
        total: page.total,
        total_capped: page.total_capped,
        next_cursor: page.next_cursor,
    }))
}

/// The first break of a chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainBreak {
    pub sequence: u64,
    /// `altered`, `missing`, `inserted` or `reordered`.
    pub problem: String,
}

/// Whether a case's events are as they were written and its evidence files as attached.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    /// The chain is unbroken and no evidence file has a problem.
    pub valid: bool,
    pub events: u64,
    /// The hash of the last event, hex.
    pub digest: String,
    pub first_break: Option<ChainBreak>,
    pub evidence: EvidenceVerification,
}

/// The re-hashing of the evidence files held for the case.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceVerification {
    /// Attached files whose content the store holds, or should hold since they were
    /// uploaded. Evidence recorded by its metadata only, with nothing held, is not counted.
    pub checked: u64,
    /// Each file that failed, in the order attached; empty when all hold.
    pub problems: Vec<EvidenceIssue>,
}

/// One evidence file that failed its check.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceIssue {
    pub evidence_id: String,
    /// The SHA-256 the file was attached with.
    pub sha256: String,
    /// `altered`: the content held no longer hashes to `sha256` or has another size;
    /// `missing`: the file was uploaded and the store no longer holds it.
    pub problem: String,
    /// What the content held hashes to now (`altered` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_sha256: Option<String>,
    /// The size of the content held now, in bytes (`altered` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_size: Option<u64>,
}

/// Check a case's hash chain (every event as written, none missing, added or moved) and
/// re-hash the evidence files held for it.
#[utoipa::path(get, path = "/api/v1/complaints/{id}/verify", tag = "complaints",
    params(("id" = String, Path, description = "Case id")),
    responses(
        (status = 200, body = Verification),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Verification>, ApiError> {
    principal.require(VERIFIERS)?;
    let id = case_id(&id)?;
    Ok(Json(verification(&state, &id).await?))
}

/// Checks the chain of the case `id` (already a canonical case id), as the API answers it
/// and the web app shows it.
pub(crate) async fn verification(state: &AppState, id: &str) -> Result<Verification, ApiError> {
    let verdict = state
        .store
        .verify_case(id)
        .await
        .map_err(ApiError::from_load)?
        .ok_or(ApiError::NotFound)?;
    // From the events that still decode: a broken event is the chain's finding.
    let attachments = state.store.evidence_attachments(Some(id)).await?;
    let report = state.store.check_attachments(&attachments).await?;
    let problems: Vec<EvidenceIssue> = report
        .faults
        .into_iter()
        .map(|fault| {
            let (problem, found_sha256, found_size) = match fault.problem {
                EvidenceProblem::Altered {
                    found_sha256,
                    found_size,
                } => ("altered", Some(found_sha256), Some(found_size)),
                EvidenceProblem::Missing => ("missing", None, None),
            };
            EvidenceIssue {
                evidence_id: fault.attachment.evidence_id,
                sha256: fault.attachment.sha256,
                problem: problem.to_string(),
                found_sha256,
                found_size,
            }
        })
        .collect();
    Ok(Verification {
        valid: verdict.valid && problems.is_empty(),
        events: verdict.events,
        digest: verdict.digest,
        first_break: verdict.first_break.map(|b| ChainBreak {
            sequence: b.sequence,
            problem: wire(&b.problem),
        }),
        evidence: EvidenceVerification {
            checked: report.checked,
            problems,
        },
    })
}

/// Body of `assign`: the user who will own the case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[schema(min_length = 1)]
    pub owner_id: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Assign or reassign the case's owner.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/assign", tag = "actions",
    params(("id" = String, Path, description = "Case id")),
    request_body = AssignRequest,
    responses(
        (status = 200, body = CaseView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    claim: Option<Extension<KeyClaim>>,
    headers: HeaderMap,
    bytes: BodyBytes,
) -> Result<CaseResponse, ApiError> {
    let role = principal.require(MANAGERS)?;
    let id = case_id(&id)?;
    let request: AssignRequest = json_body(&headers, body_bytes(bytes)?)?;
    let owner =
        state
            .store
            .user(&request.owner_id)
            .await?
            .ok_or_else(|| ApiError::Unprocessable {
                code: "unknown_user",
                message: format!("no user has the id `{}`", request.owner_id),
                details: serde_json::Value::Null,
            })?;
    let action = Action::AssignOwner(AssignOwner {
        owner: Actor {
            id: owner.id,
            name: owner.name,
        },
        occurred_at: request.occurred_at,
    });
    let ctx = context(&principal, role, &headers, claim);
    state.cases.execute(&id, "assign", action, &ctx).await
}

/// Declares one `POST /api/v1/complaints/{id}/<action>` handler: role check, body, command.
macro_rules! action {
    ($handler:ident, $path:literal, $body:ident, $roles:expr, $variant:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "actions",
                    params(("id" = String, Path, description = "Case id")),
                    request_body = $body,
                    responses(
                        (status = 200, description = "The case after the action", body = CaseView),
                        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
                        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
                    ),
                    security(("bearer" = [])))]
        pub async fn $handler(
            State(state): State<AppState>,
            principal: Principal,
            Path(id): Path<String>,
            claim: Option<Extension<KeyClaim>>,
            headers: HeaderMap,
            bytes: BodyBytes,
        ) -> Result<CaseResponse, ApiError> {
            let role = principal.require($roles)?;
            let id = case_id(&id)?;
            let command: $body = json_body(&headers, body_bytes(bytes)?)?;
            let ctx = context(&principal, role, &headers, claim);
            state
                .cases
                .execute(&id, stringify!($handler), Action::$variant(command), &ctx)
                .await
        }
    };
}
pub(crate) use action;

action!(
    acknowledge,
    "/api/v1/complaints/{id}/acknowledge",
    AcknowledgeComplaint,
    STAGE1,
    Acknowledge,
    "Acknowledge the complaint (starts the Stage 1 response clock)."
);
action!(
    notes,
    "/api/v1/complaints/{id}/notes",
    RecordNote,
    CASEWORKERS,
    RecordNote,
    "Record an internal note or a piece of correspondence."
);
action!(
    links,
    "/api/v1/complaints/{id}/links",
    AddLinkedCase,
    CASEWORKERS,
    AddLinkedCase,
    "Link a repair, anti-social behaviour, tenancy or contact record."
);
action!(
    categorise,
    "/api/v1/complaints/{id}/categorise",
    Categorise,
    CASEWORKERS,
    Categorise,
    "Set the theme and root cause."
);
action!(
    define,
    "/api/v1/complaints/{id}/definition",
    DefineComplaint,
    CASEWORKERS,
    Define,
    "Record the landlord's definition of the complaint for a stage, with the outcomes the resident seeks (each stage's response needs one)."
);
action!(
    extend,
    "/api/v1/complaints/{id}/extend",
    ExtendDeadline,
    STAGE1,
    ExtendDeadline,
    "Extend the current stage's response deadline within the procedure's cap."
);
action!(
    stage1_response,
    "/api/v1/complaints/{id}/stage1-response",
    RespondToStage,
    STAGE1,
    RespondStage1,
    "Record the Stage 1 response."
);
action!(
    escalate,
    "/api/v1/complaints/{id}/escalate",
    Escalate,
    CASEWORKERS,
    Escalate,
    "Record the resident's request for Stage 2."
);
action!(
    stage2_acknowledge,
    "/api/v1/complaints/{id}/stage2-acknowledge",
    AcknowledgeComplaint,
    STAGE2,
    AcknowledgeStage2,
    "Acknowledge the Stage 2 request."
);
action!(
    stage2_response,
    "/api/v1/complaints/{id}/stage2-response",
    RespondToStage,
    STAGE2,
    RespondStage2,
    "Record the Stage 2 response (by someone other than the Stage 1 responder)."
);
action!(
    close,
    "/api/v1/complaints/{id}/close",
    CloseComplaint,
    CLOSERS,
    Close,
    "Close the case with its remedy and learning."
);
action!(
    deadlock,
    "/api/v1/complaints/{id}/deadlock",
    DeclareDeadlock,
    STAGE2,
    DeclareDeadlock,
    "Declare the case deadlocked, where the procedure has a deadlock rule."
);
action!(
    refer,
    "/api/v1/complaints/{id}/refer",
    ReferToRedress,
    REFERRERS,
    ReferToRedress,
    "Record the referral to a redress scheme."
);
action!(
    referral_reference,
    "/api/v1/complaints/{id}/referral-reference",
    RecordReferralReference,
    REFERRERS,
    RecordReferralReference,
    "Record the redress scheme's reference for a referral made without one."
);
action!(
    refuse,
    "/api/v1/complaints/{id}/refuse",
    RefuseComplaint,
    STAGE1,
    Refuse,
    "Refuse the complaint for a reason the Code allows."
);
action!(
    withdraw,
    "/api/v1/complaints/{id}/withdraw",
    WithdrawComplaint,
    CASEWORKERS,
    Withdraw,
    "Record that the resident withdrew the complaint."
);
action!(
    reopen,
    "/api/v1/complaints/{id}/reopen",
    ReopenComplaint,
    MANAGERS,
    Reopen,
    "Reopen a closed, withdrawn or refused case."
);
