//! The OpenAPI 3 document, generated from the handlers and types, and a readable page for
//! it that needs nothing from the network.

use axum::extract::State;
use axum::response::Html;
use axum::Json;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{Modify, OpenApi};

mod contract;

use crate::routes::{
    alerts, complaints, dashboard, duties, emails, events, ops, reports, residents, users, webhooks,
};
use crate::startup::AppState;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Casefile",
        description = "Complaint case management: procedures, deadlines, audit trail and redress."
    ),
    paths(
        complaints::log_complaint,
        complaints::list_complaints,
        complaints::get_complaint,
        complaints::get_history,
        complaints::verify,
        complaints::resident_complaints,
        dashboard::dashboard,
        events::feed,
        complaints::acknowledge,
        complaints::assign,
        complaints::notes,
        crate::routes::evidence::attach,
        crate::routes::evidence::download,
        crate::routes::letters::issue,
        crate::routes::letters::get_letter,
        crate::routes::letters::bundle,
        complaints::links,
        complaints::categorise,
        complaints::define,
        complaints::extend,
        complaints::stage1_response,
        complaints::escalate,
        complaints::stage2_acknowledge,
        complaints::stage2_response,
        complaints::close,
        complaints::deadlock,
        complaints::refer,
        complaints::referral_reference,
        complaints::refuse,
        complaints::withdraw,
        complaints::reopen,
        users::create_user,
        users::list_users,
        users::issue_token,
        users::revoke_tokens,
        users::set_team_leader,
        users::team_leader,
        users::me,
        crate::web::users_api::update_user,
        crate::web::users_api::password_link,
        alerts::list_alerts,
        webhooks::create_webhook,
        webhooks::list_webhooks,
        webhooks::deliveries,
        emails::list_emails,
        emails::retry_email,
        emails::retry_given_up,
        emails::send_test,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        reports::kpi,
        reports::tsm,
        reports::self_assessment,
        reports::annual,
        reports::get_homes,
        reports::put_homes,
        reports::tenure,
        duties::add_representative,
        duties::end_representative,
        duties::record_update,
        duties::set_action,
        duties::complete_action,
        duties::record_learning,
        duties::complete_learning,
        duties::list_learning,
        duties::record_learning_on_case,
        residents::get_adjustments,
        residents::put_adjustments,
    ),
    components(schemas(
        complaints::SlaParam,
        complaints::ActionsParam,
        complaints::AdjustmentsParam,
        complaints::SortParam,
        alerts::AlertFilter,
        emails::EmailFilter,
        reports::Format,
        reports::AnnualFormat,
        reports::Detail,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "complaints", description = "Log, read and list cases"),
        (name = "actions", description = "One command on a case per endpoint"),
        (name = "audit", description = "The global event feed"),
        (name = "users", description = "Users, roles and tokens"),
        (name = "operations", description = "Health and metrics"),
        (name = "reports", description = "KPI, Tenant Satisfaction Measures, self-assessment"),
        (name = "residents", description = "A resident's needs and reasonable adjustments"),
        (name = "alerts", description = "SLA alerts raised by the watchdog"),
        (name = "webhooks", description = "Where notifications are posted and emailed"),
    )
)]
pub struct ApiDoc;

/// The document, with the procedure ids this server knows filled in.
pub async fn document(State(state): State<AppState>) -> Json<Value> {
    Json(contract::complete(served(&state)))
}

fn served(state: &AppState) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let procedure = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("LogComplaint"))
        .and_then(|schema| match schema {
            RefOr::T(Schema::Object(object)) => object.properties.get_mut("procedure"),
            _ => None,
        });
    if let Some(RefOr::T(Schema::Object(field))) = procedure {
        field.enum_values = Some(
            state
                .procedure_ids
                .iter()
                .map(|id| serde_json::Value::String(id.clone()))
                .collect(),
        );
    }
    doc
}

/// A self-contained page that renders the document: no CDN, no build step.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("openapi/page.html"))
}
