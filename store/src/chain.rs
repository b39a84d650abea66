//! The tamper-evident trail: each event's `hash` is SHA-256 over the previous event's hash
//! (its raw 32 bytes; nothing for a case's first event) followed by the event's canonical
//! bytes. The canonical bytes are the RFC 8785 (JCS) form of
//! `{"aggregate_id", "sequence", "event_type", "event_version", "payload", "metadata"}`, so
//! the hash survives `jsonb`'s re-ordering of keys and both backends hash identically.
//!
//! Verification recomputes every link from the stored rows and compares the chain's end with
//! the case's anchor (the version and last hash its fold recorded in the same transaction).

use serde::Serialize;
use serde_json::Value;

use crate::events::{present, CaseText};

mod borrowed;

/// The canonical bytes of one event.
pub fn canonical(
    aggregate_id: &str,
    sequence: u64,
    event_type: &str,
    event_version: &str,
    payload: &Value,
    metadata: &Value,
) -> Vec<u8> {
    // The six keys in RFC 8785 order, written directly: building a `Value` would copy the
    // payload, and `serde_jcs` buffers every key and value of every object it sorts.
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"aggregate_id\":");
    write_string(&mut out, aggregate_id);
    out.extend_from_slice(b",\"event_type\":");
    write_string(&mut out, event_type);
    out.extend_from_slice(b",\"event_version\":");
    write_string(&mut out, event_version);
    out.extend_from_slice(b",\"metadata\":");
    write_canonical(&mut out, metadata);
    out.extend_from_slice(b",\"payload\":");
    write_canonical(&mut out, payload);
    out.extend_from_slice(b",\"sequence\":");
    write_number(&mut out, &serde_json::Number::from(sequence));
    out.push(b'}');
    out
}

/// The RFC 8785 (JCS) form of `value`, byte for byte what `serde_jcs` writes: object keys
/// in UTF-16 code-unit order, strings escaped as ECMAScript's `JSON.stringify` does (which
/// is `serde_json`'s escaping), numbers in ECMAScript's form.
fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(
            out,
            map.iter(),
            |(key, _)| key.as_str(),
            |out, (key, item)| {
                write_string(out, key);
                out.push(b':');
                write_canonical(out, item);
            },
        ),
    }
}

/// An object with its members in RFC 8785 order, each written by `member` (key, colon,
/// value). Of a key given twice, which stored text may hold and a `Value` cannot, the later
/// is kept, as `Value` keeps it.
fn write_object<'k, M: Copy>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = M> + Clone,
    key: impl Fn(M) -> &'k str,
    mut member: impl FnMut(&mut Vec<u8>, M),
) {
    out.push(b'{');
    let mut write = |out: &mut Vec<u8>, index: usize, m: M| {
        if index > 0 {
            out.push(b',');
        }
        member(out, m);
    };
    let in_order = members
        .clone()
        .zip(members.clone().skip(1))
        .all(|(a, b)| utf16_cmp(key(a), key(b)).is_lt());
    if in_order {
        for (index, m) in members.enumerate() {
            write(out, index, m);
        }
    } else {
        let mut sorted: Vec<M> = members.collect();
        // Stable, so of a key given twice the later stays later.
        sorted.sort_by(|a, b| utf16_cmp(key(*a), key(*b)));
        let last_of_each = sorted
            .iter()
            .enumerate()
            .filter(|(i, m)| sorted.get(i + 1).is_none_or(|next| key(*next) != key(**m)))
            .map(|(_, m)| *m);
        for (index, m) in last_of_each.enumerate() {
            write(out, index, m);
        }
    }
    out.push(b'}');
}

