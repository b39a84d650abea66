//! An event as it was recorded: what the store returns for a case.

use std::collections::HashMap;

use casefile_domain::ComplaintEvent;
use chrono::{DateTime, Utc};

/// Metadata keys every command writes alongside its events.
pub mod meta {
    pub const ACTOR_ID: &str = "actor_id";
    pub const ACTOR_NAME: &str = "actor_name";
    pub const ACTOR_ROLE: &str = "actor_role";
    pub const REQUEST_ID: &str = "request_id";
    pub const USER_AGENT: &str = "user_agent";
    pub const RECORDED_AT: &str = "recorded_at";
    /// The automation rule behind an automatic event (`automation.<rule>`).
    pub const RULE: &str = "rule";
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub aggregate_id: String,
    /// 1, 2, 3… within the case, gapless.
    pub sequence: u64,
    pub event_version: String,
    /// When the server stored it (the store's clock, not the user's `occurred_at`).
    pub recorded_at: DateTime<Utc>,
    pub event: ComplaintEvent,
    pub metadata: HashMap<String, String>,
}

impl RecordedEvent {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }
}
