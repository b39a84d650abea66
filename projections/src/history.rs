//! The audit trail of one case: every event with who, when and through which request.

use casefile_domain::ComplaintEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::recorded::{meta, RecordedEvent};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HistoryActor {
    pub id: String,
    pub name: String,
    /// The role the actor acted in, from the request's credentials.
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub sequence: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: HistoryActor,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
    /// The procedure's automation rule that caused an automatic event, e.g.
    /// `automation.escalate_breached_stage1`; absent from people's entries and alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The event's own fields.
    #[schema(value_type = Object)]
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct History {
    pub id: String,
    pub reference: String,
    pub events: Vec<HistoryEntry>,
}

impl HistoryEntry {
    pub fn from_recorded(recorded: &RecordedEvent) -> Self {
        let by = recorded.event.by();
        Self {
            sequence: recorded.sequence,
            event_type: recorded.event.name().to_string(),
            version: recorded.event_version.clone(),
            occurred_at: recorded.event.occurred_at(),
            recorded_at: recorded.recorded_at,
            actor: HistoryActor {
                id: by.id.clone(),
                name: by.name.clone(),
                role: recorded.meta(meta::ACTOR_ROLE).map(str::to_string),
            },
            request_id: recorded.meta(meta::REQUEST_ID).map(str::to_string),
            user_agent: recorded.meta(meta::USER_AGENT).map(str::to_string),
            rule: recorded.meta(meta::RULE).map(str::to_string),
            payload: payload_of(&recorded.event),
        }
    }
}

/// The variant's fields without the enum's `{"Variant": …}` wrapper.
fn payload_of(event: &ComplaintEvent) -> Value {
    match serde_json::to_value(event) {
        Ok(Value::Object(mut map)) => map.remove(event.name()).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

impl History {
    pub fn build(id: &str, events: &[RecordedEvent]) -> Self {
        let reference = events
            .iter()
            .find_map(|r| match &r.event {
                ComplaintEvent::Logged { reference, .. } => Some(reference.clone()),
                _ => None,
            })
            .unwrap_or_default();
        Self {
            id: id.to_string(),
            reference,
            events: events.iter().map(HistoryEntry::from_recorded).collect(),
        }
    }
}