/// Keys compared as RFC 8785 sorts them. UTF-8 byte order is the same except between a
/// character above U+FFFF and one in U+E000–U+FFFF, so only keys with such bytes pay for
/// the UTF-16 comparison.
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let plain = |s: &str| s.bytes().all(|byte| byte < 0xEE);
    if plain(a) && plain(b) {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// `serde_json`'s string escaping is JCS's: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other
/// controls as lower-case `\u00xx`, everything else as is.
fn write_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Integers of at most 2^53 in magnitude print as their digits in ECMAScript, as they do
/// here; anything else goes through `serde_jcs`'s ECMAScript number formatting.
fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    const SAFE: u64 = 1 << 53;
    let safe = n.as_u64().is_some_and(|v| v <= SAFE)
        || n.as_i64().is_some_and(|v| v.unsigned_abs() <= SAFE);
    if safe {
        let _ = serde_json::to_writer(&mut *out, n);
    } else {
        out.extend_from_slice(&serde_jcs::to_vec(n).unwrap_or_default());
    }
}

/// The link after `prev_hash` (hex; empty for the first event) for an event's canonical bytes.
pub fn link(prev_hash: &str, canonical: &[u8]) -> String {
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    hasher.update(&hex::decode(prev_hash).unwrap_or_default());
    hasher.update(canonical);
    hex::encode(hasher.finish())
}

/// What is wrong at the first break of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// An event's content no longer matches its hash.
    Altered,
    /// An event the chain or the case's anchor says exists is not there.
    Missing,
    /// An event that the chain never linked is there.
    Inserted,
    /// An event sits at another sequence than the one it was linked at.
    Reordered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Break {
    pub sequence: u64,
    pub problem: Problem,
}

/// One stored event as verification reads it.
#[derive(Debug, Clone)]
pub struct ChainRow {
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// What the case's fold recorded about the end of its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub version: u64,
    pub last_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub valid: bool,
    pub events: u64,
    /// The hash of the last event, hex.
    pub digest: String,
    pub first_break: Option<Break>,
}

impl ChainRow {
    fn content_hash_at(&self, aggregate_id: &str, sequence: u64) -> String {
        let bytes = canonical(
            aggregate_id,
            sequence,
            &self.event_type,
            &self.event_version,
            &self.payload,
            &self.metadata,
        );
        link(self.prev_hash.as_deref().unwrap_or(""), &bytes)
    }

    fn content_ok_at(&self, aggregate_id: &str, sequence: u64) -> bool {
        self.hash.as_deref() == Some(self.content_hash_at(aggregate_id, sequence).as_str())
    }
}

/// Checks a case's rows (in sequence order) against their links and the anchor, and names
/// the first break.
pub fn verify(aggregate_id: &str, rows: &[ChainRow], anchor: Option<&Anchor>) -> Verdict {
    let digest = rows.last().and_then(|r| r.hash.clone()).unwrap_or_default();
    let events = rows.len() as u64;
    let first_break = first_break(aggregate_id, rows, anchor);
    Verdict {
        valid: first_break.is_none(),
        events,
        digest,
        first_break,
    }
}

fn first_break(aggregate_id: &str, rows: &[ChainRow], anchor: Option<&Anchor>) -> Option<Break> {
    let at = |sequence: u64, problem: Problem| Some(Break { sequence, problem });
    let mut previous = "";
    for (index, row) in rows.iter().enumerate() {
        let expected = index as u64 + 1;
        if row.sequence > expected {
            return at(expected, Problem::Missing);
        }
        let content_ok = row.content_ok_at(aggregate_id, row.sequence);
        let linked = row.prev_hash.as_deref() == Some(previous);
        if content_ok && linked {
            previous = row.hash.as_deref().unwrap_or("");
            continue;
        }
        let beyond_anchor = anchor.is_some_and(|a| row.sequence > a.version);
        if content_ok {
            // Its own hash holds but it does not follow the event before it: either it
            // was added after the fact, or the event before it was rewritten.
            return if beyond_anchor {
                at(row.sequence, Problem::Inserted)
            } else {
                at(row.sequence - 1, Problem::Altered)
            };
        }
        // Was it linked at another sequence? Then it was moved.
        let moved = (1..=rows.len() as u64 + 1)
            .filter(|s| *s != row.sequence)
            .any(|s| row.content_ok_at(aggregate_id, s));
        if moved {
            let next_moved_down = rows
                .get(index + 1)
                .is_some_and(|next| next.content_ok_at(aggregate_id, next.sequence - 1));
            // Everything after it shifted by one: something was put in before it.
            return if next_moved_down && row.content_ok_at(aggregate_id, row.sequence - 1) {
                at(row.sequence - 1, Problem::Inserted)
            } else {
                at(row.sequence, Problem::Reordered)
            };
        }
        if beyond_anchor || !linked {
            return at(row.sequence, Problem::Inserted);
        }
        let next_shifted = rows
            .get(index + 1)
            .is_some_and(|next| next.content_ok_at(aggregate_id, next.sequence - 1));
        return if next_shifted {
            at(row.sequence, Problem::Inserted)
        } else {
            at(row.sequence, Problem::Altered)
        };
    }
    let anchor = anchor?;
    if (rows.len() as u64) < anchor.version {
        return at(rows.len() as u64 + 1, Problem::Missing);
    }
    if rows.len() as u64 > anchor.version {
        return at(anchor.version + 1, Problem::Inserted);
    }
    if !anchor.last_hash.is_empty() && previous != anchor.last_hash {
        return at(rows.len() as u64, Problem::Altered);
    }
    None
}

