//! The complaint domain: everything Casefile knows about a complaint, with no I/O.
//!
//! A complaint is one [`Complaint`] aggregate. Staff act on it through
//! [`ComplaintCommand`]s; the aggregate checks the procedure's rules and answers with
//! [`ComplaintEvent`]s or a [`ComplaintError`] naming the broken rule. Deadlines are a pure
//! function of the aggregate's state, the [`Calendar`] and a date.
//!
//! # Layout
//!
//! - [`calendar`]: UK divisions, bank-holiday rules and one-offs, working-day arithmetic.
//! - [`procedure`]: complaint procedures as data (built in and loaded from files).
//! - [`values`]: the value types commands and events share (actor, channel, remedy…).
//! - [`command`]: what staff ask for.
//! - [`event`]: what happened, one versioned enum.
//! - [`error`]: one variant per business rule, each with a stable code.
//! - [`aggregate`]: the rules (`handle`) and the state they read (`apply`).
//! - [`resident`]: the [`Resident`] aggregate: disclosed needs and agreed adjustments.
//! - [`alert`]: SLA alerts the service raises and resolves on its own.
//! - [`automation`]: the automatic actions a procedure asks for, and their actors.
//! - [`deadline`]: due dates and SLA states of each live step and the promised next update.

pub mod aggregate;
pub mod alert;
pub mod automation;
pub mod calendar;
pub mod command;
pub mod deadline;
pub mod error;
pub mod event;
pub mod procedure;
pub mod resident;
pub mod values;

pub use aggregate::{Clock, Complaint, ComplaintServices, Status, SystemClock};
pub use alert::{watchdog_actor, AlertResolution, AlertState, WATCHDOG_ACTOR_ID};
pub use automation::{is_system_actor, AutoRule};
pub use calendar::{Calendar, Division, HolidayList};
pub use command::{Action, ComplaintCommand};
pub use deadline::{deadlines, unmet_state, Commitment, Deadline, DeadlineState, DeadlineStep};
pub use error::ComplaintError;
pub use event::ComplaintEvent;
pub use procedure::{Procedure, ProcedureRegistry, Scheme, Step};
pub use resident::{Resident, ResidentCommand, ResidentEvent, ResidentServices};
pub use values::Actor;

/// The UK civil date of an instant: deadlines count in the days residents live by.
pub fn uk_date(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    at.with_timezone(&chrono_tz::Europe::London).date_naive()
}
