//! `casefile-replay`: the auditor's and operator's view of the event store, read directly.
//!
//! - `history ID`: every event of a case with who, when and through which request.
//! - `view ID [--as-of TIME]`: the case as it stood at a moment (or now), deadlines included.
//! - `rebuild`: rebuilds the work-queue projection from the events.
//!
//! It opens the same store the service uses (`CASEFILE_DATABASE_URL`) and writes nothing
//! but the projection `rebuild` is asked to rebuild.

use std::process::ExitCode;

use casefile_api::store::Store;
use casefile_domain::{uk_date, Calendar};
use casefile_projections::{CaseView, History};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "casefile-replay",
    version,
    about = "Replay Casefile's event store"
)]
struct Cli {
    /// The event store: `sqlite://PATH` or `postgres://…`.
    #[arg(
        long,
        env = "CASEFILE_DATABASE_URL",
        default_value = "sqlite://./casefile-data/casefile.db"
    )]
    database_url: String,

    /// A gov.uk `bank-holidays.json` file, as given to the service.
    #[arg(long, env = "CASEFILE_BANK_HOLIDAYS")]
    bank_holidays: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every event of a case as JSON.
    History { id: String },
    /// Print the case as it stood at a moment (RFC 3339 time or YYYY-MM-DD, end of day).
    View {
        id: String,
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Rebuild the work-queue projection of every case from its events (and drop the stored
    /// case folds, which refold on their next read).
    Rebuild,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("casefile-replay: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let store = Store::open(&cli.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let mut calendar = Calendar::builtin();
    if let Some(path) = &cli.bank_holidays {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        calendar = calendar
            .with_govuk_json(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    match cli.command {
        Command::History { id } => {
            let events = store.case_events(&id).await.map_err(|e| e.to_string())?;
            if events.is_empty() {
                return Err(format!("no case with id {id}"));
            }
            print_json(&History::build(&id, &events))
        }
        Command::View { id, as_of } => {
            let as_of = match as_of {
                Some(text) => parse_moment(&text)?,
                None => Utc::now(),
            };
            let events = store.case_events(&id).await.map_err(|e| e.to_string())?;
            // The case as it stood: only what had been recorded by then.
            let known: Vec<_> = events
                .into_iter()
                .filter(|e| e.recorded_at <= as_of)
                .collect();
            let view = CaseView::build(&id, &known, &calendar, uk_date(as_of))
                .ok_or_else(|| format!("no case with id {id} as of {as_of}"))?;
            print_json(&view)
        }
        Command::Rebuild => {
            // Stored folds are refolded from the events on each case's next read.
            let cleared = store
                .clear_case_records()
                .await
                .map_err(|e| e.to_string())?;
            let ids = store.case_ids().await.map_err(|e| e.to_string())?;
            let today = uk_date(Utc::now());
            for id in &ids {
                let events = store.case_events(id).await.map_err(|e| e.to_string())?;
                if let Some(view) = CaseView::build(id, &events, &calendar, today) {
                    store
                        .upsert_summary(&view.summary())
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            println!(
                "rebuilt {} case summaries; cleared {cleared} stored case folds",
                ids.len()
            );
            Ok(())
        }
    }
}

fn parse_moment(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|day| {
            day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))
                .and_utc()
        })
        .map_err(|_| format!("`{text}` is neither an RFC 3339 time nor a YYYY-MM-DD date"))
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}
