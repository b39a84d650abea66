//! SLA alerts: a step of a case entering `due_soon` or `breached`, recorded once as an event
//! by the system, and resolved by an event of its own when a later entry shows the step met.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::deadline::{DeadlineState, DeadlineStep};
use crate::values::Actor;

/// The id of the actor behind every alert the service raises on its own.
pub const WATCHDOG_ACTOR_ID: &str = "system:watchdog";

/// The actor the watchdog records on its events.
pub fn watchdog_actor() -> Actor {
    Actor {
        id: WATCHDOG_ACTOR_ID.to_string(),
        name: "SLA watchdog".to_string(),
    }
}

/// The SLA states that raise an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    DueSoon,
    Breached,
}

impl AlertState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::DueSoon => "due_soon",
            Self::Breached => "breached",
        }
    }

    /// The alert a deadline in `state` calls for, if any.
    pub fn of(state: DeadlineState) -> Option<Self> {
        match state {
            DeadlineState::DueSoon => Some(Self::DueSoon),
            DeadlineState::Breached => Some(Self::Breached),
            DeadlineState::Pending | DeadlineState::Met | DeadlineState::MetLate => None,
        }
    }
}

/// Why an open alert no longer needs looking at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertResolution {
    /// The step was met by its due date.
    Met,
    /// The step was met, after its due date.
    MetLate,
    /// The step is no longer live (the case ended before its due date) or now falls due
    /// on another date (an extension).
    NoLongerDue,
    /// The case ended (closed, withdrawn or refused) with the step unmet.
    CaseEnded,
}

/// One alert raised on the case; the identity that is never raised twice is
/// (`step`, `state`, `due`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaisedAlert {
    pub step: DeadlineStep,
    pub state: AlertState,
    pub due: NaiveDate,
    pub open: bool,
}

impl RaisedAlert {
    pub fn is(&self, step: DeadlineStep, state: AlertState, due: NaiveDate) -> bool {
        self.step == step && self.state == state && self.due == due
    }
}
