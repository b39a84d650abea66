//! Fuzzing on stable Rust, with proptest: whatever bytes arrive as a command body, a stored
//! event, a procedure file or a gov.uk calendar file, reading them returns a value or an
//! error and never panics; what reads back writes back the same. Inputs are random strings
//! and random mutations of valid documents (a value replaced anywhere in the tree, a key
//! dropped, text truncated), which reach deeper than random bytes alone.
//!
//! Run longer with `PROPTEST_CASES=100000 cargo test -p casefile-domain --test fuzz`.
//! The working-day arithmetic has its own properties in `tests/calendar.rs`.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use casefile_domain::calendar::{Calendar, Division};
use casefile_domain::command::{
    AcknowledgeComplaint, CloseComplaint, ExtendDeadline, LogComplaint, RecordNote, RespondToStage,
};
use casefile_domain::procedure::{builtin_procedures, Procedure};
use casefile_domain::ComplaintEvent;
use chrono::NaiveDate;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// A real gov.uk-format file (see `tests/calendar.rs`).
const GOVUK_FILE: &str = include_str!("fixtures/bank-holidays.json");

/// Valid command bodies, one per shape, as a client sends them (shapes from docs/api.md).
fn command_seeds() -> Vec<Value> {
    vec![
        json!({
            "procedure": "chc-2024",
            "division": "scotland",
            "received_on": "2026-03-02",
            "channel": "email",
            "complainant": {"name": "A Resident", "email": "a@example.org", "resident_id": "R-1"},
            "summary": "Repair not done",
            "occurred_at": "2026-03-02T10:00:00Z"
        }),
        json!({"text": "Told by phone", "occurred_at": "2026-03-03T09:00:00Z"}),
        json!({"kind": "correspondence", "direction": "outbound", "text": "Letter sent"}),
        json!({"working_days": 5, "reason": "Awaiting a contractor's report"}),
        json!({"outcome": "upheld", "decision": "We are sorry", "reasons": "The repair was late",
               "outstanding_actions": ["Fit the boiler"]}),
        json!({"learning": [], "occurred_at": "2026-04-01T12:00:00Z"}),
    ]
}

/// Valid stored events, in the stream's own form.
fn event_seeds() -> Vec<Value> {
    let by = json!({"id": "u-1", "name": "An Officer"});
    vec![
        json!({"Acknowledged": {"occurred_at": "2026-03-03T09:00:00Z", "by": by}}),
        json!({"OwnerAssigned": {"occurred_at": "2026-03-04T09:00:00Z", "by": by,
               "owner": {"id": "u-2", "name": "Another Officer"}}}),
    ]
}

/// How many of the shapes read `text`.
fn shapes_reading(text: &str) -> usize {
    fn reads<T: DeserializeOwned>(text: &str) -> usize {
        usize::from(serde_json::from_str::<T>(text).is_ok())
    }
    reads::<LogComplaint>(text)
        + reads::<AcknowledgeComplaint>(text)
        + reads::<RecordNote>(text)
        + reads::<ExtendDeadline>(text)
        + reads::<RespondToStage>(text)
        + reads::<CloseComplaint>(text)
        + reads::<ComplaintEvent>(text)
}

#[test]
fn every_seed_is_a_valid_document() {
    // The mutations start from valid documents, so that they reach past the first field.
    for seed in command_seeds().iter().chain(&event_seeds()) {
        assert!(
            shapes_reading(&seed.to_string()) >= 1,
            "{seed} reads as nothing"
        );
    }
    for procedure in builtin_procedures() {
        let text = serde_json::to_string(&procedure).expect("writes");
        assert_eq!(
            Procedure::parse("seed.json", &text).expect("reads back"),
            procedure
        );
    }
    assert!(Calendar::builtin().with_govuk_json(GOVUK_FILE).is_ok());
}

/// Reads `text` as `T`; if it reads, writing it and reading that again gives the same value.
fn reads_without_panic<T>(text: &str) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = serde_json::from_str::<T>(text) {
        let written = serde_json::to_string(&value).expect("a read value writes");
        let again: T = serde_json::from_str(&written).expect("what was written reads back");
        prop_assert_eq!(again, value);
    }
    Ok(())
}

/// Every command body shape and the stored event type, fed the same text.
fn read_every_shape(text: &str) -> Result<(), TestCaseError> {
    reads_without_panic::<LogComplaint>(text)?;
    reads_without_panic::<AcknowledgeComplaint>(text)?;
    reads_without_panic::<RecordNote>(text)?;
    reads_without_panic::<ExtendDeadline>(text)?;
    reads_without_panic::<RespondToStage>(text)?;
    reads_without_panic::<CloseComplaint>(text)?;
    reads_without_panic::<ComplaintEvent>(text)?;
    Ok(())
}

