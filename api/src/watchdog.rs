//! The SLA watchdog: on a schedule and after commits, finds steps of open cases entering
//! `due_soon` or `breached` and raises each alert once, as an event on the case through
//! the ordinary command path. The aggregate refuses an alert already raised, so two
//! instances cannot record it twice; an advisory lock keeps them from scanning at once.
//! [`delivery`] hands the alerts' outbox rows to the notification channels.

pub mod automation;
pub mod delivery;
pub mod smtp;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use casefile_domain::command::RaiseSlaAlert;
use casefile_domain::{
    uk_date, watchdog_actor, Action, AlertState, Calendar, DeadlineStep, Division,
};
use casefile_store::outbox::{DueStep, StepKey};
use casefile_store::Store;
use chrono::{NaiveDate, Utc};

use crate::auth::{Principal, Role};
use crate::cases::{Cases, Changed, CommandContext, Committed};
use crate::error::ApiError;
use crate::in_flight::InFlight;

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

/// How many cases the watchdog alerts at once. One at a time, it fell behind a burst of
/// logs due soon (581 of 3,000 alerts raised when the burst ended), each alert a commit of
/// its own; at once, their commits share the SQLite writer's transactions. Few enough to
/// leave the pool's other connections to the people using the service.
const CASES_AT_ONCE: usize = 4;

/// The longest each of the watchdog's commands waits for a moment with no request in
/// flight (see [`crate::in_flight`]). While requests never stop, the watchdog goes on one
/// command at a time, a tenth of the time at most, and catches up once they do.
pub(crate) const GIVE_WAY: Duration = Duration::from_millis(100);

/// How many due steps a scan reads at a time: a page of 256 with 10,000 waiting is read in
/// about 1.4 ms on PostgreSQL, where the whole backlog in one read took 59 ms at 4,699.
const DUE_STEPS_PAGE: u32 = 256;

pub struct Watchdog {
    pub store: Store,
    pub cases: Arc<Cases>,
    pub config: WatchdogConfig,
    /// Told of every commit but its own alerts.
    pub committed: Arc<Committed>,
    /// The procedures' automation rules, run in each scan.
    pub automation: automation::Automation,
    /// The requests being answered, which each of the watchdog's commands gives way to.
    pub in_flight: Arc<InFlight>,
}

impl Watchdog {
    /// Scans until `shutdown` completes, and delivers notifications alongside.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let deliverer = delivery::Deliverer::new(
            self.store.clone(),
            self.config.mailer.clone(),
            self.in_flight.clone(),
        );
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
        // The scheduled scans look at every open case a rule may act on, for rules that
        // time alone brings due; a scan after commits looks only at the cases they wrote.
        let mut every_case = true;
        loop {
            if let Err(err) = self.scan(every_case).await {
                tracing::warn!(%err, "SLA watchdog scan failed");
            }
            if every_case {
                // At most once an interval, and after the largest work the watchdog does:
                // catching up on thousands of alerts after a start.
                crate::memory::give_back();
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.config.interval) => every_case = true,
                () = self.committed.wait() => {
                    tokio::time::sleep(SETTLE).await;
                    every_case = false;
                }
            }
        }
        let _ = stop.send(true);
        let _ = delivering.await;
    }

    /// One scan: carries out every automation rule whose moment has come, then raises
    /// every alert due today that is not yet on its case. Returns how many alerts were
    /// raised; none if another instance is scanning.
    pub async fn scan(&self, every_case: bool) -> Result<usize, ApiError> {
        let Some(lock) = self.store.try_scan_lock().await? else {
            return Ok(0);
        };
        // Taken under the lock, so cases written while another instance scanned are
        // looked at next time.
        let only = match self.committed.take() {
            Changed::These(ids) if !every_case => Some(ids),
            _ => None,
        };
        if let Err(err) = self
            .automation
            .run(&self.store, &self.cases, only, &self.in_flight)
            .await
        {
            tracing::warn!(%err, "automation failed");
        }
        let raised = self.raise_due().await;
        lock.release().await;
        raised
    }

    /// Raises the alerts due today, a few cases at a time; a case's own steps one after
    /// another, since two commands on one case at once would clash.
    async fn raise_due(&self) -> Result<usize, ApiError> {
        use futures::StreamExt;
        let today = uk_date(Utc::now());
        let calendar = self.cases.calendar().clone();
        let horizons: Vec<(&str, NaiveDate)> = Division::ALL
            .iter()
            .map(|division| {
                let horizon = alert_horizon(&calendar, *division, today, self.config.due_soon_days);
                (division.as_str(), horizon)
            })
            .collect();
        let ctx = system_context();
        let mut raised = 0;
        let mut after: Option<StepKey> = None;
        loop {
            // A page of the steps still to alert: on a busy day, thousands in all.
            let page = {
                let _turn = self.in_flight.turn(GIVE_WAY).await;
                self.store
                    .due_steps(today, &horizons, after.as_ref(), DUE_STEPS_PAGE)
                    .await?
            };
            raised += futures::stream::iter(by_case(page.steps))
                .map(|steps| self.raise_case(steps, today, &calendar, &ctx))
                .buffer_unordered(CASES_AT_ONCE)
                .fold(0, |sum, raised| async move { sum + raised })
                .await;
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(raised),
            }
        }
    }

    /// Raises the alerts due on one case's steps; how many were raised.
    async fn raise_case(
        &self,
        steps: Vec<DueStep>,
        today: NaiveDate,
        calendar: &Calendar,
        ctx: &CommandContext,
    ) -> usize {
        let mut count = 0;
        for row in steps {
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
            // Held while the alert is raised: one at a time while people are busy.
            let _turn = self.in_flight.turn(GIVE_WAY).await;
            match self
                .cases
                .execute(&row.case_id, "raise_sla_alert", action, ctx)
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
                Err(err @ (ApiError::Rule(_) | ApiError::Conflict)) => {
                    tracing::debug!(case_id = %row.case_id, %err, "alert not raised")
                }
                // The store failed: the step is still due, so the next scan tries again
                // (after the next command, or the scheduled one).
                Err(err) => tracing::warn!(
                    case_id = %row.case_id,
                    error = ?err.classified(),
                    "alert not raised; next round tries again"
                ),
            }
        }
        count
    }
}

