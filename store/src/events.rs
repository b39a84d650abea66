//! Reads of the event stream: one case's events in sequence order, and the global feed in
//! position order.

use std::collections::HashMap;

use casefile_domain::{Complaint, ComplaintEvent};
use casefile_projections::RecordedEvent;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::chain::ChainRow;
use crate::{on_pool, to_i64, Store};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("event {sequence} of case {id} cannot be read: {message}")]
    Corrupt {
        id: String,
        sequence: i64,
        message: String,
    },
}

/// Run first in a PostgreSQL transaction that reads events in pages in index order (the feed,
/// a verification, a rebuild): the index then gives each page in order. A table that grew by a
/// million rows since its last ANALYZE has no statistics to say so, and the planner, taking
/// `aggregate_type = $1` to match one row in two hundred, read every row after the cursor
/// into a bitmap and sorted them on disk instead: 3.4 s for a page of 20,000 rows at 1.1
/// million events (`EXPLAIN ANALYZE`), against 48 ms by the index once analysed.
pub(crate) const PAGES_IN_INDEX_ORDER: &str = "SET LOCAL enable_sort = off";

/// The columns every read of events selects, `jsonb` and times as text so that both
/// backends decode the same way.
pub(crate) fn columns(store: &Store) -> &'static str {
    match store {
        Store::Postgres(_) => {
            "aggregate_id, sequence, event_type, event_version, payload::text AS payload, \
             metadata::text AS metadata, \
             to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS recorded_at, \
             position, prev_hash, hash"
        }
        Store::Sqlite(_) => {
            "aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, \
             position, prev_hash, hash"
        }
    }
}

/// The columns a chain verification selects: those of [`columns`] that the hash covers and
/// the links, with `recorded_at` empty and no `position`: PostgreSQL need not format a
/// time per row that the hash does not cover.
pub(crate) fn chain_columns(store: &Store) -> &'static str {
    match store {
        Store::Postgres(_) => {
            "aggregate_id, sequence, event_type, event_version, payload::text AS payload, \
             metadata::text AS metadata, '' AS recorded_at, CAST(NULL AS BIGINT) AS position, \
             prev_hash, hash"
        }
        Store::Sqlite(_) => {
            "aggregate_id, sequence, event_type, event_version, payload, metadata, \
             '' AS recorded_at, NULL AS position, prev_hash, hash"
        }
    }
}

/// Between the events of a case, and between the fields of an event, when whole cases are
/// read one row a case (ASCII record and unit separators). Stored JSON cannot hold either
/// unescaped; the other fields are names, numbers, times and hex.
pub(crate) const EVENTS_APART: char = '\u{1e}';
pub(crate) const FIELDS_APART: char = '\u{1f}';

/// A page of whole cases after the case id `$2`, in id order, at most `limit`, one row a case
/// (see [`CaseText`]): `fields` are SQL expressions that give each event's fields as text,
/// never NULL. A row an event cost the driver a channel send, a wake-up and a copy of every
/// field per event: more than the database's own reading, in a rebuild or a verification.
///
/// The events of a case come in the order the primary key's index gives them, which is
/// sequence order, but SQL promises no order inside an aggregate: a rebuild puts them in
/// order ([`CaseText::rows`]), and a verification reads a case whose text is out of order
/// again event by event. Asked for with `ORDER BY sequence` inside the aggregate, SQLite
/// sorted every case's events again through a temporary index, a third of its work.
pub(crate) fn case_page_sql(store: &Store, fields: &[&str], limit: i64) -> String {
    let (concat, events_apart, fields_apart) = match store {
        Store::Postgres(_) => ("string_agg", "chr(30)", "chr(31)"),
        Store::Sqlite(_) => ("group_concat", "char(30)", "char(31)"),
    };
    format!(
        "SELECT aggregate_id, count(*) AS events, {concat}({}, {events_apart}) AS joined \
         FROM events WHERE aggregate_type = $1 AND aggregate_id > $2 \
         GROUP BY aggregate_id ORDER BY aggregate_id LIMIT {limit}",
        fields.join(&format!(" || {fields_apart} || "))
    )
}

