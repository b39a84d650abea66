//! Cases for the tests, made the way the service makes them: each command decided by the
//! real aggregate against the built-in procedures and calendar, at a clock the test sets.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use casefile_documents::StreamLine;
use casefile_domain::calendar::{Calendar, Division};
use casefile_domain::command::{Action, LogComplaint};
use casefile_domain::procedure::{Procedure, ProcedureRegistry};
use casefile_domain::values::{Actor, Channel, Complainant};
use casefile_domain::{Clock, Complaint, ComplaintCommand, ComplaintServices};
use casefile_projections::{CaseView, RecordedEvent};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cqrs_es::Aggregate;
use sha2::{Digest, Sha256};

#[derive(Debug)]
struct SetClock(Mutex<DateTime<Utc>>);

impl Clock for SetClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// 10:00 UTC on a day of 2025.
pub fn day(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, month, day, 10, 0, 0).unwrap()
}

pub fn date(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, month, day).unwrap()
}

pub fn actor(id: &str, name: &str) -> Actor {
    Actor {
        id: id.into(),
        name: name.into(),
    }
}

pub fn complainant() -> Complainant {
    Complainant {
        name: "Alex Resident".into(),
        email: Some("alex@example.org".into()),
        phone: Some("07700 900123".into()),
        address: Some("Flat 2, 10 High Street, Leeds, LS1 1AA".into()),
        resident_id: Some("T-1001".into()),
    }
}

/// A case as it happens, command by command.
pub struct Story {
    pub id: String,
    clock: Arc<SetClock>,
    services: ComplaintServices,
    state: Complaint,
    pub events: Vec<RecordedEvent>,
    pub procedure: Procedure,
}

impl Story {
    /// Logs a complaint under a built-in procedure, received on `at`'s day.
    pub fn log(procedure: &str, at: DateTime<Utc>, summary: &str, description: &str) -> Self {
        Self::log_under(
            ProcedureRegistry::builtin(),
            procedure,
            at,
            summary,
            description,
            None,
        )
    }

    pub fn log_under(
        registry: ProcedureRegistry,
        procedure: &str,
        at: DateTime<Utc>,
        summary: &str,
        description: &str,
        issue_arose_on: Option<NaiveDate>,
    ) -> Self {
        let clock = Arc::new(SetClock(Mutex::new(at)));
        let mut services = ComplaintServices::new(registry, Calendar::builtin());
        services.clock = clock.clone();
        let procedure_copy = services.procedures.get(procedure).unwrap().clone();
        let mut story = Self {
            id: format!("case-{procedure}"),
            clock,
            services,
            state: Complaint::default(),
            events: Vec::new(),
            procedure: procedure_copy,
        };
        story.act(
            at,
            &actor("u-handler", "Sam Handler"),
            "handler",
            Action::Log {
                reference: "CF-2025-000042".into(),
                complaint: LogComplaint {
                    procedure: procedure.into(),
                    division: Division::EnglandAndWales,
                    received_on: at.date_naive(),
                    issue_arose_on,
                    channel: Channel::Email,
                    complainant: complainant(),
                    summary: summary.into(),
                    description: description.into(),
                    tenure: None,
                    occurred_at: None,
                    // Letters restate the summary as the Stage 1 definition.
                    definition: Some(summary.into()),
                    outcomes_sought: vec!["A working boiler".into()],
                },
            },
        );
        story
    }

    /// Runs one command at `at` through the aggregate's rules; panics if a rule refuses it.
    pub fn act(&mut self, at: DateTime<Utc>, by: &Actor, role: &str, action: Action) -> &mut Self {
        *self.clock.0.lock().unwrap() = at;
        let events = self
            .state
            .decide(
                ComplaintCommand {
                    actor: by.clone(),
                    action,
                },
                &self.services,
            )
            .expect("the command is allowed");
        for event in events {
            self.state.apply(event.clone());
            let sequence = self.events.len() as u64 + 1;
            self.events.push(RecordedEvent {
                aggregate_id: self.id.clone(),
                sequence,
                event_version: "1.0".into(),
                recorded_at: at + Duration::milliseconds(250),
                event,
                metadata: HashMap::from([
                    ("actor_id".to_string(), by.id.clone()),
                    ("actor_name".to_string(), by.name.clone()),
                    ("actor_role".to_string(), role.to_string()),
                    ("request_id".to_string(), format!("req-{sequence}")),
                ]),
            });
        }
        self
    }

    /// The case as it stands on `today`.
    pub fn view(&self, today: NaiveDate) -> CaseView {
        CaseView::build(&self.id, &self.events, &Calendar::builtin(), today).unwrap()
    }

    /// The events as a store would hand them back raw, each chained to the one before by
    /// SHA-256 (a stand-in for the store's own canonical form).
    pub fn stream(&self) -> Vec<StreamLine> {
        let mut previous = String::new();
        self.events
            .iter()
            .map(|recorded| {
                let payload = serde_json::to_value(&recorded.event).unwrap();
                let metadata = serde_json::to_value(&recorded.metadata).unwrap();
                let hash = hex::encode(Sha256::digest(
                    format!("{previous}{payload}{metadata}").as_bytes(),
                ));
                previous = hash.clone();
                StreamLine {
                    position: 1000 + recorded.sequence,
                    sequence: recorded.sequence,
                    event_type: recorded.event.name().to_string(),
                    event_version: recorded.event_version.clone(),
                    payload,
                    metadata,
                    recorded_at: recorded.recorded_at,
                    hash,
                }
            })
            .collect()
    }
}