impl crate::Store {
    /// Verifies one case's chain; `None` when the case has no events and no fold.
    pub async fn verify_case(&self, id: &str) -> Result<Option<Verdict>, crate::LoadError> {
        use sqlx::Row;
        let rows = self
            .case_rows_after(id, 0)
            .await?
            .iter()
            .map(crate::events::EventRow::chain_row)
            .collect::<Result<Vec<_>, _>>()?;
        let sql = "SELECT version, last_hash FROM case_records WHERE id = $1";
        let anchor = crate::on_pool!(self, |pool| {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            row.map(|row| -> Result<Anchor, sqlx::Error> {
                let version: i64 = row.try_get("version")?;
                Ok(Anchor {
                    version: u64::try_from(version).unwrap_or_default(),
                    last_hash: row.try_get("last_hash")?,
                })
            })
            .transpose()?
        });
        if rows.is_empty() && anchor.is_none() {
            return Ok(None);
        }
        Ok(Some(verify(id, &rows, anchor.as_ref())))
    }
}

/// Cases read per query when every chain is verified.
const VERIFY_CASES: i64 = 2_000;

/// The fields the whole-store check reads of each event: those the hash covers and the
/// links, in the order [`intact`] takes them.
fn chain_fields(store: &crate::Store) -> [&'static str; 7] {
    match store {
        crate::Store::Postgres(_) => [
            "sequence::text",
            "event_type",
            "event_version",
            "payload::text",
            "metadata::text",
            "coalesce(prev_hash, '-')",
            "coalesce(hash, '-')",
        ],
        crate::Store::Sqlite(_) => [
            "sequence",
            "event_type",
            "event_version",
            "payload",
            "metadata",
            "ifnull(prev_hash, '-')",
            "ifnull(hash, '-')",
        ],
    }
}

