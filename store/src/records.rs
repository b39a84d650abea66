//! The case fold and list entries: what a command starts from and a view is served from.
//! Both are written in the transaction of the events they fold, so they are never behind.

use std::sync::{Arc, Mutex};

use casefile_domain::Calendar;
use casefile_projections::case_view::{CaseItem, CaseRecord};
use casefile_projections::CaseView;
use chrono::NaiveDate;
use sqlx::Row;

use crate::events::{EventRow, LoadError};
use crate::{on_pool, Store};

/// A case as a command finds it.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    pub record: CaseRecord,
    /// The hash of the case's last event: the next event links to it.
    pub last_hash: String,
    /// Set when no usable fold was stored (a store being rebuilt, or a fold of an older
    /// format) and this one was folded from the events: its list entries, to be written with
    /// the next commit.
    pub refolded_items: Option<Vec<(u64, CaseItem)>>,
    /// The stored list entries, read in the same statement as the fold (so the two agree);
    /// empty when refolded or not asked for.
    pub entries: Entries,
}

impl LoadedCase {
    pub fn version(&self) -> u64 {
        self.record.version()
    }
}

/// A case's stored list entries in the order they were recorded, as one text: each entry
/// its list's name, ASCII unit separator, its JSON, and entries joined by the record
/// separator (JSON text never holds either raw, so the split is exact). Kept whole rather
/// than as a value per entry, because every command answered in full reads all of them and
/// passes them on unchanged; cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries(Arc<str>);

impl Entries {
    /// Entries as the load statement joins them; checks every entry names its list.
    fn from_joined(id: &str, joined: Option<String>) -> Result<Self, LoadError> {
        let Some(joined) = joined.filter(|j| !j.is_empty()) else {
            return Ok(Self::default());
        };
        if joined
            .split('\u{1e}')
            .any(|entry| !entry.contains('\u{1f}'))
        {
            return Err(LoadError::Corrupt {
                id: id.to_string(),
                sequence: 0,
                message: "a list entry without its list name".to_string(),
            });
        }
        Ok(Self(joined.into()))
    }

    /// These entries followed by `more`.
    fn followed_by(&self, more: &Entries) -> Self {
        match (self.0.is_empty(), more.0.is_empty()) {
            (_, true) => self.clone(),
            (true, false) => more.clone(),
            (false, false) => Self(format!("{}\u{1e}{}", self.0, more.0).into()),
        }
    }

