//! Stored responses for requests sent with an `Idempotency-Key`. A response is stored in
//! the transaction of the write it answers, so a key is either unused or answered: there is
//! no window in which a write committed and its key did not.

use chrono::{Duration, Utc};
use sqlx::Row;

use crate::{on_pool, on_writer, Store};

/// How long a stored response is replayed.
pub const KEEP_FOR_HOURS: i64 = 24;

/// A request that will record its response under a key when it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub user_id: String,
    pub key: String,
    /// SHA-256 of method, path and body: a repeat must be the same request.
    pub request_hash: String,
}

/// A response stored under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

impl Store {
    /// The response stored under a key within the last day, if any. A record older than
    /// that is deleted, so the key can be used again.
    pub async fn stored_response(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>, sqlx::Error> {
        let expired = (Utc::now() - Duration::hours(KEEP_FOR_HOURS)).to_rfc3339();
        let sql = "SELECT request_hash, status, body, created_at FROM idempotency_keys \
                   WHERE user_id = $1 AND key = $2";
        let found = on_pool!(self, |pool| {
            let row = sqlx::query(sql)
                .bind(user_id)
                .bind(key)
                .fetch_optional(pool)
                .await?;
            row.map(|row| -> Result<(StoredResponse, String), sqlx::Error> {
                let status: i64 = row.try_get("status")?;
                let response = StoredResponse {
                    request_hash: row.try_get("request_hash")?,
                    status: u16::try_from(status).unwrap_or(500),
                    body: row.try_get("body")?,
                };
                Ok((response, row.try_get("created_at")?))
            })
            .transpose()?
        });
        match found {
            Some((_, created_at)) if created_at < expired => {
                on_writer!(self, |pool| {
                    sqlx::query(
                    "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < $3"
                )
                .bind(user_id)
                .bind(key)
                .bind(&expired)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                })?;
                Ok(None)
            }
            found => Ok(found.map(|(response, _)| response)),
        }
    }

    /// Stores the response of a write that is not a case command (users, tokens), or of a
    /// rejected request, which wrote nothing else. `false` when the key is answered already.
    pub async fn store_response(
        &self,
        claim: &KeyClaim,
        status: u16,
        body: &str,
    ) -> Result<bool, sqlx::Error> {
        let now = Utc::now();
        let sql =
            "INSERT INTO idempotency_keys (user_id, key, request_hash, status, body, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, key) DO NOTHING";
        let written = on_writer!(self, |pool| sqlx::query(sql)
            .bind(&claim.user_id)
            .bind(&claim.key)
            .bind(&claim.request_hash)
            .bind(i64::from(status))
            .bind(body)
            .bind(now.to_rfc3339())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(written == 1)
    }

    /// Forgets responses older than a day.
    pub async fn purge_expired_keys(&self) -> Result<u64, sqlx::Error> {
        let expired = (Utc::now() - Duration::hours(KEEP_FOR_HOURS)).to_rfc3339();
        on_writer!(self, |pool| sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < $1"
        )
        .bind(&expired)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
    }
}
