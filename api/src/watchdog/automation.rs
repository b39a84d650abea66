//! The procedures' automation rules, carried out in each watchdog scan: assign new cases,
//! acknowledge on logging, escalate a breached Stage 1, declare deadlock once the
//! procedure's limit passes. The scan picks the cases a rule may apply to from the read
//! models and the running procedure of the case's id; the aggregate then decides against the
//! case's own procedure copy and refuses a rule whose moment has not come or has passed. So
//! a rule acts at most once however many instances scan, each act is an ordinary event by
//! the rule's own actor, and a rule refused for a case is not tried again until the case or
//! the date changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use casefile_domain::command::Automate;
use casefile_domain::procedure::Procedure;
use casefile_domain::{uk_date, Action, Actor, AutoRule, Division, ProcedureRegistry};
use casefile_store::outbox::{AutomationReach, OpenCase};
use casefile_store::Store;
use chrono::{Days, NaiveDate, Utc};

use crate::cases::Cases;
use crate::error::ApiError;
use crate::in_flight::InFlight;

/// How many open cases a scan reads at a time.
const OPEN_CASES_PAGE: u32 = 500;

/// A rule refused for a case: at which case version, on which day.
type Refusals = HashMap<(String, AutoRule), (i64, NaiveDate)>;

pub struct Automation {
    procedures: Arc<ProcedureRegistry>,
    refused: Mutex<Refusals>,
    /// For the acknowledgement letter sent with an automatic acknowledgement.
    letters: Arc<casefile_documents::Letters>,
    organisation: Arc<casefile_documents::Organisation>,
}

impl Automation {
    pub fn new(
        procedures: Arc<ProcedureRegistry>,
        letters: Arc<casefile_documents::Letters>,
        organisation: Arc<casefile_documents::Organisation>,
    ) -> Self {
        Self {
            procedures,
            refused: Mutex::new(HashMap::new()),
            letters,
            organisation,
        }
    }

    /// Carries out every rule whose moment has come, on every open case in a rule's reach
    /// or on those of `only`; returns how many acted.
    pub async fn run(
        &self,
        store: &Store,
        cases: &Cases,
        only: Option<std::collections::HashSet<String>>,
        in_flight: &InFlight,
    ) -> Result<usize, ApiError> {
        let today = uk_date(Utc::now());
        let mut acted = 0;
        if let Some(ids) = only {
            let mut ids: Vec<String> = ids.into_iter().collect();
            ids.sort();
            for ids in ids.chunks(OPEN_CASES_PAGE as usize) {
                // Held over the read alone: each command below waits a turn of its own.
                let page = {
                    let _turn = in_flight.turn(super::GIVE_WAY).await;
                    store.open_cases_among(ids).await?
                };
                for case in page {
                    acted += self.run_case(store, cases, &case, today, in_flight).await?;
                }
            }
            return Ok(acted);
        }
        let reach = self.reach(today);
        if reach.is_empty() {
            return Ok(0);
        }
        let mut after = String::new();
        loop {
            // The open cases in reach may be many pages: each gives way to requests.
            let page = {
                let _turn = in_flight.turn(super::GIVE_WAY).await;
                store
                    .open_cases_in_reach(&after, OPEN_CASES_PAGE, &reach)
                    .await?
            };
            let Some(last) = page.last() else {
                break;
            };
            after = last.id.clone();
            for case in page {
                acted += self.run_case(store, cases, &case, today, in_flight).await?;
            }
        }
        Ok(acted)
    }

    /// The open cases each rule may act on `today`, by the procedures that have it: those
    /// [`applies`] may say yes to, and more where a case's procedure copy differs.
    fn reach(&self, today: NaiveDate) -> AutomationReach {
        let mut reach = AutomationReach {
            today,
            assign: Vec::new(),
            acknowledge: Vec::new(),
            escalate: Vec::new(),
            deadlock: Vec::new(),
        };
        for procedure in self.procedures.all() {
            let automation = &procedure.automation;
            let id = || procedure.id.clone();
            if automation.assign.is_some() {
                reach.assign.push(id());
            }
            if automation.acknowledge_on_logging {
                reach.acknowledge.push(id());
            }
            if automation.escalate_breached_stage1 {
                reach.escalate.push(id());
            }
            if let Some(received_by) = deadlock_received_by(procedure, today) {
                reach.deadlock.push((id(), received_by));
            }
        }
        reach
    }

    /// Carries out the rules whose moment has come on one open case; returns how many acted.
    async fn run_case(
        &self,
        store: &Store,
        cases: &Cases,
        case: &OpenCase,
        today: NaiveDate,
        in_flight: &InFlight,
    ) -> Result<usize, ApiError> {
        let mut acted = 0;
        let Some(procedure) = self.procedures.get(&case.procedure) else {
            return Ok(0);
        };
        for rule in AutoRule::ALL {
            if !applies(rule, case, procedure, today) || self.was_refused(case, rule, today) {
                continue;
            }
            // Before the officer is chosen, so the act is decided on what is true after the wait.
            let _turn = in_flight.turn(super::GIVE_WAY).await;
            let Some(automate) = self.action(rule, case, procedure, store).await? else {
                continue;
            };
            let ctx = super::automation_context(rule);
            match cases
                .execute(
                    &case.id,
                    command_name(rule),
                    Action::Automate(automate),
                    &ctx,
                )
                .await
            {
                Ok(_) => {
                    acted += 1;
                    if rule == AutoRule::AcknowledgeOnLogging {
                        self.send_acknowledgement_letter(store, cases, &case.id, &ctx)
                            .await;
                    }
                    metrics::counter!("casefile_automation_total", "rule" => rule.as_str())
                        .increment(1);
                    tracing::info!(
                        case_id = %case.id,
                        reference = %case.reference,
                        rule = rule.as_str(),
                        "automation rule acted"
                    );
                }
                // The rules said no (another instance acted first, or the case's own
                // procedure copy does not have the rule): not again until something
                // changes.
                Err(ApiError::Rule(err)) => {
                    tracing::debug!(case_id = %case.id, rule = rule.as_str(), %err, "automation rule refused");
                    self.refuse(case, rule, today);
                }
                Err(err) => {
                    tracing::warn!(case_id = %case.id, rule = rule.as_str(), %err, "automation rule failed");
                }
            }
        }
        Ok(acted)
    }