/// The fields of [`columns`], in its order, for [`case_page_sql`]: `-` for NULL.
pub(crate) fn joined_columns(store: &Store) -> [&'static str; 9] {
    match store {
        Store::Postgres(_) => [
            "sequence::text",
            "event_type",
            "event_version",
            "payload::text",
            "metadata::text",
            "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            "coalesce(position::text, '-')",
            "coalesce(prev_hash, '-')",
            "coalesce(hash, '-')",
        ],
        Store::Sqlite(_) => [
            "sequence",
            "event_type",
            "event_version",
            "payload",
            "metadata",
            "recorded_at",
            "ifnull(position, '-')",
            "ifnull(prev_hash, '-')",
            "ifnull(hash, '-')",
        ],
    }
}

/// One case of a [`case_page_sql`] page: its id, how many events it has, and their fields
/// joined.
pub(crate) struct CaseText {
    pub id: String,
    pub events: u64,
    pub joined: String,
}

impl CaseText {
    pub(crate) fn from_row<R: Row>(row: &R) -> Result<Self, sqlx::Error>
    where
        for<'a> &'a str: sqlx::ColumnIndex<R>,
        for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    {
        let events: i64 = row.try_get("events")?;
        Ok(Self {
            id: row.try_get("aggregate_id")?,
            events: u64::try_from(events).unwrap_or_default(),
            joined: row.try_get("joined")?,
        })
    }

    /// Its events, each as its `N` fields; `None` unless the text splits into exactly
    /// `events` events of `N` fields. A stored field holding a separator makes more, and
    /// only a read row by row can say what such a case holds.
    pub(crate) fn split<const N: usize>(&self) -> Option<Vec<[&str; N]>> {
        let mut events = Vec::with_capacity(usize::try_from(self.events).ok()?);
        for event in self.joined.split(EVENTS_APART) {
            let mut fields = event.split(FIELDS_APART);
            let mut out = [""; N];
            for slot in &mut out {
                *slot = fields.next()?;
            }
            if fields.next().is_some() {
                return None;
            }
            events.push(out);
        }
        (events.len() as u64 == self.events).then_some(events)
    }

