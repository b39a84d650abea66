//! Automatic actions a procedure can ask for: acknowledging on logging, escalating a
//! breached Stage 1, declaring deadlock when the procedure's limit passes, and assigning new
//! cases. Each is recorded as the ordinary event a person would have caused, by an actor
//! whose id names the rule (`system:auto-escalate`…), so the audit trail says both that the
//! act was automatic and why.

use serde::{Deserialize, Serialize};

use crate::values::Actor;

/// The prefix of every actor id the service acts under on its own.
pub const SYSTEM_ACTOR_PREFIX: &str = "system:";

/// Whether an actor id is the service's own rather than a person's.
pub fn is_system_actor(id: &str) -> bool {
    id.starts_with(SYSTEM_ACTOR_PREFIX)
}

/// One automation rule of a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoRule {
    AcknowledgeOnLogging,
    EscalateBreachedStage1,
    DeadlockAfterLimit,
    AssignNewCases,
}

impl AutoRule {
    pub const ALL: [AutoRule; 4] = [
        AutoRule::AssignNewCases,
        AutoRule::AcknowledgeOnLogging,
        AutoRule::EscalateBreachedStage1,
        AutoRule::DeadlockAfterLimit,
    ];

    /// The rule's key in a procedure file's `[automation]` table, as recorded with the
    /// events it causes.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AcknowledgeOnLogging => "acknowledge_on_logging",
            Self::EscalateBreachedStage1 => "escalate_breached_stage1",
            Self::DeadlockAfterLimit => "deadlock_after_limit",
            Self::AssignNewCases => "assign",
        }
    }

    /// The actor the rule's events are recorded by.
    pub fn actor(&self) -> Actor {
        let (id, name) = match self {
            Self::AcknowledgeOnLogging => ("system:auto-acknowledge", "Automatic acknowledgement"),
            Self::EscalateBreachedStage1 => ("system:auto-escalate", "Automatic escalation"),
            Self::DeadlockAfterLimit => ("system:auto-deadlock", "Automatic deadlock"),
            Self::AssignNewCases => ("system:auto-assign", "Automatic assignment"),
        };
        Actor {
            id: id.to_string(),
            name: name.to_string(),
        }
    }
}
