//! Read models built from complaint events. Each is a pure fold of the recorded events, so
//! it can be rebuilt at any time and gives the same answer as when it was first built.
//!
//! # Layout
//!
//! - [`recorded`]: an event as the store hands it back (sequence, time recorded, metadata).
//! - [`case_view`]: the case as staff see it: stage, owner, deadlines, responses, timeline.
//! - [`history`]: the audit trail of one case, event by event.
//! - [`dashboard`]: the figures every role reads, each with the queue query behind it.
//! - [`reports`]: KPI, Tenant Satisfaction Measures and the Code self-assessment, JSON and CSV.
//! - [`resident_view`]: a resident's disclosed needs and agreed adjustments.

pub mod case_view;
pub mod dashboard;
pub mod history;
pub mod recorded;
pub mod reports;
pub mod resident_view;

pub use case_view::CaseView;
pub use history::{History, HistoryEntry};
pub use recorded::RecordedEvent;
pub use resident_view::ResidentView;
