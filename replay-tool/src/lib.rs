//! `casefile-replay`: the auditor's and operator's view of the event store, read directly.
//!
//! - `history ID`: every event of a case with who, when and through which request.
//! - `view ID [--as-of TIME]`: the case as it stood at a moment (or now), deadlines included.
//! - `verify [--case ID | --all]`: checks hash chains; exits non-zero on any break.
//! - `export ID --out FILE.zip [--scheme S]`: the ombudsman bundle, the same bytes as the
//!   service's `GET …/bundle`.
//! - `rebuild`: every read model from the events, from scratch (writes).
//! - `stats`: cases, events and evidence, by status and procedure.
//!
//! `history` and `view` print tables for people; `--json` prints JSON for programs.
//!
//! It opens the same store the service uses (`CASEFILE_DATABASE_URL`) without migrating
//! it, refuses a schema this build does not know, and writes only when `rebuild` is asked.
//! The code is a library so that the end-to-end suites can run it as a process of their
//! own; `src/main.rs` is the binary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use casefile_domain::procedure::Scheme;
use casefile_domain::{uk_date, Calendar};
use casefile_projections::{CaseView, History};
use casefile_store::bundle::{load_organisation, BundleOptions};
use casefile_store::evidence::{Attachment, EvidenceProblem};
use casefile_store::{Access, Store};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(
    name = "casefile-replay",
    version,
    about = "Replay, verify, export and rebuild Casefile's event store"
)]
pub struct Cli {
    /// The event store: `sqlite://PATH` or `postgres://…`.
    #[arg(
        long,
        env = "CASEFILE_DATABASE_URL",
        default_value = "sqlite://./casefile-data/casefile.db",
        global = true
    )]
    database_url: String,

    /// A gov.uk `bank-holidays.json` file, as given to the service. Without it, the
    /// calendar the service last started with (recorded in the store), else the built-in one.
    #[arg(long, env = "CASEFILE_BANK_HOLIDAYS", global = true)]
    bank_holidays: Option<PathBuf>,

    /// The organisation file given to the service (TOML: `name`, `address`, `email`,
    /// `phone`); `export` heads the case file with it, as the service's bundle does.
    #[arg(long, env = "CASEFILE_ORGANISATION", global = true)]
    organisation: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every event of a case: sequence, when recorded and when it happened, type,
    /// who (and in which role) and the request.
    History {
        /// The case id.
        id: String,
        /// Print JSON (the API's `GET …/history` body) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the case as it stood at a moment, or now: its facts, deadlines, responses,
    /// evidence and correspondence.
    View {
        /// The case id.
        id: String,
        /// RFC 3339 time, or YYYY-MM-DD for the end of that day in UK time.
        #[arg(long)]
        as_of: Option<String>,
        /// Print JSON (the API's case view) instead of a table.
        #[arg(long)]
        json: bool,
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
    /// Write the case's ombudsman bundle (zip): the same bytes as the service's
    /// `GET /api/v1/complaints/{id}/bundle` for the same case on the same day.
    Export {
        /// The case id.
        id: String,
        /// Where to write the zip; written in full or not at all.
        #[arg(long)]
        out: PathBuf,
        /// The scheme heading the case file: housing-ombudsman, property-redress-scheme or
        /// ombudsman-services (default: the case's procedure's first).
        #[arg(long)]
        scheme: Option<String>,
    },
    /// Rebuild every read model from the events, from scratch, in one transaction. Writes.
    Rebuild,
    /// Count cases, events and stored evidence, by status and procedure.
    Stats,
}

/// Parses the command line and runs it: the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("casefile-replay: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(message) => {
            // One line, whatever the cause said.
            eprintln!("casefile-replay: {}", message.replace('\n', " "));
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
    } else {
        // The service's calendar, so deadlines, exports and rebuilt rows agree with it.
        calendar = store
            .calendar_in_force(Utc::now(), None, &calendar)
            .await
            .map_err(|e| e.to_string())?;
    }
    match cli.command {
        Command::History { id, json } => {
            let events = store.case_events(&id).await.map_err(|e| e.to_string())?;
            if events.is_empty() {
                return Err(format!("no case with id {id}"));
            }
            let history = History::build(&id, &events);
            if json {
                print_json(&history)?;
            } else {
                print!("{}", history_table(&history));
            }
        }
        Command::View { id, as_of, json } => {
            let asked = as_of.is_some();
            let as_of = match as_of {
                Some(text) => parse_moment(&text)?,
                None => Utc::now(),
            };
            let events = store.case_events(&id).await.map_err(|e| e.to_string())?;
            if events.is_empty() {
                return Err(format!("no case with id {id}"));
            }
            // The case as it stood: only what had been recorded by then.
            let known: Vec<_> = events
                .into_iter()
                .filter(|e| e.recorded_at <= as_of)
                .collect();
            // At an earlier moment, the calendar the service had in force then.
            let calendar = if asked {
                let recorded_version = known.first().and_then(|first| match &first.event {
                    casefile_domain::ComplaintEvent::Logged {
                        calendar_version, ..
                    } => Some(calendar_version.as_str()),
                    _ => None,
                });
                store
                    .calendar_in_force(as_of, recorded_version, &calendar)
                    .await
                    .map_err(|e| e.to_string())?
            } else {
                calendar
            };
            let view = CaseView::build(&id, &known, &calendar, uk_date(as_of))
                .ok_or_else(|| format!("case {id} had not been logged at {as_of}"))?;
            if json {
                print_json(&view)?;
            } else {
                print!("{}", view_table(&view, as_of));
            }
        }
        Command::Verify { case, all: _ } => return verify(&store, case).await,
        Command::Export { id, out, scheme } => {
            let scheme = scheme.as_deref().map(parse_scheme).transpose()?;
            let organisation = load_organisation(cli.organisation.as_deref())?;
            export(&store, &calendar, &id, &out, organisation, scheme).await?;
        }
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
            println!(
                "evidence stored: {} files, {} bytes",
                stats.evidence_files, stats.evidence_bytes
            );
            print_counts("by status", &stats.by_status);
            print_counts("by procedure", &stats.by_procedure);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(
    store: &Store,
    calendar: &Calendar,
    id: &str,
    out: &Path,
    organisation: casefile_store::bundle::Organisation,
    scheme: Option<Scheme>,
) -> Result<(), String> {
    let options = BundleOptions {
        organisation,
        scheme,
        today: uk_date(Utc::now()),
    };
    let input = store
        .bundle_input(id, calendar, &options)
        .await
        .map_err(|e| e.to_string())?;
    // Written beside the target and renamed into place, so a failure leaves no half zip.
    let folder = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::NamedTempFile::new_in(&folder)
        .map_err(|e| format!("cannot write in {}: {e}", folder.display()))?;
    let store = store.clone();
    let runtime = tokio::runtime::Handle::current();
    let events = input.chain.events;
    let evidence = input.held_evidence.len();
    let letters = input.letters.len();
    let temp = tokio::task::spawn_blocking(move || {
        store
            .write_bundle_blocking(temp, &input, runtime)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    temp.persist(out)
        .map_err(|e| format!("cannot write {}: {}", out.display(), e.error))?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or_default();
    println!(
        "wrote {} ({bytes} bytes): {events} events, {evidence} evidence files, {letters} letters",
        out.display()
    );
    Ok(())
}

fn parse_scheme(raw: &str) -> Result<Scheme, String> {
    serde_json::from_value(serde_json::Value::String(raw.to_string())).map_err(|_| {
        format!(
            "`{raw}` is not a scheme: use housing-ombudsman, property-redress-scheme or \
             ombudsman-services"
        )
    })
}

async fn verify(store: &Store, case: Option<String>) -> Result<ExitCode, String> {
    let all = case.is_none();
    let total = store.event_count().await.map_err(|e| e.to_string())?;
    let bar = progress(total, "events");
    let started = Instant::now();
    let (verdicts, attachments) = match case {
        Some(id) => {
            let verdict = store
                .verify_case(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no case with id {id}"))?;
            // An event that no longer decodes is a break reported below; the evidence of
            // the events that still decode is checked.
            let attached = store
                .evidence_attachments(Some(&id))
                .await
                .map_err(|e| e.to_string())?;
            (vec![(id, verdict)], attached)
        }
        None => {
            // Every chain in pages, hashed in parallel: a query per case would be the cost.
            let verdicts = store
                .verify_all(|n| bar.set_position(n))
                .await
                .map_err(|e| e.to_string())?;
            let attached = store
                .evidence_attachments(None)
                .await
                .map_err(|e| e.to_string())?;
            (verdicts, attached)
        }
    };
    let (mut events, mut broken, mut files) = (0_u64, 0_u64, 0_u64);
    for (id, verdict) in &verdicts {
        events += verdict.events;
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
    bar.set_position(events);
    // Each stored evidence file must still be what was attached, and each uploaded one
    // still be there.
    let referenced: std::collections::BTreeSet<String> =
        attachments.iter().map(|a| a.sha256.clone()).collect();
    let report = store
        .check_attachments(&attachments)
        .await
        .map_err(|e| e.to_string())?;
    files += report.checked;
    for fault in &report.faults {
        broken += 1;
        let Attachment {
            case_id: id,
            evidence_id,
            sha256,
            size_bytes: size,
            ..
        } = &fault.attachment;
        let line = match &fault.problem {
            EvidenceProblem::Altered {
                found_sha256,
                found_size,
            } => format!(
                "BROKEN case {id} evidence {evidence_id}: content altered \
                 ({found_size} bytes with SHA-256 {found_sha256}, attached as {size} bytes \
                 with {sha256})"
            ),
            EvidenceProblem::Missing => format!(
                "BROKEN case {id} evidence {evidence_id}: content missing (uploaded as \
                 {size} bytes with SHA-256 {sha256}, no longer in the store)"
            ),
        };
        bar.suspend(|| println!("{line}"));
    }
    if all {
        // A file no case refers to any more: its key or content was changed.
        for sha256 in store
            .evidence_blob_hashes()
            .await
            .map_err(|e| e.to_string())?
        {
            if referenced.contains(&sha256) {
                continue;
            }
            if let Some(check) = store
                .check_evidence_blob(&sha256)
                .await
                .map_err(|e| e.to_string())?
            {
                files += 1;
                if !check.intact() {
                    broken += 1;
                    bar.suspend(|| {
                        println!(
                            "BROKEN evidence file {sha256}: content altered ({} bytes with \
                             SHA-256 {})",
                            check.found_size, check.found_sha256
                        )
                    });
                }
            }
        }
    }
    bar.finish_and_clear();
    println!(
        "verified {} cases, {events} events in {:.1} s ({:.0} events/s) and {files} evidence \
         files: {}",
        verdicts.len(),
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

/// A moment in RFC 3339, or a date meaning the last instant of that day in the UK, as the
/// API's `?as_of=` reads it.
fn parse_moment(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let malformed = || format!("`{text}` is neither an RFC 3339 time nor a YYYY-MM-DD date");
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| malformed())?;
    let next = day.succ_opt().ok_or_else(malformed)?;
    // UK clocks change at 01:00 or 02:00, so midnight always exists exactly once.
    let next_midnight = chrono_tz::Europe::London
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .earliest()
        .ok_or_else(malformed)?;
    // Stored times are kept to the microsecond: the day's last one is the end of the day.
    Ok(next_midnight.with_timezone(&Utc) - TimeDelta::microseconds(1))
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// A value's serde name (`open`, `stage1`, `breached`), as the JSON shows it.
fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Columns padded to their widest cell, two spaces apart, the last one left ragged.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn history_table(history: &History) -> String {
    let mut out = format!(
        "case {} ({}), {} events\n\n",
        history.reference,
        history.id,
        history.events.len()
    );
    let rows: Vec<Vec<String>> = history
        .events
        .iter()
        .map(|e| {
            let actor = match &e.actor.role {
                Some(role) => format!("{} ({role})", e.actor.name),
                None => e.actor.name.clone(),
            };
            vec![
                e.sequence.to_string(),
                instant(e.recorded_at),
                instant(e.occurred_at),
                e.event_type.clone(),
                actor,
                e.request_id.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["SEQ", "RECORDED", "OCCURRED", "TYPE", "BY", "REQUEST"],
        &rows,
    ));
    out
}

fn view_table(view: &CaseView, as_of: DateTime<Utc>) -> String {
    let mut out = String::new();
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
    let facts: Vec<Vec<String>> = vec![
        vec!["case".into(), view.id.clone()],
        vec!["reference".into(), view.reference.clone()],
        vec!["as of".into(), instant(as_of)],
        vec!["version".into(), view.version.to_string()],
        vec![
            "procedure".into(),
            format!("{} v{}", view.procedure.id, view.procedure.version),
        ],
        vec!["status".into(), word(&view.status)],
        vec!["stage".into(), word(&view.stage)],
        vec!["complainant".into(), view.complainant.name.clone()],
        vec!["summary".into(), view.summary.clone()],
        vec!["received".into(), view.received_on.to_string()],
        vec!["acknowledged".into(), date(view.acknowledged_on)],
        vec!["escalated".into(), date(view.escalated_on)],
        vec![
            "owner".into(),
            view.owner
                .as_ref()
                .map(|o| o.name.clone())
                .unwrap_or_else(|| "-".into()),
        ],
    ];
    out.push_str(&table(&["FIELD", "VALUE"], &facts));

    let deadlines: Vec<Vec<String>> = view
        .deadlines
        .iter()
        .map(|(step, d)| {
            vec![
                step.clone(),
                d.due.to_string(),
                word(&d.state),
                date(d.met_on),
                d.extended_by.to_string(),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table(
        &["DEADLINE", "DUE", "STATE", "MET ON", "EXTENDED BY"],
        &deadlines,
    ));

    for (stage, response) in [
        ("stage 1", &view.stage1_response),
        ("stage 2", &view.stage2_response),
    ] {
        if let Some(r) = response {
            let _ = writeln!(
                out,
                "\n{stage} response on {} by {}: {}",
                r.on,
                r.by.name,
                word(&r.response.outcome)
            );
        }
    }

    if !view.evidence.is_empty() {
        let rows: Vec<Vec<String>> = view
            .evidence
            .iter()
            .map(|e| {
                vec![
                    e.evidence_id.clone(),
                    e.size_bytes.to_string(),
                    e.sha256.clone(),
                    e.name.clone(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&table(&["EVIDENCE", "BYTES", "SHA-256", "NAME"], &rows));
    }
    if !view.correspondence.is_empty() {
        let rows: Vec<Vec<String>> = view
            .correspondence
            .iter()
            .map(|c| {
                vec![
                    instant(c.at),
                    word(&c.direction),
                    word(&c.channel),
                    c.letter
                        .as_ref()
                        .map(|l| format!("{} {}", l.kind, l.letter_id))
                        .unwrap_or_else(|| "-".into()),
                    c.text.clone(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&table(
            &["CORRESPONDENCE", "DIRECTION", "CHANNEL", "LETTER", "TEXT"],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_date_means_the_end_of_that_day_in_uk_time() {
        // 1 July is in British Summer Time: the day ends at 23:00 UTC.
        assert_eq!(
            parse_moment("2025-07-01").unwrap().to_rfc3339(),
            "2025-07-01T22:59:59.999999+00:00"
        );
        assert_eq!(
            parse_moment("2025-01-15").unwrap().to_rfc3339(),
            "2025-01-15T23:59:59.999999+00:00"
        );
        assert!(parse_moment("yesterday").is_err());
    }

    #[test]
    fn a_table_pads_every_column_but_the_last() {
        let rows = vec![vec!["1".to_string(), "Logged".to_string()]];
        assert_eq!(table(&["SEQ", "TYPE"], &rows), "SEQ  TYPE\n1    Logged\n");
    }
}