impl crate::Store {
    /// Verifies every case's chain, in case id order. The cases are read in pages, each
    /// case as one row, and each page is hashed on two blocking threads while the next one
    /// loads. A case whose chain does not hold from its first event to its anchor is read
    /// again event by event and examined by [`verify`], which names the break. `progress` is
    /// told the events checked so far. A case whose fold exists without any events is
    /// reported missing its first event.
    pub async fn verify_all(
        &self,
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<(String, Verdict)>, crate::LoadError> {
        use sqlx::Row;
        let page_sql = crate::events::case_page_sql(self, &chain_fields(self), VERIFY_CASES);
        let case_sql = format!(
            "SELECT {} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
             ORDER BY sequence",
            crate::events::chain_columns(self)
        );
        let aggregate_type = <casefile_domain::Complaint as cqrs_es::Aggregate>::TYPE;
        let mut verdicts = Vec::new();
        let mut checked = 0_u64;
        // One read transaction: the folds and the events are of one moment, so a command
        // committed meanwhile is seen whole or not at all.
        crate::on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if matches!(self, crate::Store::Postgres(_)) {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(crate::events::PAGES_IN_INDEX_ORDER)
                    .execute(&mut *tx)
                    .await?;
            }
            let rows = sqlx::query("SELECT id, version, last_hash FROM case_records")
                .fetch_all(&mut *tx)
                .await?;
            let anchors = rows
                .iter()
                .map(|row| -> Result<(String, Anchor), sqlx::Error> {
                    let version: i64 = row.try_get("version")?;
                    Ok((
                        row.try_get("id")?,
                        Anchor {
                            version: u64::try_from(version).unwrap_or_default(),
                            last_hash: row.try_get("last_hash")?,
                        },
                    ))
                })
                .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
            drop(rows);
            let anchors = std::sync::Arc::new(anchors);
            let mut after = String::new();
            let mut hashing: Option<tokio::task::JoinHandle<Checked>> = None;
            let mut last_page = false;
            loop {
                // The next page loads while the one before is hashed.
                let page = if last_page {
                    None
                } else {
                    let rows = sqlx::query(&page_sql)
                        .bind(aggregate_type)
                        .bind(&after)
                        .fetch_all(&mut *tx)
                        .await?;
                    let page = rows
                        .iter()
                        .map(CaseText::from_row)
                        .collect::<Result<Vec<_>, sqlx::Error>>()?;
                    last_page = (page.len() as i64) < VERIFY_CASES;
                    if let Some(last) = page.last() {
                        after.clone_from(&last.id);
                    }
                    Some(page)
                };
                if let Some(previous) = hashing.take() {
                    let done = previous.await.map_err(join_error)?;
                    checked += done.events;
                    verdicts.extend(done.verdicts);
                    // The few that need a closer look, read in this transaction too.
                    for id in done.unsure {
                        let rows = sqlx::query(&case_sql)
                            .bind(aggregate_type)
                            .bind(&id)
                            .fetch_all(&mut *tx)
                            .await?;
                        let chain = rows
                            .iter()
                            .map(|row| crate::events::EventRow::from_row(row)?.chain_row())
                            .collect::<Result<Vec<_>, crate::LoadError>>()?;
                        checked += chain.len() as u64;
                        let verdict = verify(&id, &chain, anchors.get(&id));
                        verdicts.push((id, verdict));
                    }
                    progress(checked);
                }
                let Some(page) = page else { break };
                let anchors = anchors.clone();
                hashing = Some(tokio::task::spawn_blocking(move || {
                    check_batch(&page, &anchors)
                }));
            }
            tx.commit().await?;
            let seen: std::collections::HashSet<String> =
                verdicts.iter().map(|(id, _)| id.clone()).collect();
            for (id, anchor) in anchors.iter() {
                if !seen.contains(id) {
                    verdicts.push((id.clone(), verify(id, &[], Some(anchor))));
                }
            }
        });
        verdicts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(verdicts)
    }
}

/// The verdicts of one page of cases, and the cases it could not judge from their text.
struct Checked {
    events: u64,
    verdicts: Vec<(String, Verdict)>,
    unsure: Vec<String>,
}

fn join_error(err: tokio::task::JoinError) -> crate::LoadError {
    crate::LoadError::Corrupt {
        id: String::new(),
        sequence: 0,
        message: format!("verification stopped: {err}"),
    }
}

/// Checks the cases of a page, half of its text on this thread and half on another.
fn check_batch(cases: &[CaseText], anchors: &std::collections::HashMap<String, Anchor>) -> Checked {
    let total: usize = cases.iter().map(|c| c.joined.len()).sum();
    let mut seen = 0;
    let split = cases
        .iter()
        .position(|c| {
            seen += c.joined.len();
            seen >= total / 2
        })
        .map_or(cases.len(), |at| at + 1);
    let (first, second) = cases.split_at(split);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| check_cases(second, anchors));
        let mut mine = check_cases(first, anchors);
        match other.join() {
            Ok(theirs) => {
                mine.events += theirs.events;
                mine.verdicts.extend(theirs.verdicts);
                mine.unsure.extend(theirs.unsure);
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
        mine
    })
}

