//! The CQRS wiring: each command runs through cqrs-es's `CqrsFramework` over a
//! [`UnitOfWork`], whose commit writes the events and everything derived from them in one
//! transaction; the response is the case as that commit left it, serialised once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use casefile_domain::command::LogComplaint;
use casefile_domain::{uk_date, Action, Calendar, ComplaintCommand, ComplaintServices};
use casefile_projections::recorded::meta;
use casefile_projections::{CaseView, History};
use casefile_store::commit::Answer;
use casefile_store::evidence::EvidenceBlob;
use casefile_store::idempotency::KeyClaim;
use casefile_store::records::{view_json, EntryCache, Lists};
use casefile_store::sequencer::Sequencer;
use casefile_store::{CommitError, Store, UnitOfWork};
use chrono::{DateTime, Datelike, Utc};
use cqrs_es::{AggregateError, CqrsFramework};
use rand::Rng;

use crate::auth::{Principal, Role};
use crate::error::ApiError;

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
    /// The request's `Idempotency-Key`, recorded in the command's transaction.
    pub idempotency: Option<KeyClaim>,
    /// The automation rule a command of the service's own carries out, recorded with its
    /// events (`automation.<rule>`).
    pub rule: Option<String>,
    /// Answer with the case without its lists (notes, correspondence, evidence, links),
    /// which a command that records something then does not read: asked for with
    /// `Prefer: return=minimal`, and used wherever nobody reads the answer.
    pub minimal: bool,
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
        if let Some(rule) = &self.rule {
            metadata.insert(meta::RULE.to_string(), rule.clone());
        }
        metadata
    }
}

/// The answer to a command: the case as its commit left it, already serialised.
#[derive(Debug, Clone)]
pub struct CaseResponse {
    pub view: Option<CaseView>,
    pub status: StatusCode,
    body: String,
    replayed: bool,
    /// The body leaves the lists out, as `Prefer: return=minimal` asked.
    minimal: bool,
    /// Whether the request's `Idempotency-Key` is answered already (by this commit, or by
    /// the one replayed).
    recorded: bool,
}

impl CaseResponse {
    /// A response stored under an `Idempotency-Key`, sent again.
    pub fn replay(status: u16, body: String) -> Self {
        Self {
            view: None,
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            body,
            replayed: true,
            minimal: false,
            recorded: true,
        }
    }
}

impl IntoResponse for CaseResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.recorded {
            headers.insert(
                crate::idempotency::RECORDED_HEADER,
                HeaderValue::from_static("true"),
            );
        }
        if self.minimal {
            headers.insert(
                "preference-applied",
                HeaderValue::from_static("return=minimal"),
            );
        }
        if self.replayed {
            headers.insert(
                crate::idempotency::REPLAYED_HEADER,
                HeaderValue::from_static("true"),
            );
        }
        response
    }
}

/// What a command's commit does besides writing its events.
#[derive(Default, Clone, Copy)]
struct Writing<'a> {
    /// A log: the `Logged` event takes the next reference serial of this year.
    reference_year: Option<i32>,
    /// Answer `201 Created` with the body this makes from the recorded events.
    answer: Option<Answer>,
    /// The upload the command's evidence names, stored in the same transaction.
    file: Option<&'a EvidenceBlob>,
}

pub struct Cases {
    store: Store,
    services: ComplaintServices,
    sequencer: Sequencer,
    committed: Arc<Committed>,
    entries: EntryCache,
}

/// The cases written since the watchdog last looked, and its wake-up call; the watchdog's
/// own alerts are left out, as they change nothing a rule reads. Past
/// [`Committed::MOST`] cases it stops naming them and says only that many changed (so it
/// stays small while nothing takes them: the watchdog is off, or slow).
#[derive(Debug, Default)]
pub struct Committed {
    notify: tokio::sync::Notify,
    changed: std::sync::Mutex<Changed>,
}

/// Which cases were written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    These(std::collections::HashSet<String>),
    /// More than [`Committed::MOST`].
    Many,
}

impl Default for Changed {
    fn default() -> Self {
        Self::These(Default::default())
    }
}

impl Committed {
    pub const MOST: usize = 10_000;

    fn record(&self, id: &str) {
        {
            let mut changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
            if let Changed::These(ids) = &mut *changed {
                if ids.len() < Self::MOST {
                    ids.insert(id.to_string());
                } else {
                    *changed = Changed::Many;
                }
            }
        }
        self.notify.notify_one();
    }

