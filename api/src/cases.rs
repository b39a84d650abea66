//! The CQRS wiring: commands go to the `Complaint` aggregate through cqrs-es, events land in
//! the store, and the case's read models are rebuilt from them for the response.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use casefile_domain::command::LogComplaint;
use casefile_domain::{uk_date, Action, Calendar, Complaint, ComplaintCommand, ComplaintServices};
use casefile_projections::case_view::CaseRecord;
use casefile_projections::recorded::meta;
use casefile_projections::{CaseView, History};
use chrono::{Datelike, Utc};
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, CqrsFramework};
use rand::Rng;

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::store::repository::CaseRepository;
use crate::store::Store;

pub type CaseCqrs = CqrsFramework<Complaint, PersistedEventStore<CaseRepository, Complaint>>;

/// How often a command that lost a race is re-run against the newer state before the
/// client is told to retry. Every re-run re-checks every rule.
const ATTEMPTS: u32 = 8;

/// Who is asking, and through which request: written into every event's metadata.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub principal: Principal,
    pub role: Role,
    pub request_id: String,
    pub user_agent: Option<String>,
}

impl CommandContext {
    fn metadata(&self) -> HashMap<String, String> {
        let mut metadata = HashMap::from([
            (meta::ACTOR_ID.to_string(), self.principal.id.clone()),
            (meta::ACTOR_NAME.to_string(), self.principal.name.clone()),
            (meta::ACTOR_ROLE.to_string(), self.role.to_string()),
            (meta::REQUEST_ID.to_string(), self.request_id.clone()),
            (meta::RECORDED_AT.to_string(), Utc::now().to_rfc3339()),
        ]);
        if let Some(agent) = &self.user_agent {
            metadata.insert(meta::USER_AGENT.to_string(), agent.clone());
        }
        metadata
    }
}

pub struct Cases {
    cqrs: CaseCqrs,
    store: Store,
    calendar: Arc<Calendar>,
}

impl Cases {
    pub fn new(store: Store, services: ComplaintServices, snapshot_every: usize) -> Self {
        let calendar = services.calendar.clone();
        let repository = CaseRepository::new(&store);
        let event_store =
            PersistedEventStore::new_snapshot_store(repository, snapshot_every.max(1));
        Self {
            cqrs: CqrsFramework::new(event_store, Vec::new(), services),
            store,
            calendar,
        }
    }

    /// Logs a new complaint under a fresh id and reference.
    pub async fn log(
        &self,
        complaint: LogComplaint,
        ctx: &CommandContext,
    ) -> Result<CaseView, ApiError> {
        let id = uuid::Uuid::now_v7().to_string();
        let year = uk_date(Utc::now()).year();
        let serial = self.store.next_reference_serial(year).await?;
        let reference = format!("CF-{year}-{serial:06}");
        self.execute(
            &id,
            "log",
            Action::Log {
                reference,
                complaint,
            },
            ctx,
        )
        .await
    }

    /// Runs one command on a case and returns the case as it now stands.
    #[tracing::instrument(skip(self, action, ctx), fields(case_id = %id, actor = %ctx.principal.id))]
    pub async fn execute(
        &self,
        id: &str,
        name: &'static str,
        action: Action,
        ctx: &CommandContext,
    ) -> Result<CaseView, ApiError> {
        let command = ComplaintCommand {
            actor: ctx.principal.actor(),
            action,
        };
        let mut attempt = 1;
        let outcome = loop {
            let result = self
                .cqrs
                .execute_with_metadata(id, command.clone(), ctx.metadata())
                .await;
            match result {
                Err(AggregateError::AggregateConflict) if attempt < ATTEMPTS => {
                    metrics::counter!("casefile_command_conflicts_total", "action" => name)
                        .increment(1);
                    attempt += 1;
                    // Spread the retries so racing writers do not collide again in step.
                    let pause = rand::thread_rng().gen_range(1..=5 * u64::from(attempt));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                other => break other,
            }
        };
        let label = match &outcome {
            Ok(()) => "accepted",
            Err(AggregateError::UserError(_)) => "rejected",
            Err(AggregateError::AggregateConflict) => "conflict",
            Err(_) => "failed",
        };
        metrics::counter!("casefile_commands_total", "action" => name, "outcome" => label)
            .increment(1);
        if matches!(outcome, Err(AggregateError::AggregateConflict)) {
            metrics::counter!("casefile_command_conflicts_total", "action" => name).increment(1);
        }
        outcome?;
        let view = self.view(id).await?.ok_or(ApiError::NotFound)?;
        self.store.upsert_summary(&view.summary()).await?;
        Ok(view)
    }

    /// The case as it stands today, or `None` if no complaint was logged under the id.
    pub async fn view(&self, id: &str) -> Result<Option<CaseView>, ApiError> {
        Ok(self
            .record(id)
            .await?
            .map(|record| record.view(&self.calendar, uk_date(Utc::now()))))
    }

    /// The case folded up to its last event: the stored fold plus the events recorded since
    /// (all of them when nothing usable is stored), saved again when it moved on.
    async fn record(&self, id: &str) -> Result<Option<CaseRecord>, ApiError> {
        let stored = self
            .store
            .case_record(id)
            .await?
            .and_then(|body| serde_json::from_str::<CaseRecord>(&body).ok())
            .filter(|record| record.format == CaseRecord::FORMAT && record.view.id == id);
        let after = stored.as_ref().map_or(0, CaseRecord::version);
        let events = self
            .store
            .case_events_after(id, after)
            .await
            .map_err(ApiError::internal)?;
        let mut record = match (stored, events.first()) {
            (Some(record), _) => record,
            (None, Some(first)) => match CaseRecord::start(id, first) {
                Some(record) => record,
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        for event in &events {
            record.apply(event);
        }
        if !events.is_empty() {
            let body = serde_json::to_string(&record).map_err(ApiError::internal)?;
            self.store
                .save_case_record(id, record.version(), &body)
                .await?;
        }
        Ok(Some(record))
    }

    pub async fn history(&self, id: &str) -> Result<Option<History>, ApiError> {
        let events = self
            .store
            .case_events(id)
            .await
            .map_err(ApiError::internal)?;
        if events.is_empty() {
            return Ok(None);
        }
        Ok(Some(History::build(id, &events)))
    }
}
