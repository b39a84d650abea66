//! End-to-end suites: the real service on port 0, over HTTP, against SQLite and PostgreSQL
//! (each test its own database). The expected answers come from `docs/api.md`; deadlines are
//! worked out by hand in comments, never by calling the code under test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "e2e/as_of.rs"]
mod as_of;
#[path = "e2e/auth.rs"]
mod auth;
#[path = "e2e/automation.rs"]
mod automation;
#[path = "e2e/bad_input.rs"]
mod bad_input;
#[path = "e2e/bundle.rs"]
mod bundle;
#[path = "e2e/concurrency.rs"]
mod concurrency;
#[path = "e2e/configuration.rs"]
mod configuration;
#[path = "e2e/deadlines.rs"]
mod deadlines;
#[path = "e2e/duties.rs"]
mod duties;
#[path = "e2e/evidence.rs"]
mod evidence;
#[path = "e2e/idempotency.rs"]
mod idempotency;
#[path = "e2e/intake.rs"]
mod intake;
#[path = "e2e/letters.rs"]
mod letters;
#[path = "e2e/lifecycle.rs"]
mod lifecycle;
#[path = "e2e/listing.rs"]
mod listing;
#[path = "e2e/ops.rs"]
mod ops;
#[path = "e2e/queue.rs"]
mod queue;
#[path = "e2e/reliability.rs"]
mod reliability;
#[path = "e2e/reports.rs"]
mod reports;
#[path = "e2e/residents.rs"]
mod residents;
#[path = "e2e/rules.rs"]
mod rules;
#[path = "e2e/store.rs"]
mod store;
#[path = "e2e/store_faults.rs"]
mod store_faults;
#[path = "e2e/watchdog.rs"]
mod watchdog;
