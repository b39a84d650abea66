//! The Casefile HTTP service: routes, authentication, configuration, telemetry and the
//! CQRS wiring that carries each request to the complaint aggregate and back.
//!
//! Data flows one way: request → command → aggregate → events → store → read model →
//! response.
//!
//! # Layout
//!
//! - [`config`]: flags and environment; [`cli`]: the `casefile` command.
//! - [`startup`]: [`startup::Application`], built from a config, bound, run until stopped.
//! - [`routes`]: the HTTP surface; [`openapi`] documents it.
//! - [`auth`]: bearer tokens and roles; [`idempotency`]: `Idempotency-Key` replays.
//! - [`cases`]: the CQRS framework over the store's unit of work, and the read side of a case.
//! - [`error`], [`extract`]: one JSON error body for everything.
//! - [`metrics`], [`telemetry`]: Prometheus and tracing.
//! - [`web`]: the staff web app at `/`.
//! - [`watchdog`]: SLA alerts raised on their own, and their notifications delivered;
//!   [`in_flight`]: the requests being answered, which its commands give way to.

pub mod auth;
pub mod cases;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod in_flight;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod watchdog;
pub mod web;
