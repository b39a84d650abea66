//! Configuration: command-line flags, each with an environment variable, over defaults.

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Casefile: complaint case management with deadlines, audit trail and redress.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "casefile",
    version,
    about = "Casefile: complaint case management with deadlines, audit trail and redress."
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CASEFILE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Event store: `sqlite://PATH` (embedded, created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "CASEFILE_DATABASE_URL",
        default_value = "sqlite://./casefile-data/casefile.db"
    )]
    pub database_url: String,

    /// Bearer token of the first administrator; generated and printed once if unset.
    #[arg(long, env = "CASEFILE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// Extra procedure definitions (TOML or JSON files), comma-separated.
    #[arg(long, env = "CASEFILE_PROCEDURES", value_delimiter = ',')]
    pub procedures: Vec<PathBuf>,

    /// Store connections: PostgreSQL's pool (default 16), or SQLite's readers (it has one
    /// writer besides; default twice the cores, from 4 to 16).
    #[arg(long, env = "CASEFILE_DB_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: Option<u32>,

    /// Milliseconds a request waits for a store connection before it is answered `503
    /// unavailable`; while the database is down, no request hangs longer.
    #[arg(long, env = "CASEFILE_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_ms: u64,

    /// A gov.uk `bank-holidays.json` file whose one-off days are added to the calendar.
    #[arg(long, env = "CASEFILE_BANK_HOLIDAYS")]
    pub bank_holidays: Option<PathBuf>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "CASEFILE_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// The UK division of a complaint logged without one: `england-and-wales`, `scotland` or
    /// `northern-ireland`.
    #[arg(long, env = "CASEFILE_DEFAULT_DIVISION", default_value = "england-and-wales", value_parser = parse_division)]
    pub default_division: casefile_domain::Division,

    /// Largest evidence file accepted, in bytes (the evidence upload route only).
    #[arg(long, env = "CASEFILE_EVIDENCE_LIMIT_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub evidence_limit_bytes: usize,

    /// A folder of web page templates that replace the built-in ones of the same name.
    #[arg(long, env = "CASEFILE_WEB_TEMPLATES")]
    pub web_templates: Option<PathBuf>,

    /// A folder of letter templates (`acknowledgement.html`, `stage1_response.txt`, …) that
    /// replace the built-in ones of the same name.
    #[arg(long, env = "CASEFILE_TEMPLATES")]
    pub templates: Option<PathBuf>,

    /// A TOML file with the organisation that letters and bundles speak for: `name`, and
    /// optionally `address` (a list of lines), `email` and `phone`.
    #[arg(long, env = "CASEFILE_ORGANISATION")]
    pub organisation: Option<PathBuf>,

    /// Always mark session cookies `Secure`. Without it they are `Secure` when a proxy sends
    /// `X-Forwarded-Proto: https`.
    #[arg(long, env = "CASEFILE_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Log format.
    #[arg(long, env = "CASEFILE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter, in `RUST_LOG` syntax.
    #[arg(long, env = "CASEFILE_LOG", default_value = "info")]
    pub log: String,

    /// Seconds between the SLA watchdog's scheduled scans; 0 turns it off.
    #[arg(long, env = "CASEFILE_WATCHDOG_INTERVAL_SECS", default_value_t = 60)]
    pub watchdog_interval_secs: u64,

    /// Working days before its due date from which a step is alerted as due soon.
    #[arg(long, env = "CASEFILE_DUE_SOON_DAYS", default_value_t = 2)]
    pub due_soon_days: u32,

    /// SMTP server for email notifications: `smtp://host:port` (plain),
    /// `smtp://host:port?tls=required` (STARTTLS) or `smtps://host:port` (TLS); see
    /// docs/operations.md.
    #[arg(long, env = "CASEFILE_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of notification emails, a mailbox the mail server accepts mail from.
    #[arg(long, env = "CASEFILE_SMTP_FROM", default_value = crate::watchdog::smtp::DEFAULT_FROM)]
    pub smtp_from: String,
}

impl Config {
    /// A configuration for tests: port 0, the given store, a fresh random admin token.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            listen: "127.0.0.1:0".to_string(),
            database_url: database_url.to_string(),
            admin_token: Some(Secret::new(crate::auth::new_token())),
            db_max_connections: None,
            db_acquire_timeout_ms: 5000,
            procedures: Vec::new(),
            bank_holidays: None,
            body_limit_bytes: 1024 * 1024,
            default_division: casefile_domain::Division::EnglandAndWales,
            evidence_limit_bytes: 25 * 1024 * 1024,
            web_templates: None,
            templates: None,
            organisation: None,
            secure_cookies: false,
            log_format: LogFormat::Text,
            log: "warn".to_string(),
            // Off, so suites that count a case's events see only their own; the watchdog's
            // suites turn it on.
            watchdog_interval_secs: 0,
            due_soon_days: 2,
            smtp_url: None,
            smtp_from: crate::watchdog::smtp::DEFAULT_FROM.to_string(),
        }
    }

    /// The store's pools as configured. SQLite's readers run in the service's process, each
    /// on a thread of its own with its own page cache and statements: more than the cores
    /// can run at once only hold memory (in the service bench on 2 cores, sixteen readers
    /// peaked at 113–132 MiB and four at 59–63 MiB, with the same throughput).
    pub fn pool_settings(&self) -> casefile_store::PoolSettings {
        let sqlite = self.database_url.starts_with("sqlite:");
        let default = if sqlite {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            u32::try_from(cores * 2).unwrap_or(16).clamp(4, 16)
        } else {
            16
        };
        casefile_store::PoolSettings {
            max_connections: self.db_max_connections.unwrap_or(default),
            acquire_timeout: std::time::Duration::from_millis(self.db_acquire_timeout_ms),
        }
    }
}

fn parse_division(text: &str) -> Result<casefile_domain::Division, String> {
    casefile_domain::Division::ALL
        .into_iter()
        .find(|d| d.as_str() == text)
        .ok_or_else(|| {
            format!(
                "`{text}` is not a division: use england-and-wales, scotland or northern-ireland"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_readers_follow_the_cores_unless_set() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let expected = u32::try_from(cores * 2).unwrap_or(16).clamp(4, 16);
        let mut config = Config::for_tests("sqlite://data/casefile.db");
        assert_eq!(config.pool_settings().max_connections, expected);
        config.database_url = "postgres://postgres@127.0.0.1/casefile".to_string();
        assert_eq!(config.pool_settings().max_connections, 16);
        config.db_max_connections = Some(3);
        assert_eq!(config.pool_settings().max_connections, 3);
        config.database_url = "sqlite://data/casefile.db".to_string();
        assert_eq!(config.pool_settings().max_connections, 3);
    }
}