    /// The acknowledgement letter, issued by the same rule right after the acknowledgement
    /// it confirms. A failure is logged and leaves the acknowledgement standing: staff can
    /// issue the letter from the case.
    async fn send_acknowledgement_letter(
        &self,
        store: &Store,
        cases: &Cases,
        id: &str,
        ctx: &crate::cases::CommandContext,
    ) {
        let writer = crate::routes::letters::LetterWriter {
            store,
            cases,
            letters: &self.letters,
            organisation: &self.organisation,
        };
        if let Err(err) = writer
            .issue(
                id,
                casefile_domain::values::LetterKind::Acknowledgement,
                ctx,
            )
            .await
        {
            tracing::warn!(case_id = %id, %err, "the acknowledgement letter was not issued");
        }
    }

    fn was_refused(&self, case: &OpenCase, rule: AutoRule, today: NaiveDate) -> bool {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused.get(&(case.id.clone(), rule)) == Some(&(case.version, today))
    }

    fn refuse(&self, case: &OpenCase, rule: AutoRule, today: NaiveDate) {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused.insert((case.id.clone(), rule), (case.version, today));
    }

    /// The command for a rule that applies; for assignment, the officer whose turn it is.
    async fn action(
        &self,
        rule: AutoRule,
        case: &OpenCase,
        procedure: &Procedure,
        store: &Store,
    ) -> Result<Option<Automate>, ApiError> {
        Ok(Some(match rule {
            AutoRule::AcknowledgeOnLogging => Automate::Acknowledge,
            AutoRule::EscalateBreachedStage1 => Automate::Escalate,
            AutoRule::DeadlockAfterLimit => Automate::Deadlock,
            AutoRule::AssignNewCases => {
                let Some(id) = officer_for(case, procedure) else {
                    return Ok(None);
                };
                let Some(user) = store.user(id).await? else {
                    tracing::warn!(
                        procedure = %procedure.id,
                        user_id = %id,
                        "automatic assignment names a user who does not exist"
                    );
                    return Ok(None);
                };
                Automate::Assign {
                    owner: Actor {
                        id: user.id,
                        name: user.name,
                    },
                }
            }
        }))
    }
}

/// Whether the read models say `rule` may act on `case` today under `procedure` (the
/// aggregate has the last word).
fn applies(rule: AutoRule, case: &OpenCase, procedure: &Procedure, today: NaiveDate) -> bool {
    let automation = &procedure.automation;
    let unmet = |step: &str| {
        case.unmet
            .iter()
            .find(|(s, _)| s == step)
            .map(|(_, due)| *due)
    };
    match rule {
        AutoRule::AssignNewCases => automation.assign.is_some() && case.owner_id.is_none(),
        AutoRule::AcknowledgeOnLogging => {
            automation.acknowledge_on_logging && unmet("acknowledge").is_some()
        }
        AutoRule::EscalateBreachedStage1 => {
            automation.escalate_breached_stage1
                && case.stage == "stage1"
                && unmet("stage1_response").is_some_and(|due| today > due)
        }
        AutoRule::DeadlockAfterLimit => {
            deadlock_received_by(procedure, today).is_some_and(|last| case.received_on <= last)
        }
    }
}

/// The last date a case under `procedure` may have been received to be past its deadlock
/// limit `today`, if the procedure declares deadlock after a limit.
fn deadlock_received_by(procedure: &Procedure, today: NaiveDate) -> Option<NaiveDate> {
    if !procedure.automation.deadlock_after_limit {
        return None;
    }
    let weeks = procedure.deadlock.as_ref()?.after_weeks?;
    today.checked_sub_days(Days::new(u64::from(weeks) * 7))
}

/// Round robin: the case's serial number (the digits ending its reference, given out in
/// logging order) picks from the officers for its theme, division or the procedure.
fn officer_for<'a>(case: &OpenCase, procedure: &'a Procedure) -> Option<&'a String> {
    let assign = procedure.automation.assign.as_ref()?;
    let division = case.division.parse::<Division>().ok()?;
    let officers = assign.candidates(case.theme.as_deref(), division);
    if officers.is_empty() {
        return None;
    }
    let serial: usize = case
        .reference
        .rsplit('-')
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    // Serials start at 1, so the first case goes to the first officer.
    officers.get(serial.saturating_sub(1) % officers.len())
}

fn command_name(rule: AutoRule) -> &'static str {
    match rule {
        AutoRule::AcknowledgeOnLogging => "auto_acknowledge",
        AutoRule::EscalateBreachedStage1 => "auto_escalate",
        AutoRule::DeadlockAfterLimit => "auto_deadlock",
        AutoRule::AssignNewCases => "auto_assign",
    }
}