    /// Its events as rows in sequence order, from the fields of [`joined_columns`]; `None`
    /// as for [`Self::split`], or when a number does not parse.
    pub(crate) fn rows(&self) -> Option<Vec<EventRow>> {
        let mut rows = self
            .split::<9>()?
            .into_iter()
            .map(|f| {
                Some(EventRow {
                    aggregate_id: self.id.clone(),
                    sequence: f[0].parse().ok()?,
                    event_type: f[1].to_string(),
                    event_version: f[2].to_string(),
                    payload: f[3].to_string(),
                    metadata: f[4].to_string(),
                    recorded_at: f[5].to_string(),
                    position: match present(f[6]) {
                        Some(position) => Some(position.parse().ok()?),
                        None => None,
                    },
                    prev_hash: present(f[7]).map(str::to_string),
                    hash: present(f[8]).map(str::to_string),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        // Already in order but for a plan that reads the events otherwise (see
        // `case_page_sql`); a sort of sorted rows is one pass.
        rows.sort_by_key(|row| row.sequence);
        Some(rows)
    }
}

/// A nullable field of a joined page: `-` stands for NULL.
pub(crate) fn present(field: &str) -> Option<&str> {
    (field != "-").then_some(field)
}

/// A row of the events table before decoding.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
    pub recorded_at: String,
    pub position: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl EventRow {
    pub(crate) fn from_row<R: Row>(row: &R) -> Result<Self, sqlx::Error>
    where
        for<'a> &'a str: sqlx::ColumnIndex<R>,
        for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: row.try_get("payload")?,
            metadata: row.try_get("metadata")?,
            recorded_at: row.try_get("recorded_at")?,
            position: row.try_get("position")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }

    fn corrupt(&self, message: String) -> LoadError {
        LoadError::Corrupt {
            id: self.aggregate_id.clone(),
            sequence: self.sequence,
            message,
        }
    }

    pub fn recorded_at(&self) -> Result<DateTime<Utc>, LoadError> {
        DateTime::parse_from_rfc3339(&self.recorded_at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| self.corrupt(format!("recorded_at: {e}")))
    }

    /// The event as the read models fold it.
    pub fn decode(&self) -> Result<RecordedEvent, LoadError> {
        let event: ComplaintEvent =
            serde_json::from_str(&self.payload).map_err(|e| self.corrupt(e.to_string()))?;
        let Metadata(metadata) =
            serde_json::from_str(&self.metadata).map_err(|e| self.corrupt(e.to_string()))?;
        Ok(RecordedEvent {
            aggregate_id: self.aggregate_id.clone(),
            sequence: u64::try_from(self.sequence).unwrap_or_default(),
            event_version: self.event_version.clone(),
            recorded_at: self.recorded_at()?,
            event,
            metadata,
        })
    }

    /// The row as chain verification reads it: JSON parsed, nothing else interpreted.
    pub fn chain_row(&self) -> Result<ChainRow, LoadError> {
        let parse = |text: &str, what: &str| {
            serde_json::from_str::<Value>(text).map_err(|e| self.corrupt(format!("{what}: {e}")))
        };
        Ok(ChainRow {
            sequence: u64::try_from(self.sequence).unwrap_or_default(),
            event_type: self.event_type.clone(),
            event_version: self.event_version.clone(),
            payload: parse(&self.payload, "payload")?,
            metadata: parse(&self.metadata, "metadata")?,
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        })
    }

    /// The row as the global feed serves it.
    pub fn stored(&self) -> Result<StoredEvent, LoadError> {
        let row = self.chain_row()?;
        Ok(StoredEvent {
            position: self.position.unwrap_or_default(),
            case_id: self.aggregate_id.clone(),
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            metadata: row.metadata,
            recorded_at: self.recorded_at()?,
            hash: row.hash.unwrap_or_default(),
        })
    }
}

/// An event's metadata as the read models take it: each string value as it is, any other
/// value as its JSON text, and no fields at all if the metadata is not an object. Read in
/// one pass rather than through a `serde_json::Value` tree and a second map: that tree was
/// over a third of decoding an event in a rebuild.
struct Metadata(HashMap<String, String>);

impl<'de> serde::Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> serde::de::Visitor<'de> for MetadataVisitor {
    type Value = Metadata;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON metadata")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
        let mut fields = HashMap::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((key, MetaValue(value))) = map.next_entry::<String, MetaValue>()? {
            fields.insert(key, value);
        }
        Ok(Metadata(fields))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Metadata, A::Error> {
        // Each element read as the tree read it, so what it refused (a number out of range,
        // a lone surrogate) is refused still.
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Metadata(HashMap::new()))
    }

    fn visit_unit<E>(self) -> Result<Metadata, E> {
        Ok(Metadata(HashMap::new()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Metadata, E> {
        Ok(Metadata(HashMap::new()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Metadata, E> {
        Ok(Metadata(HashMap::new()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Metadata, E> {
        Ok(Metadata(HashMap::new()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Metadata, E> {
        Ok(Metadata(HashMap::new()))
    }

    fn visit_str<E>(self, _: &str) -> Result<Metadata, E> {
        Ok(Metadata(HashMap::new()))
    }
}

/// One metadata value: a string as it is, anything else as `serde_json::Value` prints it.
struct MetaValue(String);

impl<'de> serde::Deserialize<'de> for MetaValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MetaValueVisitor)
    }
}

struct MetaValueVisitor;

impl<'de> serde::de::Visitor<'de> for MetaValueVisitor {
    type Value = MetaValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<MetaValue, E> {
        Ok(MetaValue(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<MetaValue, E> {
        Ok(MetaValue(v))
    }

    fn visit_unit<E>(self) -> Result<MetaValue, E> {
        Ok(MetaValue(Value::Null.to_string()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<MetaValue, E> {
        Ok(MetaValue(Value::from(v).to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<MetaValue, E> {
        Ok(MetaValue(Value::from(v).to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<MetaValue, E> {
        Ok(MetaValue(Value::from(v).to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<MetaValue, E> {
        Ok(MetaValue(Value::from(v).to_string()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<MetaValue, A::Error> {
        let value: Value =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(MetaValue(value.to_string()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<MetaValue, A::Error> {
        let value: Value =
            serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(MetaValue(value.to_string()))
    }
}

/// One event of the global feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub position: i64,
    pub case_id: String,
    pub sequence: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    pub hash: String,
}

impl Store {
    /// The raw rows of one case after `sequence`, in sequence order.
    pub async fn case_rows_after(
        &self,
        id: &str,
        sequence: u64,
    ) -> Result<Vec<EventRow>, LoadError> {
        let sql = format!(
            "SELECT {} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 \
             ORDER BY sequence",
            columns(self)
        );
        let rows = on_pool!(self, |pool| {
            let rows = sqlx::query(&sql)
                .bind(Complaint::TYPE)
                .bind(id)
                .bind(to_i64(sequence))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(EventRow::from_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// Every event of one case, in order, with the time each was recorded.
    pub async fn case_events(&self, id: &str) -> Result<Vec<RecordedEvent>, LoadError> {
        self.case_events_after(id, 0).await
    }

    /// The events of one case after `sequence`, in order.
    pub async fn case_events_after(
        &self,
        id: &str,
        sequence: u64,
    ) -> Result<Vec<RecordedEvent>, LoadError> {
        self.case_rows_after(id, sequence)
            .await?
            .iter()
            .map(EventRow::decode)
            .collect()
    }

    /// Up to `limit` events after `position`, in position order. Only events that have a
    /// position are served: on PostgreSQL a committed event gets one from the sequencer
    /// moments after its commit, never before an event that committed earlier. Residents'
    /// events (special-category data) are never given a position; the filter says so again.
    pub async fn feed(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, LoadError> {
        let sql = format!(
            "SELECT {} FROM events WHERE position > $1 AND aggregate_type = 'Complaint' \
             ORDER BY position LIMIT $2",
            columns(self)
        );
        let rows = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if matches!(self, Store::Postgres(_)) {
                sqlx::query(PAGES_IN_INDEX_ORDER).execute(&mut *tx).await?;
            }
            let rows = sqlx::query(&sql)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows.iter()
                .map(EventRow::from_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        rows.iter().map(EventRow::stored).collect()
    }

    /// The id of every case in the store, in the order they were first recorded.
    pub async fn case_ids(&self) -> Result<Vec<String>, sqlx::Error> {
        let sql = "SELECT aggregate_id FROM events WHERE aggregate_type = $1 AND sequence = 1 \
                   ORDER BY recorded_at, aggregate_id";
        on_pool!(self, |pool| sqlx::query_scalar::<_, String>(sql)
            .bind(Complaint::TYPE)
            .fetch_all(pool)
            .await)
    }

    /// How many events the store holds.
    pub async fn event_count(&self) -> Result<i64, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM events"
        )
        .fetch_one(pool)
        .await)
    }
}

/// What the store holds, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub cases: i64,
    pub events: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
    pub by_procedure: std::collections::BTreeMap<String, i64>,
    /// Evidence files whose content the store holds (once per SHA-256), and their bytes.
    pub evidence_files: i64,
    pub evidence_bytes: i64,
}

impl Store {
    pub async fn stats(&self) -> Result<Stats, sqlx::Error> {
        let events = self.event_count().await?;
        let grouped = |column: &str| {
            format!(
                "SELECT {column}, COUNT(*) FROM case_summaries GROUP BY {column} ORDER BY {column}"
            )
        };
        let (by_status, by_procedure) = on_pool!(self, |pool| {
            let status: Vec<(String, i64)> =
                sqlx::query_as(&grouped("status")).fetch_all(pool).await?;
            let procedure: Vec<(String, i64)> = sqlx::query_as(&grouped("procedure"))
                .fetch_all(pool)
                .await?;
            (status, procedure)
        });
        let (evidence_files, evidence_bytes): (i64, i64) = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM evidence_blobs",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(Stats {
            cases: by_status.iter().map(|(_, n)| n).sum(),
            events,
            by_status: by_status.into_iter().collect(),
            by_procedure: by_procedure.into_iter().collect(),
            evidence_files,
            evidence_bytes,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The metadata as a `serde_json::Value` tree read it, the way decoding did before
    /// [`Metadata`]: the reference its one pass must agree with.
    fn through_a_tree(text: &str) -> serde_json::Result<HashMap<String, String>> {
        Ok(match serde_json::from_str(text)? {
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect(),
            _ => HashMap::new(),
        })
    }

    #[test]
    fn metadata_reads_as_a_tree_of_json_would() {
        for text in [
            r#"{"actor_id": "admin", "actor_name": "Administrator", "actor_role": "admin", "request_id": "7c2a5f6e-6dc0-446d-ae19-7351c2119e8f", "recorded_at": "2026-11-29T15:07:40.132949022+00:00"}"#,
            r#"{"n": 3, "neg": -7, "big": 18446744073709551615, "f": 1.5, "e": 1e300, "whole": 2.0}"#,
            r#"{"yes": true, "no": false, "none": null}"#,
            r#"{"nested": {"b": [1, "two", {"c": null}], "a": "x"}, "list": []}"#,
            r#"{"escaped": "line\nbreak \"quoted\" \u00e9 \ud83d\ude00 tab\t"}"#,
            r#"{"twice": "first", "twice": "second"}"#,
            "{}",
            "[]",
            r#"[{"a": "b"}, 1]"#,
            r#""text""#,
            "42",
            "-1.25",
            "true",
            "null",
        ] {
            let Metadata(one_pass) = serde_json::from_str(text).unwrap();
            assert_eq!(one_pass, through_a_tree(text).unwrap(), "{text}");
        }
        let too_deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let too_deep_inside = format!(r#"{{"a": {}{}}}"#, "[".repeat(200), "]".repeat(200));
        for broken in [
            "",
            "{",
            r#"{"a": }"#,
            r#"{"a": "b"} trailing"#,
            "[1,]",
            "nul",
            "[1e400]",
            r#"{"a": 1e400}"#,
            r#"["\ud800"]"#,
            r#"{"a": "\ud800"}"#,
            r#"{"\ud800": "a"}"#,
            &too_deep,
            &too_deep_inside,
        ] {
            assert!(
                serde_json::from_str::<Metadata>(broken).is_err(),
                "{broken}"
            );
            assert!(through_a_tree(broken).is_err(), "{broken}");
        }
    }

    fn joined(events: &[[&str; 9]]) -> CaseText {
        CaseText {
            id: "c1".to_string(),
            events: events.len() as u64,
            joined: events
                .iter()
                .map(|fields| fields.join(&FIELDS_APART.to_string()))
                .collect::<Vec<_>>()
                .join(&EVENTS_APART.to_string()),
        }
    }

    const FIRST: [&str; 9] = [
        "1",
        "ComplaintLogged",
        "1.0",
        r#"{"a": 1}"#,
        "{}",
        "2026-11-26T10:00:00.000000Z",
        "-",
        "",
        "ab",
    ];

    #[test]
    fn a_joined_case_gives_back_its_rows() {
        let second = ["2", "NoteRecorded", "1.0", "[]", "{}", "t", "17", "ab", "-"];
        let rows = joined(&[FIRST, second]).rows().unwrap();
        assert_eq!(rows.len(), 2);
        let (a, b) = (&rows[0], &rows[1]);
        assert_eq!((a.aggregate_id.as_str(), a.sequence), ("c1", 1));
        assert_eq!(
            (a.event_type.as_str(), a.payload.as_str()),
            ("ComplaintLogged", r#"{"a": 1}"#)
        );
        assert_eq!(a.recorded_at, "2026-11-26T10:00:00.000000Z");
        assert_eq!(
            (a.position, a.prev_hash.as_deref(), a.hash.as_deref()),
            (None, Some(""), Some("ab"))
        );
        assert_eq!(
            (b.sequence, b.position, b.hash.as_deref()),
            (2, Some(17), None)
        );
    }

    #[test]
    fn a_case_joined_out_of_order_gives_its_rows_in_sequence_order() {
        let second = ["2", "NoteRecorded", "1.0", "[]", "{}", "t", "17", "ab", "-"];
        let third = ["3", "NoteRecorded", "1.0", "[3]", "{}", "t", "18", "-", "-"];
        let rows = joined(&[third, FIRST, second]).rows().unwrap();
        let order: Vec<(i64, &str)> = rows
            .iter()
            .map(|row| (row.sequence, row.payload.as_str()))
            .collect();
        assert_eq!(order, [(1, r#"{"a": 1}"#), (2, "[]"), (3, "[3]")]);
    }

    #[test]
    fn a_case_that_does_not_split_exactly_gives_nothing() {
        let mut odd = FIRST;
        odd[1] = "Complaint\u{1f}Logged";
        assert!(joined(&[odd]).rows().is_none());
        odd[1] = "Complaint\u{1e}Logged";
        assert!(joined(&[odd]).rows().is_none());
        let mut miscounted = joined(&[FIRST]);
        miscounted.events = 2;
        assert!(miscounted.rows().is_none());
        let mut unnumbered = FIRST;
        unnumbered[0] = "one";
        assert!(joined(&[unnumbered]).rows().is_none());
        assert_eq!(joined(&[FIRST]).rows().map(|rows| rows.len()), Some(1));
    }
}