    /// `(list, body)` of each entry, in the order recorded.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .split('\u{1e}')
            .filter(|entry| !entry.is_empty())
            .map(|entry| entry.split_once('\u{1f}').unwrap_or(("", entry)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn bytes(&self) -> usize {
        self.0.len()
    }
}

/// The list entries of long cases, kept in memory by the process that serves them, so that
/// a command or a view of a case with a thousand notes reads from the store only the
/// entries added since it last looked: without it, each read of such a case aggregates and
/// sends every entry again (about a millisecond per thousand on PostgreSQL). It can never
/// be stale: a stored entry never changes (the commit only adds, a rebuild writes the same
/// entries again), and each read still takes the case's fold and newer entries from the
/// store in one statement, whichever instance wrote them.
#[derive(Debug)]
pub struct EntryCache {
    cases: Mutex<Cached>,
}

#[derive(Debug)]
struct Cached {
    cases: hashlink::LruCache<String, Kept>,
    bytes: usize,
}

impl EntryCache {
    /// Cases with fewer bytes of entries are read whole each time: it costs little.
    const LEAST: usize = 16 * 1024;
    /// The most the cache holds, least recently used cases leaving first.
    const MOST: usize = 16 * 1024 * 1024;

    pub fn new() -> Self {
        Self {
            cases: Mutex::new(Cached {
                cases: hashlink::LruCache::new_unbounded(),
                bytes: 0,
            }),
        }
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cases.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &str) -> Option<Kept> {
        self.cached().cases.get(id).cloned()
    }

    /// Keeps a case's entries (unless they are short), in place of any kept before: each
    /// use checks them against the store, so the last read is as good as any.
    fn keep(&self, id: &str, kept: Kept) {
        if kept.entries.bytes() < Self::LEAST || kept.entries.bytes() > Self::MOST {
            return;
        }
        let mut cached = self.cached();
        if let Some(old) = cached.cases.get(id) {
            if old.version == kept.version && old.hash == kept.hash {
                return;
            }
            let freed = old.entries.bytes();
            cached.bytes -= freed;
        }
        cached.bytes += kept.entries.bytes();
        cached.cases.insert(id.to_string(), kept);
        while cached.bytes > Self::MOST {
            match cached.cases.remove_lru() {
                Some((_, gone)) => cached.bytes -= gone.entries.bytes(),
                None => break,
            }
        }
    }

    /// How many bytes of entries are kept.
    pub fn bytes(&self) -> usize {
        self.cached().bytes
    }
}

impl Default for EntryCache {
    fn default() -> Self {
        Self::new()
    }
}

/// A usable stored fold, as [`Store::load_stored`] reads it.
struct Stored {
    record: CaseRecord,
    last_hash: String,
    entries: Entries,
    /// The hash of the event at the version whose entries the caller has.
    hash_at_after: Option<String>,
}

/// A case's entries as read with its fold at `version`, whose last event's hash is `hash`.
#[derive(Debug, Clone)]
struct Kept {
    version: u64,
    hash: String,
    entries: Entries,
}

/// Which of a case's list entries a load reads.
#[derive(Debug, Clone, Copy)]
pub enum Lists<'a> {
    /// None: the answer leaves them out (`Prefer: return=minimal`), so a command costs the
    /// same on a case of a thousand entries as on one of none.
    Without,
    /// All of them, from the store.
    All,
    /// All of them, those of a long case kept from earlier reads reused.
    Cached(&'a EntryCache),
}

impl Store {
    /// The case's stored fold and all its list entries, or one folded from its events when
    /// no fold is usable; `None` when no complaint was logged under the id. Reads only.
    pub async fn load_case(&self, id: &str) -> Result<Option<LoadedCase>, LoadError> {
        self.load_case_with(id, Lists::All).await
    }

    /// As [`Store::load_case`], with the list entries `lists` says.
    pub async fn load_case_with(
        &self,
        id: &str,
        lists: Lists<'_>,
    ) -> Result<Option<LoadedCase>, LoadError> {
        let cache = match lists {
            Lists::Cached(cache) => Some(cache),
            _ => None,
        };
        let mut kept = cache.and_then(|cache| cache.get(id));
        let after = kept.as_ref().map_or(0, |k| k.version);
        let mut stored = self.load_stored(id, lists, after).await?;
        if let (Some(k), Some(s)) = (&kept, &stored) {
            // The event the kept entries end at is not in the store as it was when they
            // were read: the store was replaced under this process. Read them all again.
            if s.hash_at_after.as_deref() != Some(k.hash.as_str()) {
                metrics::counter!("casefile_entry_cache_total", "outcome" => "reread").increment(1);
                kept = None;
                stored = self.load_stored(id, lists, 0).await?;
            } else {
                metrics::counter!("casefile_entry_cache_total", "outcome" => "reused").increment(1);
            }
        }
        let Some(stored) = stored else {
            return self.fold_case(id).await;
        };
        let entries = match kept {
            Some(kept) => kept.entries.followed_by(&stored.entries),
            None => stored.entries,
        };
        if let Some(cache) = cache {
            cache.keep(
                id,
                Kept {
                    version: stored.record.version(),
                    hash: stored.last_hash.clone(),
                    entries: entries.clone(),
                },
            );
        }
        Ok(Some(LoadedCase {
            record: stored.record,
            last_hash: stored.last_hash,
            refolded_items: None,
            entries,
        }))
    }

    /// The stored fold, if usable, with the list entries recorded after `after` (none for
    /// [`Lists::Without`]) and the hash of the event at `after`: all in one statement, one
    /// round trip and one snapshot.
    async fn load_stored(
        &self,
        id: &str,
        lists: Lists<'_>,
        after: u64,
    ) -> Result<Option<Stored>, LoadError> {
        let sql = match (self, lists) {
            (Store::Postgres(_), Lists::Without) => LOAD_POSTGRES_FOLD,
            (Store::Postgres(_), _) => LOAD_POSTGRES,
            (Store::Sqlite(_), Lists::Without) => LOAD_SQLITE_FOLD,
            (Store::Sqlite(_), _) => LOAD_SQLITE,
        };
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let row = on_pool!(self, |pool| {
            let row = sqlx::query(sql)
                .bind(id)
                .bind(after)
                .fetch_optional(pool)
                .await?;
            row.map(
                |row| -> Result<(String, String, Option<String>, Option<String>), sqlx::Error> {
                    Ok((
                        row.try_get("last_hash")?,
                        row.try_get("body")?,
                        row.try_get("items")?,
                        row.try_get("hash_at_after")?,
                    ))
                },
            )
            .transpose()?
        });
        let Some((last_hash, body, items, hash_at_after)) = row else {
            return Ok(None);
        };
        match serde_json::from_str::<CaseRecord>(&body) {
            Ok(record) if record.format == CaseRecord::FORMAT && record.view.id == id => {
                Ok(Some(Stored {
                    record,
                    last_hash,
                    entries: Entries::from_joined(id, items)?,
                    hash_at_after,
                }))
            }
            _ => Ok(None),
        }
    }

    /// The case folded from its events, ignoring any stored fold.
    pub async fn fold_case(&self, id: &str) -> Result<Option<LoadedCase>, LoadError> {
        let rows = self.case_rows_after(id, 0).await?;
        fold_rows(id, &rows)
    }

    /// The case as it stands on `today`, or `None` if no complaint was logged under the id.
    pub async fn case_view(
        &self,
        id: &str,
        calendar: &Calendar,
        today: NaiveDate,
        lists: Lists<'_>,
    ) -> Result<Option<CaseView>, LoadError> {
        let Some(loaded) = self.load_case_with(id, lists).await? else {
            return Ok(None);
        };
        let items = match loaded.refolded_items {
            Some(items) => items.into_iter().map(|(_, item)| item).collect(),
            None => entries_from_rows(id, &loaded.entries)?,
        };
        Ok(Some(loaded.record.view(calendar, today, items)))
    }
}

// Every command answered in full reads all of a case's entries, so they come back as one
// value rather than a row each: row by row, a case of 1,000 notes cost SQLite's driver
// several times the rest of the command. `$2` is the version whose entries the caller has
// (0: none); the hash of its event shows they are still the store's.
const LOAD_POSTGRES: &str = "SELECT last_hash, body, \
     (SELECT string_agg(list || chr(31) || body, chr(30) ORDER BY sequence) \
      FROM case_items WHERE case_id = $1 AND sequence > $2) AS items, \
     (SELECT hash FROM events WHERE aggregate_type = 'Complaint' AND aggregate_id = $1 \
      AND sequence = $2) AS hash_at_after \
     FROM case_records WHERE id = $1";
const LOAD_SQLITE: &str = "SELECT last_hash, body, \
     (SELECT group_concat(list || char(31) || body, char(30) ORDER BY sequence) \
      FROM case_items WHERE case_id = ?1 AND sequence > ?2) AS items, \
     (SELECT hash FROM events WHERE aggregate_type = 'Complaint' AND aggregate_id = ?1 \
      AND sequence = ?2) AS hash_at_after \
     FROM case_records WHERE id = ?1";

const LOAD_POSTGRES_FOLD: &str = "SELECT last_hash, body, NULL::text AS items, \
     NULL::text AS hash_at_after FROM case_records WHERE id = $1 AND $2::bigint >= 0";
const LOAD_SQLITE_FOLD: &str = "SELECT last_hash, body, NULL AS items, NULL AS hash_at_after \
     FROM case_records WHERE id = ?1 AND ?2 >= 0";

/// List entries decoded from their stored JSON.
fn entries_from_rows(id: &str, entries: &Entries) -> Result<Vec<CaseItem>, LoadError> {
    entries
        .iter()
        .map(|(list, body)| {
            entry_from_row(list, body).map_err(|e| LoadError::Corrupt {
                id: id.to_string(),
                sequence: 0,
                message: format!("{list} entry: {e}"),
            })
        })
        .collect()
}

/// Folds a case's rows into its record; `None` when there are none.
pub fn fold_rows(id: &str, rows: &[EventRow]) -> Result<Option<LoadedCase>, LoadError> {
    let events = rows
        .iter()
        .map(EventRow::decode)
        .collect::<Result<Vec<_>, _>>()?;
    let Some((record, items)) = CaseRecord::fold(id, &events) else {
        return Ok(None);
    };
    let last_hash = rows.last().and_then(|r| r.hash.clone()).unwrap_or_default();
    Ok(Some(LoadedCase {
        record,
        last_hash,
        refolded_items: Some(items),
        entries: Entries::default(),
    }))
}

/// The list an entry belongs to (the case view's field name) and the entry's JSON.
pub fn entry_row(item: &CaseItem) -> serde_json::Result<(&'static str, String)> {
    Ok(match item {
        CaseItem::Note(n) => ("notes", serde_json::to_string(n)?),
        CaseItem::Correspondence(c) => ("correspondence", serde_json::to_string(c)?),
        CaseItem::Evidence(e) => ("evidence", serde_json::to_string(e)?),
        CaseItem::Link(l) => ("links", serde_json::to_string(l)?),
    })
}

/// An entry read back from its row.
pub fn entry_from_row(list: &str, body: &str) -> serde_json::Result<CaseItem> {
    Ok(match list {
        "notes" => CaseItem::Note(serde_json::from_str(body)?),
        "correspondence" => CaseItem::Correspondence(serde_json::from_str(body)?),
        "evidence" => CaseItem::Evidence(serde_json::from_str(body)?),
        "links" => CaseItem::Link(serde_json::from_str(body)?),
        other => {
            return Err(serde::de::Error::custom(format!("no list `{other}`")));
        }
    })
}

/// The lists of a case view kept as list entries.
pub const LISTS: [&str; 4] = ["notes", "correspondence", "evidence", "links"];

/// The case view as JSON with its list entries put in as stored, without decoding and
/// encoding each again: what makes a command's answer on a case with a thousand notes cost
/// little more than on one with none. `view`'s own lists are ignored; with `entries` `None`
/// the lists are left out (the answer to `Prefer: return=minimal`).
pub fn view_json(view: &CaseView, entries: Option<&[(&str, &str)]>) -> serde_json::Result<String> {
    let serde_json::Value::Object(mut fields) = serde_json::to_value(view)? else {
        return Err(serde::ser::Error::custom("a case view is a JSON object"));
    };
    let mut json = String::with_capacity(
        4096 + entries
            .unwrap_or_default()
            .iter()
            .map(|(_, body)| body.len() + 1)
            .sum::<usize>(),
    );
    json.push('{');
    for list in LISTS {
        fields.remove(list);
    }
    for (key, value) in &fields {
        json.push_str(&serde_json::to_string(key)?);
        json.push(':');
        json.push_str(&serde_json::to_string(value)?);
        json.push(',');
    }
    for list in entries.map_or(&[][..], |_| &LISTS[..]) {
        json.push_str(&serde_json::to_string(list)?);
        json.push_str(":[");
        let mut first = true;
        for (_, body) in entries
            .unwrap_or_default()
            .iter()
            .filter(|(l, _)| l == list)
        {
            if !first {
                json.push(',');
            }
            json.push_str(body);
            first = false;
        }
        json.push_str("],");
    }
    json.pop();
    json.push('}');
    Ok(json)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn joined(entries: &[(&str, &str)]) -> Option<String> {
        Some(
            entries
                .iter()
                .map(|(list, body)| format!("{list}\u{1f}{body}"))
                .collect::<Vec<_>>()
                .join("\u{1e}"),
        )
    }

    #[test]
    fn entries_split_as_joined_and_extend_in_order() {
        let first = [("notes", r#"{"text":"a"}"#), ("links", r#"{"kind":"b"}"#)];
        let more = [("evidence", r#"{"name":"c"}"#)];
        let before = Entries::from_joined("c", joined(&first)).unwrap();
        let after = Entries::from_joined("c", joined(&more)).unwrap();
        assert_eq!(before.iter().collect::<Vec<_>>(), first);
        let all: Vec<_> = first.iter().chain(&more).copied().collect();
        assert_eq!(before.followed_by(&after).iter().collect::<Vec<_>>(), all);
        let none = Entries::from_joined("c", None).unwrap();
        assert!(none.is_empty());
        assert_eq!(none.iter().count(), 0);
        assert_eq!(none.followed_by(&after), after);
        assert_eq!(before.followed_by(&none), before);
    }

    #[test]
    fn an_entry_without_its_list_is_corrupt() {
        let broken = Some("notes\u{1f}{}\u{1e}{}".to_string());
        assert!(matches!(
            Entries::from_joined("c", broken),
            Err(LoadError::Corrupt { .. })
        ));
    }

    #[test]
    fn the_cache_keeps_long_cases_only_and_within_its_budget() {
        let cache = EntryCache::new();
        let kept = |bytes: usize| Kept {
            version: 1,
            hash: "h".to_string(),
            entries: Entries::from_joined("c", Some(format!("notes\u{1f}{}", "x".repeat(bytes))))
                .unwrap(),
        };
        cache.keep("short", kept(100));
        assert!(cache.get("short").is_none());
        for n in 0..40 {
            cache.keep(&format!("case {n}"), kept(EntryCache::MOST / 16));
            assert!(cache.bytes() <= EntryCache::MOST);
        }
        assert!(cache.get("case 39").is_some(), "the latest stays");
        assert!(
            cache.get("case 0").is_none(),
            "the least recently used left"
        );
    }
}