/// The due steps grouped by case, each case where its first step came and its steps in
/// their order.
fn by_case(steps: Vec<DueStep>) -> Vec<Vec<DueStep>> {
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut cases: Vec<Vec<DueStep>> = Vec::new();
    for step in steps {
        match at.get(&step.case_id) {
            Some(&i) => cases[i].push(step),
            None => {
                at.insert(step.case_id.clone(), cases.len());
                cases.push(vec![step]);
            }
        }
    }
    cases
}

/// The context of commands the watchdog issues. Its actor id names the watchdog, which is
/// what marks the events as automatic in the audit trail.
pub fn system_context() -> CommandContext {
    actor_context(watchdog_actor())
}

/// The last due date in `division` that may be alerted today: a step due later has more
/// than `due_soon_days` working days to go. (`working_days_between(today, due)` first
/// exceeds them on the working day `due_soon_days + 1` ahead.)
fn alert_horizon(
    calendar: &Calendar,
    division: Division,
    today: NaiveDate,
    due_soon_days: u32,
) -> NaiveDate {
    calendar
        .add_working_days(division, today, due_soon_days + 1)
        .pred_opt()
        .unwrap_or(today)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn due(case_id: &str, step: &str) -> DueStep {
        DueStep {
            case_id: case_id.to_string(),
            reference: format!("CF-{case_id}"),
            step: step.to_string(),
            due: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            division: "england-and-wales".to_string(),
            owner_id: None,
            alerted: String::new(),
        }
    }

    /// A case's steps go to one task, in their order, so no two commands on a case run at
    /// once; the cases keep the order their first steps came in (the oldest due first).
    #[test]
    fn due_steps_are_grouped_by_case_in_order() {
        let rows = vec![
            due("b", "acknowledge"),
            due("a", "stage1_response"),
            due("b", "resident_update"),
            due("c", "acknowledge"),
            due("a", "resident_update"),
        ];
        let grouped: Vec<Vec<(String, String)>> = by_case(rows)
            .into_iter()
            .map(|steps| steps.into_iter().map(|s| (s.case_id, s.step)).collect())
            .collect();
        let pair = |c: &str, s: &str| (c.to_string(), s.to_string());
        assert_eq!(
            grouped,
            vec![
                vec![pair("b", "acknowledge"), pair("b", "resident_update")],
                vec![pair("a", "stage1_response"), pair("a", "resident_update")],
                vec![pair("c", "acknowledge")],
            ]
        );
    }

    /// Every date that could be alerted today in a division lies on or before its
    /// horizon, and the horizon itself could be: no row is missed, none read for nothing
    /// beyond it. Each day of 2019-2026 (Christmas, Easter, St Andrew's Day and the Twelfth
    /// of July among them), for a day or three of warning, in each division.
    #[test]
    fn the_horizon_is_the_last_date_due_soon_in_its_division() {
        let calendar = Calendar::builtin();
        let first = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        let mut differed = 0;
        for offset in 0..(8 * 365) {
            let today = first + chrono::Duration::days(offset);
            for due_soon_days in [1, 2, 3] {
                let horizons = Division::ALL
                    .map(|division| alert_horizon(&calendar, division, today, due_soon_days));
                if horizons.iter().any(|h| *h != horizons[0]) {
                    differed += 1;
                }
                for (division, horizon) in Division::ALL.into_iter().zip(horizons) {
                    let due_soon =
                        |due| calendar.working_days_between(division, today, due) <= due_soon_days;
                    for ahead in 0..30 {
                        let due = today + chrono::Duration::days(ahead);
                        assert_eq!(
                            due_soon(due),
                            due <= horizon,
                            "{today} {division:?} {due}, horizon {horizon}"
                        );
                    }
                }
            }
        }
        // The divisions' bank holidays differ, so their horizons do on some days: one
        // horizon for all would read a day too far for some of them.
        assert!(differed > 100, "{differed}");
    }
}