    /// Waits for the next commit (or returns at once if one came since the last wait).
    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    /// The cases written since the last call.
    pub fn take(&self) -> Changed {
        std::mem::take(&mut *self.changed.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Cases {
    pub fn new(store: Store, services: ComplaintServices, sequencer: Sequencer) -> Self {
        Self {
            store,
            services,
            sequencer,
            committed: Arc::default(),
            entries: EntryCache::new(),
        }
    }

    /// Told of every commit but the watchdog's alerts, for work that follows events as they
    /// arrive.
    pub fn committed(&self) -> Arc<Committed> {
        self.committed.clone()
    }

    pub fn calendar(&self) -> &Arc<Calendar> {
        &self.services.calendar
    }

    /// Logs a new complaint under a fresh id; its reference is taken by the commit.
    pub async fn log(
        &self,
        complaint: LogComplaint,
        ctx: &CommandContext,
    ) -> Result<CaseResponse, ApiError> {
        let id = uuid::Uuid::now_v7().to_string();
        let year = uk_date(Utc::now()).year();
        let action = Action::Log {
            reference: String::new(),
            complaint,
        };
        let writing = Writing {
            reference_year: Some(year),
            ..Writing::default()
        };
        self.run(&id, "log", action, ctx, writing).await
    }

    /// Runs one command on a case and returns the case as it now stands.
    pub async fn execute(
        &self,
        id: &str,
        name: &'static str,
        action: Action,
        ctx: &CommandContext,
    ) -> Result<CaseResponse, ApiError> {
        self.run(id, name, action, ctx, Writing::default()).await
    }

    /// As [`Self::execute`], storing `file` (the upload the command's evidence names) in
    /// the command's transaction: a file is kept only if its evidence is recorded.
    pub async fn execute_storing(
        &self,
        id: &str,
        name: &'static str,
        action: Action,
        ctx: &CommandContext,
        file: &EvidenceBlob,
    ) -> Result<CaseResponse, ApiError> {
        let writing = Writing {
            file: Some(file),
            ..Writing::default()
        };
        self.run(id, name, action, ctx, writing).await
    }

    /// Runs a command that creates something on the case and answers `201 Created` with the
    /// body `answer` makes from the recorded events (stored under any `Idempotency-Key`).
    pub async fn create(
        &self,
        id: &str,
        name: &'static str,
        action: Action,
        ctx: &CommandContext,
        answer: Answer,
    ) -> Result<CaseResponse, ApiError> {
        let writing = Writing {
            answer: Some(answer),
            ..Writing::default()
        };
        self.run(id, name, action, ctx, writing).await
    }

    #[tracing::instrument(skip(self, action, ctx, writing), fields(case_id = %id, actor = %ctx.principal.id))]
    async fn run(
        &self,
        id: &str,
        name: &'static str,
        action: Action,
        ctx: &CommandContext,
        writing: Writing<'_>,
    ) -> Result<CaseResponse, ApiError> {
        let Writing {
            reference_year,
            answer,
            file,
        } = writing;
        // An alert changes nothing an automation rule or another alert reads, so its commit
        // neither wakes the watchdog that raised it nor joins the cases its next scan reads.
        let wakes_watchdog = !matches!(action, Action::RaiseSlaAlert(_));
        let command = ComplaintCommand {
            actor: ctx.principal.actor(),
            action,
        };
        let mut attempt = 1;
        let (outcome, committed) = loop {
            let mut unit = UnitOfWork::new(&self.store, &self.services.calendar)
                .with_entry_cache(&self.entries)
                .answering(ctx.idempotency.clone())
                .storing(file);
            if let Some(year) = reference_year {
                unit = unit.assigning_reference(year);
            }
            if let Some(answer) = answer {
                unit = unit.answering_with(201, answer);
            }
            if ctx.minimal {
                unit = unit.without_lists();
            }
            let cqrs = CqrsFramework::new(&unit, Vec::new(), self.services.clone());
            let result = cqrs
                .execute_with_metadata(id, command.clone(), ctx.metadata())
                .await;
            let committed = unit.outcome();
            match result {
                Err(AggregateError::AggregateConflict) if attempt < ATTEMPTS => {
                    metrics::counter!("casefile_command_conflicts_total", "action" => name)
                        .increment(1);
                    attempt += 1;
                    // Spread the retries so racing writers do not collide again in step.
                    let pause = rand::thread_rng().gen_range(1..=5 * u64::from(attempt));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                other => break (other, committed),
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
        match committed {
            Some(Ok(committed)) => {
                self.sequencer.kick();
                if wakes_watchdog {
                    self.committed.record(id);
                }
                let status = if reference_year.is_some() || answer.is_some() {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(CaseResponse {
                    view: Some(committed.view),
                    status,
                    body: committed.body,
                    replayed: false,
                    minimal: ctx.minimal && answer.is_none(),
                    recorded: true,
                })
            }
            Some(Err(CommitError::KeyTaken)) => self.replay_key(ctx).await,
            Some(Err(CommitError::Conflict)) => Err(ApiError::Conflict),
            Some(Err(err)) => Err(ApiError::from(err)),
            // Nothing was committed: a rule refused the command, the case does not exist,
            // or the command had nothing to record.
            None => {
                outcome?;
                let view = self.view(id).await?.ok_or(ApiError::NotFound)?;
                let body = if ctx.minimal {
                    view_json(&view, None)
                } else {
                    serde_json::to_string(&view)
                }
                .map_err(ApiError::internal)?;
                Ok(CaseResponse {
                    view: Some(view),
                    status: StatusCode::OK,
                    body,
                    replayed: false,
                    minimal: ctx.minimal,
                    recorded: false,
                })
            }
        }
    }

    /// The response another request with this command's key committed first.
    async fn replay_key(&self, ctx: &CommandContext) -> Result<CaseResponse, ApiError> {
        let claim = ctx.idempotency.as_ref().ok_or(ApiError::Conflict)?;
        match self
            .store
            .stored_response(&claim.user_id, &claim.key)
            .await?
        {
            Some(stored) if stored.request_hash == claim.request_hash => {
                Ok(CaseResponse::replay(stored.status, stored.body))
            }
            Some(_) => Err(crate::idempotency::key_reused()),
            None => Err(ApiError::Conflict),
        }
    }

    /// The case as it stands today, or `None` if no complaint was logged under the id.
    pub async fn view(&self, id: &str) -> Result<Option<CaseView>, ApiError> {
        self.store
            .case_view(
                id,
                &self.services.calendar,
                uk_date(Utc::now()),
                Lists::Cached(&self.entries),
            )
            .await
            .map_err(ApiError::from_load)
    }

    pub async fn history(&self, id: &str) -> Result<Option<History>, ApiError> {
        let events = self
            .store
            .case_events(id)
            .await
            .map_err(ApiError::from_load)?;
        if events.is_empty() {
            return Ok(None);
        }
        Ok(Some(History::build(id, &events)))
    }

    /// The case exactly as it stood at `as_of`: the events recorded up to then, and the
    /// view folded from them with that moment's UK date as today and the bank-holiday
    /// calendar in force then ([`Store::calendar_in_force`]).
    pub async fn as_of(&self, id: &str, as_of: DateTime<Utc>) -> Result<AsOf, ApiError> {
        let mut events = self
            .store
            .case_events(id)
            .await
            .map_err(ApiError::from_load)?;
        if events.is_empty() {
            return Err(ApiError::NotFound);
        }
        // The case as it stood is a prefix of its stream: it ends before the first event
        // recorded after `as_of`.
        if let Some(later) = events.iter().position(|event| event.recorded_at > as_of) {
            events.truncate(later);
        }
        let recorded_version = events.first().and_then(|first| match &first.event {
            casefile_domain::ComplaintEvent::Logged {
                calendar_version, ..
            } => Some(calendar_version.as_str()),
            _ => None,
        });
        let calendar = self
            .store
            .calendar_in_force(as_of, recorded_version, &self.services.calendar)
            .await
            .map_err(ApiError::from_load)?;
        let view = CaseView::build(id, &events, &calendar, uk_date(as_of))
            .ok_or(ApiError::NotYetLogged)?;
        Ok(AsOf {
            history: History::build(id, &events),
            view,
        })
    }
}

/// A case as it stood at one moment.
#[derive(Debug, Clone)]
pub struct AsOf {
    pub history: History,
    pub view: CaseView,
}
