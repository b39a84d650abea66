//! The case fold and list entries: what a command starts from and a view is served from.
//! Both are written in the transaction of the events they fold, so they are never behind.

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
    /// The stored list entries, `(list, body)` in the order they were recorded, read in the
    /// same statement as the fold (so the two agree); empty when refolded.
    pub item_rows: Vec<(String, String)>,
}

impl LoadedCase {
    pub fn version(&self) -> u64 {
        self.record.version()
    }
}

impl Store {
    /// The case's stored fold, or one folded from its events when none is usable; `None`
    /// when no complaint was logged under the id. Reads only.
    pub async fn load_case(&self, id: &str) -> Result<Option<LoadedCase>, LoadError> {
        self.load_case_with(id, true).await
    }

    /// As [`Store::load_case`]; without the stored list entries unless `lists`, so that a
    /// command whose answer leaves them out costs the same on a case of a thousand entries
    /// as on one of none.
    pub async fn load_case_with(
        &self,
        id: &str,
        lists: bool,
    ) -> Result<Option<LoadedCase>, LoadError> {
        // The fold and its list entries in one statement: one round trip, one snapshot.
        let sql = match (self, lists) {
            (Store::Postgres(_), true) => LOAD_POSTGRES,
            (Store::Postgres(_), false) => LOAD_POSTGRES_FOLD,
            (Store::Sqlite(_), true) => LOAD_SQLITE,
            (Store::Sqlite(_), false) => LOAD_SQLITE_FOLD,
        };
        let stored = on_pool!(self, |pool| {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            row.map(
                |row| -> Result<(String, String, Option<String>), sqlx::Error> {
                    Ok((
                        row.try_get("last_hash")?,
                        row.try_get("body")?,
                        row.try_get("items")?,
                    ))
                },
            )
            .transpose()?
        });
        if let Some((last_hash, body, items)) = stored {
            if let Ok(record) = serde_json::from_str::<CaseRecord>(&body) {
                if record.format == CaseRecord::FORMAT && record.view.id == id {
                    return Ok(Some(LoadedCase {
                        record,
                        last_hash,
                        refolded_items: None,
                        item_rows: split_items(id, items)?,
                    }));
                }
            }
        }
        self.fold_case(id).await
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
    ) -> Result<Option<CaseView>, LoadError> {
        let Some(loaded) = self.load_case(id).await? else {
            return Ok(None);
        };
        let items = match loaded.refolded_items {
            Some(items) => items.into_iter().map(|(_, item)| item).collect(),
            None => entries_from_rows(id, &loaded.item_rows)?,
        };
        Ok(Some(loaded.record.view(calendar, today, items)))
    }
}

// Every command on a case reads all its entries, so they come back as one value rather
// than a row each: row by row, a case of 1,000 notes cost SQLite's driver several times the
// rest of the command. Entries are joined with ASCII record and unit separators, which JSON
// text never holds raw, so the split is exact.
const LOAD_POSTGRES: &str = "SELECT last_hash, body, \
     (SELECT string_agg(list || chr(31) || body, chr(30) ORDER BY sequence) \
      FROM case_items WHERE case_id = $1) AS items \
     FROM case_records WHERE id = $1";
const LOAD_SQLITE: &str = "SELECT last_hash, body, \
     (SELECT group_concat(list || char(31) || body, char(30) ORDER BY sequence) \
      FROM case_items WHERE case_id = ?1) AS items \
     FROM case_records WHERE id = ?1";

const LOAD_POSTGRES_FOLD: &str =
    "SELECT last_hash, body, NULL::text AS items FROM case_records WHERE id = $1";
const LOAD_SQLITE_FOLD: &str =
    "SELECT last_hash, body, NULL AS items FROM case_records WHERE id = ?1";

/// List entries joined by the statement above, split into `(list, body)` rows.
fn split_items(id: &str, joined: Option<String>) -> Result<Vec<(String, String)>, LoadError> {
    let Some(joined) = joined else {
        return Ok(Vec::new());
    };
    joined
        .split('\u{1e}')
        .map(|entry| {
            entry
                .split_once('\u{1f}')
                .map(|(list, body)| (list.to_string(), body.to_string()))
                .ok_or_else(|| LoadError::Corrupt {
                    id: id.to_string(),
                    sequence: 0,
                    message: "a list entry without its list name".to_string(),
                })
        })
        .collect()
}

/// List entries decoded from their rows.
fn entries_from_rows(id: &str, rows: &[(String, String)]) -> Result<Vec<CaseItem>, LoadError> {
    rows.iter()
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
        item_rows: Vec::new(),
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
