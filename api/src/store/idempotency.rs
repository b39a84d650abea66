//! Stored responses for requests sent with an `Idempotency-Key`.

use chrono::{Duration, Utc};
use sqlx::Row;

use crate::store::{on_pool, Store};

/// What the store knows of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// This request claimed the key and must run.
    Claimed,
    /// The first request is still running.
    Pending { request_hash: String },
    /// The first request finished with this response.
    Done {
        request_hash: String,
        status: u16,
        body: String,
    },
}

/// How long a stored response is replayed.
const KEEP_FOR_HOURS: i64 = 24;

impl Store {
    /// Claims the key for this request, or reports who has it.
    pub async fn claim_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<KeyState, sqlx::Error> {
        let now = Utc::now();
        let expired = (now - Duration::hours(KEEP_FOR_HOURS)).to_rfc3339();
        let insert = "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) \
                      VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key) DO NOTHING";
        let purge =
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < $3";
        let select = "SELECT request_hash, status, body FROM idempotency_keys WHERE user_id = $1 AND key = $2";
        on_pool!(self, |pool| {
            sqlx::query(purge)
                .bind(user_id)
                .bind(key)
                .bind(&expired)
                .execute(pool)
                .await?;
            let inserted = sqlx::query(insert)
                .bind(user_id)
                .bind(key)
                .bind(request_hash)
                .bind(now.to_rfc3339())
                .execute(pool)
                .await?
                .rows_affected();
            if inserted == 1 {
                return Ok(KeyState::Claimed);
            }
            let row = sqlx::query(select)
                .bind(user_id)
                .bind(key)
                .fetch_optional(pool)
                .await?;
            let Some(row) = row else {
                // Released between our insert and select: the caller asks again.
                return Ok(KeyState::Pending {
                    request_hash: request_hash.to_string(),
                });
            };
            let request_hash: String = row.try_get("request_hash")?;
            let status: Option<i64> = row.try_get("status")?;
            let body: Option<String> = row.try_get("body")?;
            Ok(match (status, body) {
                (Some(status), Some(body)) => KeyState::Done {
                    request_hash,
                    status: u16::try_from(status).unwrap_or(500),
                    body,
                },
                _ => KeyState::Pending { request_hash },
            })
        })
    }

    pub async fn complete_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        let sql =
            "UPDATE idempotency_keys SET status = $1, body = $2 WHERE user_id = $3 AND key = $4";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(i64::from(status))
            .bind(body)
            .bind(user_id)
            .bind(key)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Frees a key whose request failed on our side, so a retry can run.
    pub async fn release_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(user_id)
            .bind(key)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