/// A JSON value of any shape, including numbers and strings that stress parsers.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(u64::MAX)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("2026-02-30"),
            Just("2026-03-02T25:00:00Z"),
            Just("9999-12-31"),
            Just("-0001-01-01"),
            Just("stage1"),
            Just("england-and-wales"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One change to a document: the `at`-th node (in depth-first order, modulo the node count)
/// replaced by `with`, or removed from its parent when `remove` is set.
#[derive(Debug, Clone)]
struct Mutation {
    at: usize,
    with: Value,
    remove: bool,
}

fn any_mutation() -> impl Strategy<Value = Mutation> {
    (any::<usize>(), any_json(), any::<bool>()).prop_map(|(at, with, remove)| Mutation {
        at,
        with,
        remove,
    })
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Applies the mutation at depth-first index `*at`; returns true once applied.
fn apply(value: &mut Value, at: &mut usize, m: &Mutation) -> bool {
    if *at == 0 {
        *value = m.with.clone();
        return true;
    }
    *at -= 1;
    match value {
        Value::Array(items) => {
            for i in 0..items.len() {
                if *at == 0 && m.remove {
                    items.remove(i);
                    return true;
                }
                if apply(&mut items[i], at, m) {
                    return true;
                }
            }
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if *at == 0 && m.remove {
                    map.remove(&key);
                    return true;
                }
                if let Some(child) = map.get_mut(&key) {
                    if apply(child, at, m) {
                        return true;
                    }
                }
            }
        }
        _ => {}
    }
    false
}

fn mutated(seed: &Value, mutations: &[Mutation]) -> Value {
    let mut doc = seed.clone();
    for m in mutations {
        let mut at = m.at % count_nodes(&doc);
        apply(&mut doc, &mut at, m);
    }
    doc
}

/// A procedure as a file holds it, in JSON.
fn procedure_seeds() -> Vec<Value> {
    builtin_procedures()
        .iter()
        .map(|p| serde_json::to_value(p).expect("a procedure writes as JSON"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_text_as_a_command_or_event(text in ".{0,200}") {
        read_every_shape(&text)?;
    }

    #[test]
    fn mutated_commands_and_events(
        seed in 0usize..8,
        mutations in prop::collection::vec(any_mutation(), 1..4),
        cut in any::<usize>(),
    ) {
        let seeds: Vec<Value> = command_seeds().into_iter().chain(event_seeds()).collect();
        let doc = mutated(&seeds[seed % seeds.len()], &mutations);
        let text = doc.to_string();
        read_every_shape(&text)?;
        // A body cut short, as a client that hangs up mid-send leaves it.
        let cut = text.char_indices().map(|(i, _)| i).nth(cut % text.len().max(1)).unwrap_or(0);
        read_every_shape(&text[..cut])?;
    }

    #[test]
    fn mutated_procedure_files(
        seed in 0usize..4,
        mutations in prop::collection::vec(any_mutation(), 1..4),
    ) {
        let seeds = procedure_seeds();
        let doc = mutated(&seeds[seed % seeds.len()], &mutations);
        // A file that reads is also valid: parse runs the same checks the service does.
        if let Ok(procedure) = Procedure::parse("fuzz.json", &doc.to_string()) {
            prop_assert!(procedure.validate("fuzz.json").is_ok());
        }
        let _ = Procedure::parse("fuzz.toml", &doc.to_string());
    }

    #[test]
    fn any_text_as_a_procedure_file(text in ".{0,300}") {
        let _ = Procedure::parse("fuzz.toml", &text);
        let _ = Procedure::parse("fuzz.json", &text);
    }

    #[test]
    fn mutated_govuk_calendar_files(mutations in prop::collection::vec(any_mutation(), 1..4)) {
        let seed: Value = serde_json::from_str(GOVUK_FILE).expect("fixture JSON");
        let doc = mutated(&seed, &mutations);
        if let Ok(calendar) = Calendar::builtin().with_govuk_json(&doc.to_string()) {
            // A calendar that loads still does working-day arithmetic over any date.
            let start = NaiveDate::from_ymd_opt(2026, 12, 24).expect("a date");
            let due = calendar.add_working_days(Division::Scotland, start, 10);
            prop_assert!(calendar.is_working_day(Division::Scotland, due));
            prop_assert_eq!(calendar.working_days_between(Division::Scotland, start, due), 10);
        }
    }

    #[test]
    fn any_text_as_a_govuk_calendar_file(text in ".{0,300}") {
        let _ = Calendar::builtin().with_govuk_json(&text);
    }

    #[test]
    fn working_days_at_the_ends_of_the_calendar(
        days in 0u32..400,
        year in prop_oneof![Just(1), Just(1900), Just(2100), Just(9000), Just(262_000)],
    ) {
        // Far outside the years any holiday list covers, the arithmetic still answers.
        let calendar = Calendar::builtin();
        let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("a date");
        let due = calendar.add_working_days(Division::EnglandAndWales, start, days);
        prop_assert!(due >= start);
        prop_assert_eq!(
            calendar.working_days_between(Division::EnglandAndWales, start, due),
            days + u32::from(days == 0 && due != start),
        );
    }
}