fn check_cases(cases: &[CaseText], anchors: &std::collections::HashMap<String, Anchor>) -> Checked {
    let mut checked = Checked {
        events: 0,
        verdicts: Vec::with_capacity(cases.len()),
        unsure: Vec::new(),
    };
    for case in cases {
        let verdict = case
            .split::<7>()
            .and_then(|events| intact(&case.id, &events, anchors.get(&case.id)));
        match verdict {
            Some(verdict) => {
                checked.events += verdict.events;
                checked.verdicts.push((case.id.clone(), verdict));
            }
            None => checked.unsure.push(case.id.clone()),
        }
    }
    checked
}

/// The verdict on a case whose chain holds from its first event to its anchor, hashed from
/// the stored texts; `None` for anything else, which [`verify`] then examines to name the
/// break. Agrees with `verify` on every intact chain, as the canonical bytes are the same.
fn intact(aggregate_id: &str, events: &[[&str; 7]], anchor: Option<&Anchor>) -> Option<Verdict> {
    let mut previous = "";
    for (index, [sequence, event_type, event_version, payload, metadata, prev_hash, hash]) in
        events.iter().enumerate()
    {
        let sequence: u64 = sequence.parse().ok()?;
        if sequence != index as u64 + 1 || present(prev_hash) != Some(previous) {
            return None;
        }
        let bytes = borrowed::canonical_text(
            aggregate_id,
            sequence,
            event_type,
            event_version,
            payload,
            metadata,
        )
        .ok()?;
        let hash = present(hash)?;
        if link(previous, &bytes) != hash {
            return None;
        }
        previous = hash;
    }
    if let Some(anchor) = anchor {
        let ends_at_anchor = events.len() as u64 == anchor.version
            && (anchor.last_hash.is_empty() || previous == anchor.last_hash);
        if !ends_at_anchor {
            return None;
        }
    }
    Some(Verdict {
        valid: true,
        events: events.len() as u64,
        digest: previous.to_string(),
        first_break: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::events::{EVENTS_APART, FIELDS_APART};
    use serde_json::json;

    /// The bytes as first defined: `serde_jcs` over the six-key object.
    fn reference(
        aggregate_id: &str,
        sequence: u64,
        event_type: &str,
        event_version: &str,
        payload: &Value,
        metadata: &Value,
    ) -> Vec<u8> {
        serde_jcs::to_vec(&json!({
            "aggregate_id": aggregate_id,
            "sequence": sequence,
            "event_type": event_type,
            "event_version": event_version,
            "payload": payload,
            "metadata": metadata,
        }))
        .unwrap()
    }

    #[test]
    fn canonical_bytes_are_serde_jcs_bytes() {
        let awkward = json!({
            "z": 1, "a": [true, false, null, -0.0, 0.1, 1e21, 1e-7, 123.456, -5, 9007199254740993u64,
                         -9007199254740993i64, 18446744073709551615u64, 2.5e-324],
            "\u{e000}": "private use", "\u{1f600}": "emoji key", "é": "\u{0}\u{1f}\u{7f}\"\\/\n\t\r\u{8}\u{c}",
            "nested": {"b": {"d": [], "c": {}}, "a": "x"}, "": "empty key",
            "Z": "\u{2028}\u{2029}\u{fffd}"
        });
        let metadata = json!({"actor_id": "u1", "request_id": "r\u{0}1"});
        for payload in [
            awkward,
            json!({}),
            json!([]),
            json!("s"),
            json!(7),
            json!(null),
        ] {
            assert_eq!(
                String::from_utf8(canonical(ID, 42, "T\u{1}", "1.0", &payload, &metadata)).unwrap(),
                String::from_utf8(reference(ID, 42, "T\u{1}", "1.0", &payload, &metadata)).unwrap(),
                "{payload}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn canonical_bytes_are_serde_jcs_bytes_for_any_json(value in arbitrary_json()) {
            let metadata = json!({});
            proptest::prop_assert_eq!(
                canonical(ID, 1, "T", "1.0", &value, &metadata),
                reference(ID, 1, "T", "1.0", &value, &metadata)
            );
        }
    }

    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const ID: &str = "0190c6e2-0000-7000-8000-000000000001";

    fn chain(n: u64) -> Vec<ChainRow> {
        let mut rows = Vec::new();
        let mut prev = String::new();
        for sequence in 1..=n {
            let payload =
                json!({"NoteRecorded": {"text": format!("note {sequence}"), "n": sequence}});
            let metadata = json!({"actor_id": "u1", "request_id": format!("r{sequence}")});
            let bytes = canonical(ID, sequence, "NoteRecorded", "1.0", &payload, &metadata);
            let hash = link(&prev, &bytes);
            rows.push(ChainRow {
                sequence,
                event_type: "NoteRecorded".into(),
                event_version: "1.0".into(),
                payload,
                metadata,
                prev_hash: Some(prev.clone()),
                hash: Some(hash.clone()),
            });
            prev = hash;
        }
        rows
    }

    fn anchor(rows: &[ChainRow]) -> Anchor {
        Anchor {
            version: rows.len() as u64,
            last_hash: rows.last().unwrap().hash.clone().unwrap(),
        }
    }

    fn broken_at(rows: &[ChainRow], anchor: &Anchor) -> Option<Break> {
        verify(ID, rows, Some(anchor)).first_break
    }

    #[test]
    fn canonical_bytes_do_not_depend_on_key_order() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": "é", "x": [1, 2]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a": {"x": [1, 2], "y": "é"}, "b": 1}"#).unwrap();
        let m = json!({});
        assert_eq!(
            canonical(ID, 1, "T", "1.0", &a, &m),
            canonical(ID, 1, "T", "1.0", &b, &m)
        );
    }

    #[test]
    fn the_first_link_is_sha256_of_the_canonical_bytes_alone() {
        let bytes = canonical(ID, 1, "T", "1.0", &json!({"a": 1}), &json!({}));
        // `sha2`, not the `ring` that `link` uses: an independent reference.
        let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(link("", &bytes), expected);
    }

    #[test]
    fn a_link_is_sha256_of_the_previous_hash_bytes_then_the_canonical_bytes() {
        let bytes = canonical(
            ID,
            2,
            "T",
            "1.0",
            &json!({"b": [2]}),
            &json!({"actor_id": "u"}),
        );
        let previous = link("", b"first");
        let mut input = hex::decode(&previous).unwrap();
        input.extend_from_slice(&bytes);
        let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&input));
        assert_eq!(link(&previous, &bytes), expected);
    }

    #[test]
    fn a_page_judges_an_intact_case_as_verify_does_and_leaves_the_rest_to_it() {
        let rows = chain(5);
        let a = anchor(&rows);
        let anchors = std::collections::HashMap::from([(ID.to_string(), a.clone())]);
        let checked = check_cases(&[stored(&rows)], &anchors);
        assert_eq!(
            checked.verdicts,
            vec![(ID.to_string(), verify(ID, &rows, Some(&a)))]
        );
        assert_eq!(checked.events, 5);
        assert!(checked.unsure.is_empty());

        // Altered, short of its anchor, unlinked: each goes to the row-by-row check.
        let mut altered = rows.clone();
        altered[1].payload = json!({"NoteRecorded": {"text": "note 9", "n": 2}});
        let mut unlinked = rows.clone();
        unlinked[0].prev_hash = None;
        for case in [altered, rows[..4].to_vec(), unlinked] {
            let checked = check_cases(&[stored(&case)], &anchors);
            assert!(checked.verdicts.is_empty());
            assert_eq!(checked.unsure, vec![ID.to_string()]);
        }
    }

    #[test]
    fn a_field_holding_a_separator_leaves_the_case_to_the_row_by_row_check() {
        let rows = chain(3);
        for separator in [FIELDS_APART, EVENTS_APART] {
            let mut odd = rows.clone();
            odd[1].event_type = format!("Note{separator}Recorded");
            assert!(stored(&odd).split::<7>().is_none(), "{separator:?}");
        }
        // The count the store gave must be met exactly.
        let mut text = stored(&rows);
        text.events = 4;
        assert!(text.split::<7>().is_none());
        assert_eq!(stored(&rows).split::<7>().map(|e| e.len()), Some(3));
    }

    #[test]
    fn an_untouched_chain_is_valid_and_its_digest_is_the_last_hash() {
        let rows = chain(5);
        let verdict = verify(ID, &rows, Some(&anchor(&rows)));
        assert!(verdict.valid);
        assert_eq!(verdict.events, 5);
        assert_eq!(verdict.digest, rows[4].hash.clone().unwrap());
    }

    #[test]
    fn a_changed_payload_is_found_as_altered_at_its_sequence() {
        let mut rows = chain(5);
        let a = anchor(&rows);
        rows[2].payload = json!({"NoteRecorded": {"text": "note 4", "n": 3}});
        assert_eq!(
            broken_at(&rows, &a),
            Some(Break {
                sequence: 3,
                problem: Problem::Altered
            })
        );
    }

    #[test]
    fn a_deleted_event_is_found_as_missing() {
        let mut rows = chain(5);
        let a = anchor(&rows);
        rows.remove(1);
        assert_eq!(
            broken_at(&rows, &a),
            Some(Break {
                sequence: 2,
                problem: Problem::Missing
            })
        );
        let mut rows = chain(5);
        rows.pop();
        assert_eq!(
            broken_at(&rows, &a),
            Some(Break {
                sequence: 5,
                problem: Problem::Missing
            })
        );
    }

    #[test]
    fn two_swapped_sequences_are_found_as_reordered() {
        let mut rows = chain(5);
        let a = anchor(&rows);
        rows[1].sequence = 3;
        rows[2].sequence = 2;
        rows.swap(1, 2);
        assert_eq!(
            broken_at(&rows, &a),
            Some(Break {
                sequence: 2,
                problem: Problem::Reordered
            })
        );
    }

    #[test]
    fn a_forged_event_is_found_as_inserted() {
        // Appended after the end, with whatever hash the forger could think of.
        let rows = chain(4);
        let a = anchor(&rows);
        let mut forged = chain(5);
        forged[4].hash = Some("00".repeat(32));
        assert_eq!(
            broken_at(&forged, &a),
            Some(Break {
                sequence: 5,
                problem: Problem::Inserted
            })
        );
        // Put in the middle, the later events renumbered to make room.
        let mut rows = chain(4);
        let a = anchor(&rows);
        let mut intruder = rows[1].clone();
        intruder.payload = json!({"NoteRecorded": {"text": "forged", "n": 0}});
        intruder.hash = Some("11".repeat(32));
        for row in rows.iter_mut().skip(1) {
            row.sequence += 1;
        }
        rows.insert(1, intruder);
        assert_eq!(
            broken_at(&rows, &a),
            Some(Break {
                sequence: 2,
                problem: Problem::Inserted
            })
        );
    }

    /// The bytes `canonical` gives for what `text` parses to as a `Value`.
    fn via_value(text: &str, metadata: &str) -> Vec<u8> {
        let payload: Value = serde_json::from_str(text).unwrap();
        let metadata: Value = serde_json::from_str(metadata).unwrap();
        canonical(ID, 3, "T", "1.0", &payload, &metadata)
    }

    fn via_text(text: &str, metadata: &str) -> Vec<u8> {
        borrowed::canonical_text(ID, 3, "T", "1.0", text, metadata).unwrap()
    }

    #[test]
    fn canonical_bytes_from_text_are_those_from_the_value() {
        for text in [
            // jsonb's own spacing and key order (shorter keys first).
            r#"{"n": 3, "text": "note 3", "by": {"id": "u1", "name": "Ann"}}"#,
            // Escapes that must be decoded and written again, and ones that must stay.
            r#"{"a": "\u00e9\/\"\\\n\u0001\ud83d\ude00", "\u00e9": 1}"#,
            // A key given twice: the later wins, as in `Value`.
            r#"{"b": 1, "a": 2, "b": {"c": [1, 2.50, -0, 1e21, 1E-7]}, "a": null}"#,
            "  [ true , false , null , \"\" , {} , [] ]  ",
            r#""just a string""#,
            "18446744073709551615",
            "-9007199254740993",
        ] {
            assert_eq!(
                String::from_utf8(via_text(text, r#"{"request_id": "r\u0000"}"#)).unwrap(),
                String::from_utf8(via_value(text, r#"{"request_id": "r\u0000"}"#)).unwrap(),
                "{text}"
            );
        }
        assert!(borrowed::canonical_text(ID, 1, "T", "1.0", r#"{"a": "#, "{}").is_err());
    }

    proptest::proptest! {
        #[test]
        fn canonical_bytes_from_any_text_are_those_from_the_value(value in arbitrary_json()) {
            for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap()] {
                proptest::prop_assert_eq!(via_text(&text, "{}"), via_value(&text, "{}"));
            }
        }
    }

    /// The rows as the whole-store check's page gives a case: one text, its fields apart,
    /// JSON spaced as jsonb spaces it.
    fn stored(rows: &[ChainRow]) -> CaseText {
        let spaced = |v: &Value| v.to_string().replace(':', ": ").replace(',', ", ");
        let events: Vec<String> = rows
            .iter()
            .map(|r| {
                [
                    r.sequence.to_string(),
                    r.event_type.clone(),
                    r.event_version.clone(),
                    spaced(&r.payload),
                    spaced(&r.metadata),
                    r.prev_hash.clone().unwrap_or_else(|| "-".into()),
                    r.hash.clone().unwrap_or_else(|| "-".into()),
                ]
                .join(&FIELDS_APART.to_string())
            })
            .collect();
        CaseText {
            id: ID.to_string(),
            events: rows.len() as u64,
            joined: events.join(&EVENTS_APART.to_string()),
        }
    }

    #[test]
    fn the_quick_check_passes_exactly_the_chains_verify_finds_intact() {
        let rows = chain(5);
        let a = anchor(&rows);
        assert_eq!(
            intact(ID, &stored(&rows).split::<7>().unwrap(), Some(&a)),
            Some(verify(ID, &rows, Some(&a)))
        );
        assert_eq!(
            intact(ID, &stored(&rows).split::<7>().unwrap(), None),
            Some(verify(ID, &rows, None))
        );
        let mut altered = chain(5);
        altered[2].payload = json!({"NoteRecorded": {"text": "note 4", "n": 3}});
        let mut missing = chain(5);
        missing.remove(1);
        let mut reordered = chain(5);
        reordered[1].sequence = 3;
        reordered[2].sequence = 2;
        reordered.swap(1, 2);
        let mut relinked = chain(5);
        relinked[3].prev_hash = Some("22".repeat(32));
        let other_end = Anchor {
            version: 5,
            last_hash: "33".repeat(32),
        };
        for (name, broken, anchor) in [
            ("altered", altered, a.clone()),
            ("missing", missing, a.clone()),
            ("reordered", reordered, a.clone()),
            ("relinked", relinked, a.clone()),
            ("short of its anchor", chain(4), a.clone()),
            ("another last hash", chain(5), other_end),
        ] {
            assert!(!verify(ID, &broken, Some(&anchor)).valid, "{name}");
            assert_eq!(
                intact(ID, &stored(&broken).split::<7>().unwrap(), Some(&anchor)),
                None,
                "{name}"
            );
        }
        // A page promises no order inside a case: a text out of order is read again event
        // by event, never judged broken from its text.
        let mut shuffled = chain(5);
        shuffled.swap(1, 3);
        assert_eq!(
            intact(ID, &stored(&shuffled).split::<7>().unwrap(), Some(&a)),
            None,
            "out of order"
        );
        let mut not_json = stored(&chain(3));
        not_json.joined = not_json.joined.replace("\"note 2\"", "\"note 2");
        let events = not_json.split::<7>().unwrap();
        assert_eq!(intact(ID, &events, None), None, "text that is not JSON");
    }
}
