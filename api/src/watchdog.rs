//! The SLA watchdog: on a schedule and after commits, finds steps of open cases entering
//! `due_soon` or `breached` and raises each alert once, as an event on the case through
//! the ordinary command path. The aggregate refuses an alert already raised, so two
//! instances cannot record it twice; an advisory lock keeps them from scanning at once.
//! [`delivery`] hands the alerts' outbox rows to the notification channels.

pub mod automation;
pub mod delivery;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use casefile_domain::command::RaiseSlaAlert;
use casefile_domain::{uk_date, watchdog_actor, Action, AlertState, DeadlineStep, Division};
use casefile_store::Store;
use chrono::{Days, Utc};
use tokio::sync::Notify;

use crate::auth::{Principal, Role};
use crate::cases::{Cases, CommandContext};
use crate::error::ApiError;

/// How and when the watchdog looks.
#[derive(Debug, Clone)]
pub struct WatchdogConfig {
    /// Time between scheduled scans; zero turns the watchdog off (notifications already
    /// in the outbox are still delivered).
    pub interval: Duration,
    /// A step is alerted `due_soon` from this many working days before its due date.
    pub due_soon_days: u32,
    /// Where email notifications go out, if anywhere (built from `CASEFILE_SMTP_URL`).
    pub mailer: Option<delivery::Mailer>,
}

/// Quiet time after a commit before scanning, so a burst of commands makes one scan.
const SETTLE: Duration = Duration::from_millis(200);

pub struct Watchdog {
    pub store: Store,
    pub cases: Arc<Cases>,
    pub config: WatchdogConfig,
    /// Notified after every commit.
    pub committed: Arc<Notify>,
    /// The procedures' automation rules, run in each scan.
    pub automation: automation::Automation,
}

impl Watchdog {
    /// Scans until `shutdown` completes, and delivers notifications alongside.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let deliverer = delivery::Deliverer::new(self.store.clone(), self.config.mailer.clone());
        let delivering = tokio::spawn(deliverer.run(async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        }));
        tokio::pin!(shutdown);
        if self.config.interval.is_zero() {
            shutdown.await;
            let _ = stop.send(true);
            let _ = delivering.await;
            return;
        }
        loop {
            if let Err(err) = self.scan().await {
                tracing::warn!(%err, "SLA watchdog scan failed");
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.config.interval) => {}
                () = self.committed.notified() => tokio::time::sleep(SETTLE).await,
            }
        }
        let _ = stop.send(true);
        let _ = delivering.await;
    }

    /// One scan: carries out every automation rule whose moment has come, then raises
    /// every alert due today that is not yet on its case. Returns how many alerts were
    /// raised; none if another instance is scanning.
    pub async fn scan(&self) -> Result<usize, ApiError> {
        let Some(lock) = self.store.try_scan_lock().await? else {
            return Ok(0);
        };
        if let Err(err) = self.automation.run(&self.store, &self.cases).await {
            tracing::warn!(%err, "automation failed");
        }
        let raised = self.raise_due().await;
        lock.release().await;
        raised
    }

    async fn raise_due(&self) -> Result<usize, ApiError> {
        let today = uk_date(Utc::now());
        let calendar = self.cases.calendar().clone();
        // Working days never outnumber calendar days, and a fortnight covers the longest
        // run of holidays and weekends; each row is then judged exactly below.
        let horizon = today
            .checked_add_days(Days::new(u64::from(self.config.due_soon_days) * 7 / 5 + 14))
            .unwrap_or(today);
        let ctx = system_context();
        let mut count = 0;
        for row in self.store.due_steps(horizon).await? {
            let (Ok(step), Ok(division)) = (
                serde_json::from_value::<DeadlineStep>(row.step.clone().into()),
                serde_json::from_value::<Division>(row.division.clone().into()),
            ) else {
                tracing::warn!(case_id = %row.case_id, step = %row.step, "unreadable deadline row");
                continue;
            };
            let state = if today > row.due {
                AlertState::Breached
            } else if calendar.working_days_between(division, today, row.due)
                <= self.config.due_soon_days
            {
                AlertState::DueSoon
            } else {
                continue;
            };
            if row.alerted == state.as_str() {
                continue;
            }
            let action = Action::RaiseSlaAlert(RaiseSlaAlert {
                step,
                state,
                due: row.due,
            });
            match self
                .cases
                .execute(&row.case_id, "raise_sla_alert", action, &ctx)
                .await
            {
                Ok(_) => {
                    count += 1;
                    metrics::counter!("casefile_sla_alerts_total", "state" => state.as_str())
                        .increment(1);
                    tracing::info!(
                        case_id = %row.case_id,
                        reference = %row.reference,
                        step = step.as_str(),
                        state = state.as_str(),
                        due = %row.due,
                        "SLA alert raised"
                    );
                }
                // Raised elsewhere meanwhile, or the case moved on: the rules said no.
                Err(err) => tracing::debug!(case_id = %row.case_id, %err, "alert not raised"),
            }
        }
        Ok(count)
    }
}

/// The context of commands the watchdog issues. Its actor id names the watchdog, which is
/// what marks the events as automatic in the audit trail.
pub fn system_context() -> CommandContext {
    actor_context(watchdog_actor())
}

/// The context of the commands an automation rule issues: the rule's own actor, and the
/// rule named in the events' metadata.
pub fn automation_context(rule: casefile_domain::AutoRule) -> CommandContext {
    CommandContext {
        rule: Some(format!("automation.{}", rule.as_str())),
        ..actor_context(rule.actor())
    }
}

fn actor_context(actor: casefile_domain::Actor) -> CommandContext {
    CommandContext {
        principal: Principal {
            id: actor.id,
            name: actor.name,
            roles: Vec::new(),
        },
        // The metadata needs a role; the actor id, not this, says the act was automatic.
        role: Role::Admin,
        request_id: format!("watchdog-{}", uuid::Uuid::now_v7()),
        user_agent: None,
        idempotency: None,
        rule: None,
        // Nobody reads the answer.
        minimal: true,
    }
}
