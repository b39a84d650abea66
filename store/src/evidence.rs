//! Evidence content, stored once per SHA-256 in the store itself (PostgreSQL `bytea`,
//! SQLite `BLOB` in the database file).

use sqlx::Row;

use crate::{on_pool, on_writer, to_i64, Store};

/// One stored file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceBlob {
    pub sha256: String,
    pub media_type: String,
    pub content: Vec<u8>,
}

impl Store {
    /// Stores `content` under its SHA-256 unless that hash is stored already; `true` when
    /// this call stored it.
    pub async fn put_evidence_blob(
        &self,
        sha256: &str,
        media_type: &str,
        content: &[u8],
    ) -> Result<bool, sqlx::Error> {
        let sql = "INSERT INTO evidence_blobs (sha256, size, media_type, content) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING";
        let size = to_i64(content.len() as u64);
        let inserted = on_writer!(self, |pool| sqlx::query(sql)
            .bind(sha256)
            .bind(size)
            .bind(media_type)
            .bind(content)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(inserted > 0)
    }

    /// The content stored under `sha256`, if any.
    pub async fn evidence_blob(&self, sha256: &str) -> Result<Option<EvidenceBlob>, sqlx::Error> {
        let sql = "SELECT sha256, media_type, content FROM evidence_blobs WHERE sha256 = $1";
        let row = on_pool!(self, |pool| {
            match sqlx::query(sql).bind(sha256).fetch_optional(pool).await? {
                Some(row) => Some(EvidenceBlob {
                    sha256: row.try_get("sha256")?,
                    media_type: row.try_get("media_type")?,
                    content: row.try_get("content")?,
                }),
                None => None,
            }
        });
        Ok(row)
    }
}
