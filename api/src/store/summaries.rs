//! The work-queue projection: one row per case with what queues filter on.

use casefile_projections::case_view::CaseSummary;
use sqlx::Row;

use crate::store::{on_pool, Store};

/// Filters of the case list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct SummaryFilter {
    pub status: Option<String>,
    pub stage: Option<String>,
    pub owner_id: Option<String>,
    pub procedure: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// Writes a case's summary unless a newer version is already there, so replaying or
    /// racing writers never move it backwards.
    pub async fn upsert_summary(&self, summary: &CaseSummary) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO case_summaries \
                   (id, reference, version, procedure, division, status, stage, owner_id, received_on, body) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                   ON CONFLICT (id) DO UPDATE SET version = excluded.version, status = excluded.status, \
                   stage = excluded.stage, owner_id = excluded.owner_id, body = excluded.body \
                   WHERE case_summaries.version < excluded.version";
        let body = serde_json::to_string(summary).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let version = i64::try_from(summary.version).unwrap_or(i64::MAX);
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(&summary.id)
            .bind(&summary.reference)
            .bind(version)
            .bind(&summary.procedure)
            .bind(summary.division.as_str())
            .bind(summary.status.to_string())
            .bind(summary.stage_code())
            .bind(summary.owner.as_ref().map(|o| o.id.clone()))
            .bind(summary.received_on.to_string())
            .bind(&body)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// One page of case summaries, newest received first, and the total matching.
    pub async fn list_summaries(
        &self,
        filter: &SummaryFilter,
    ) -> Result<(Vec<serde_json::Value>, i64), sqlx::Error> {
        let condition = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR stage = $2) \
                         AND ($3 IS NULL OR owner_id = $3) AND ($4 IS NULL OR procedure = $4)";
        let page = format!(
            "SELECT body FROM case_summaries WHERE {condition} \
             ORDER BY received_on DESC, reference DESC LIMIT $5 OFFSET $6"
        );
        let count = format!("SELECT COUNT(*) FROM case_summaries WHERE {condition}");
        on_pool!(self, |pool| {
            let rows = sqlx::query(&page)
                .bind(&filter.status)
                .bind(&filter.stage)
                .bind(&filter.owner_id)
                .bind(&filter.procedure)
                .bind(filter.limit)
                .bind(filter.offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count)
                .bind(&filter.status)
                .bind(&filter.stage)
                .bind(&filter.owner_id)
                .bind(&filter.procedure)
                .fetch_one(pool)
                .await?;
            let items = rows
                .iter()
                .map(|row| {
                    let body: String = row.try_get("body")?;
                    serde_json::from_str(&body).map_err(|e| sqlx::Error::Decode(Box::new(e)))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            Ok((items, total))
        })
    }
}
