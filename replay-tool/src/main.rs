//! `casefile-replay`: the auditor's and operator's view of the event store, read directly.
//!
//! - `history ID`: every event of a case with who, when and through which request.
//! - `view ID [--as-of TIME]`: the case as it stood at a moment (or now), deadlines included.
//! - `verify [--case ID | --all]`: checks hash chains; exits non-zero on any break.
//! - `rebuild`: every read model from the events, from scratch (writes).
//! - `stats`: cases and events, by status and procedure.
//!
//! It opens the same store the service uses (`CASEFILE_DATABASE_URL`) without migrating
//! it, refuses a schema this build does not know, and writes only when `rebuild` is asked.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use casefile_domain::{uk_date, Calendar};
use casefile_projections::{CaseView, History};
use casefile_store::{Access, Store};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Parser)]
#[command(
    name = "casefile-replay",
    version,
    about = "Replay, verify and rebuild Casefile's event store"
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
    /// Check hash chains: every event as written, none missing, added or moved. Exits 1 on
    /// any break, naming case, sequence and problem.
    Verify {
        /// One case.
        #[arg(long, conflicts_with = "all")]
        case: Option<String>,
        /// Every case (the default).
        #[arg(long)]
        all: bool,
    },
    /// Rebuild every read model from the events, from scratch, in one transaction. Writes.
    Rebuild,
    /// Count cases and events, by status and procedure.
    Stats,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("casefile-replay: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let store = Store::open(&cli.database_url, Access::ReadOnly)
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
            print_json(&History::build(&id, &events))?;
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
            print_json(&view)?;
        }
        Command::Verify { case, all: _ } => return verify(&store, case).await,
        Command::Rebuild => {
            let total = store.event_count().await.map_err(|e| e.to_string())?;
            let bar = progress(total, "events");
            let started = Instant::now();
            let done = store
                .rebuild(&calendar, |p| bar.set_position(p.events))
                .await
                .map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            println!(
                "rebuilt the read models of {} cases from {} events in {:.1} s ({:.0} events/s)",
                done.cases,
                done.events,
                started.elapsed().as_secs_f64(),
                per_second(done.events, started)
            );
        }
        Command::Stats => {
            let stats = store.stats().await.map_err(|e| e.to_string())?;
            println!("cases: {}", stats.cases);
            println!("events: {}", stats.events);
            print_counts("by status", &stats.by_status);
            print_counts("by procedure", &stats.by_procedure);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(store: &Store, case: Option<String>) -> Result<ExitCode, String> {
    let ids = match case {
        Some(id) => vec![id],
        None => store.case_ids().await.map_err(|e| e.to_string())?,
    };
    let total = store.event_count().await.map_err(|e| e.to_string())?;
    let bar = progress(total, "events");
    let started = Instant::now();
    let (mut events, mut broken) = (0_u64, 0_u64);
    for id in &ids {
        let verdict = store
            .verify_case(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no case with id {id}"))?;
        events += verdict.events;
        bar.set_position(events);
        if let Some(b) = verdict.first_break {
            broken += 1;
            let problem = serde_json::to_value(b.problem).map_err(|e| e.to_string())?;
            bar.suspend(|| {
                println!(
                    "BROKEN case {id} at sequence {}: {}",
                    b.sequence,
                    problem.as_str().unwrap_or_default()
                )
            });
        }
    }
    bar.finish_and_clear();
    println!(
        "verified {} cases, {events} events in {:.1} s ({:.0} events/s): {}",
        ids.len(),
        started.elapsed().as_secs_f64(),
        per_second(events, started),
        if broken == 0 {
            "every chain is intact".to_string()
        } else {
            format!("{broken} broken")
        }
    );
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn progress(total: i64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(u64::try_from(total).unwrap_or_default());
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

fn per_second(n: u64, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

fn print_counts(title: &str, counts: &BTreeMap<String, i64>) {
    println!("{title}:");
    for (name, count) in counts {
        println!("  {name}: {count}");
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
