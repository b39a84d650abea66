//! The staff web app in a real browser: headless Chromium driven through chromedriver
//! against the real service on port 0 and a fresh SQLite store. Every page a journey
//! reaches is checked with axe-core (WCAG 2.2 A and AA) and saved as a screenshot under
//! `target/screenshots/`. Needs Debian's `chromium` and `chromium-driver`:
//! `scripts/install-browser.sh` installs them; without them the suite fails saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "browser/case_audit.rs"]
mod case_audit;
#[path = "browser/dashboard.rs"]
mod dashboard;
#[path = "browser/driver.rs"]
mod driver;
#[path = "browser/emails.rs"]
mod emails;
#[path = "browser/journeys.rs"]
mod journeys;
#[path = "browser/letters.rs"]
mod letters;
#[path = "browser/reports.rs"]
mod reports;
#[path = "browser/sessions.rs"]
mod sessions;
#[path = "browser/sign_in.rs"]
mod sign_in;
#[path = "browser/users_api.rs"]
mod users_api;
