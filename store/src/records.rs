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
        let sql = "SELECT last_hash, body FROM case_records WHERE id = $1";
        let stored = on_pool!(self, |pool| {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            row.map(|row| -> Result<(String, String), sqlx::Error> {
                Ok((row.try_get("last_hash")?, row.try_get("body")?))
            })
            .transpose()?
        });
        if let Some((last_hash, body)) = stored {
            if let Ok(record) = serde_json::from_str::<CaseRecord>(&body) {
                if record.format == CaseRecord::FORMAT && record.view.id == id {
                    return Ok(Some(LoadedCase {
                        record,
                        last_hash,
                        refolded_items: None,
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

    /// The entries of a case's unbounded lists, in the order they were recorded.
    pub async fn case_items(&self, id: &str) -> Result<Vec<CaseItem>, LoadError> {
        let sql = "SELECT body FROM case_items WHERE case_id = $1 ORDER BY sequence";
        let bodies = on_pool!(self, |pool| sqlx::query_scalar::<_, String>(sql)
            .bind(id)
            .fetch_all(pool)
            .await)?;
        bodies
            .iter()
            .map(|body| {
                serde_json::from_str(body).map_err(|e| LoadError::Corrupt {
                    id: id.to_string(),
                    sequence: 0,
                    message: format!("list entry: {e}"),
                })
            })
            .collect()
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
            None => self.case_items(id).await?,
        };
        Ok(Some(loaded.record.view(calendar, today, items)))
    }
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
    }))
}
