//! Evidence content, stored once per SHA-256 in the store itself (PostgreSQL `bytea`,
//! SQLite `BLOB` in the database file).

use sqlx::Row;

use crate::{on_blob_reader, on_pool, to_i64, Store};

/// One stored file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceBlob {
    pub sha256: String,
    pub media_type: String,
    pub content: Vec<u8>,
}

/// Stores `file` under its SHA-256 unless that hash is stored already: inside a command's
/// transaction (`crate::commit`), so a file is kept only with the evidence that names it.
pub(crate) async fn insert_blob<'e, E, DB>(
    executor: E,
    file: &EvidenceBlob,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO evidence_blobs (sha256, size, media_type, content) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(file.sha256.as_str())
    .bind(to_i64(file.content.len() as u64))
    .bind(file.media_type.as_str())
    .bind(file.content.as_slice())
    .execute(executor)
    .await?;
    Ok(())
}

impl Store {
    /// The content stored under `sha256`, if any.
    pub async fn evidence_blob(&self, sha256: &str) -> Result<Option<EvidenceBlob>, sqlx::Error> {
        let sql = "SELECT sha256, media_type, content FROM evidence_blobs WHERE sha256 = $1";
        let row = on_blob_reader!(self, |pool| {
            let mut conn = pool.acquire().await?;
            let row = sqlx::query(sql)
                .bind(sha256)
                .fetch_optional(&mut *conn)
                .await;
            given_back(&mut *conn);
            match row? {
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

/// Gives back what a connection's buffers grew to for a file's content. A PostgreSQL
/// connection keeps its send and receive buffers at the largest message it has carried,
/// so each pooled connection that once wrote a 10 MB upload held 10 MB or more from then on.
pub(crate) fn given_back<C: sqlx::Connection>(conn: &mut C) {
    conn.shrink_buffers();
}

/// How much of a file one read of the store returns when content is streamed.
pub const CHUNK_BYTES: u64 = 1024 * 1024;

impl Store {
    /// Whether content is stored under `sha256`.
    pub async fn has_evidence_blob(&self, sha256: &str) -> Result<bool, sqlx::Error> {
        let sql = "SELECT COUNT(*) FROM evidence_blobs WHERE sha256 = $1";
        let count = on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(sql)
            .bind(sha256)
            .fetch_one(pool)
            .await)?;
        Ok(count > 0)
    }

    /// Up to `len` bytes of the content stored under `sha256`, from byte `offset`; empty
    /// past the end, `None` if nothing is stored under the hash. Lets a reader stream a
    /// file of any size holding one chunk at a time.
    pub async fn evidence_chunk(
        &self,
        sha256: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, sqlx::Error> {
        // Both backends count from 1; CAST keeps PostgreSQL's `substring(bytea, int, int)`.
        let sql = match self {
            Store::Postgres(_) => {
                "SELECT substring(content FROM CAST($2 AS INTEGER) FOR CAST($3 AS INTEGER)) \
                 FROM evidence_blobs WHERE sha256 = $1"
            }
            Store::Sqlite(_) => {
                "SELECT substr(content, $2, $3) FROM evidence_blobs WHERE sha256 = $1"
            }
        };
        let start = to_i64(offset.saturating_add(1));
        let len = to_i64(len);
        let chunk = on_blob_reader!(self, |pool| {
            let mut conn = pool.acquire().await?;
            let chunk = sqlx::query_scalar::<_, Vec<u8>>(sql)
                .bind(sha256)
                .bind(start)
                .bind(len)
                .fetch_optional(&mut *conn)
                .await;
            given_back(&mut *conn);
            chunk?
        });
        Ok(chunk)
    }
}

/// What is wrong with a stored evidence file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobCheck {
    pub sha256: String,
    /// The size column, as recorded when the file was stored.
    pub recorded_size: u64,
    pub found_size: u64,
    pub found_sha256: String,
}

impl BlobCheck {
    /// The content still hashes to the key it is stored under, at the recorded size.
    pub fn intact(&self) -> bool {
        self.found_sha256 == self.sha256 && self.found_size == self.recorded_size
    }
}

impl Store {
    /// The SHA-256 of every stored evidence file, in order.
    pub async fn evidence_blob_hashes(&self) -> Result<Vec<String>, sqlx::Error> {
        let sql = "SELECT sha256 FROM evidence_blobs ORDER BY sha256";
        on_pool!(self, |pool| sqlx::query_scalar::<_, String>(sql)
            .fetch_all(pool)
            .await)
    }

    /// Re-hashes the content stored under `sha256`, a chunk at a time; `None` if nothing is
    /// stored under it.
    pub async fn check_evidence_blob(
        &self,
        sha256: &str,
    ) -> Result<Option<BlobCheck>, sqlx::Error> {
        let sql = "SELECT size FROM evidence_blobs WHERE sha256 = $1";
        let size = on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(sql)
            .bind(sha256)
            .fetch_optional(pool)
            .await)?;
        let Some(size) = size else {
            return Ok(None);
        };
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut offset = 0u64;
        loop {
            let Some(chunk) = self.evidence_chunk(sha256, offset, CHUNK_BYTES).await? else {
                return Ok(None);
            };
            hasher.update(&chunk);
            offset += chunk.len() as u64;
            if (chunk.len() as u64) < CHUNK_BYTES {
                break;
            }
        }
        Ok(Some(BlobCheck {
            sha256: sha256.to_string(),
            recorded_size: u64::try_from(size).unwrap_or_default(),
            found_size: offset,
            found_sha256: hex::encode(hasher.finish()),
        }))
    }
}

/// One evidence file attached to a case, as its event recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub case_id: String,
    pub evidence_id: String,
    pub sha256: String,
    pub size_bytes: u64,
    /// The event says the content was uploaded into the store.
    pub stored: bool,
}

/// What is wrong with one attached evidence file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceProblem {
    /// The stored content no longer hashes to what was attached, or has another size.
    Altered {
        found_sha256: String,
        found_size: u64,
    },
    /// The event says the content was uploaded, and the store no longer holds it.
    Missing,
}

/// One attached file that failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFault {
    pub attachment: Attachment,
    pub problem: EvidenceProblem,
}

/// The check of a set of attachments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceReport {
    /// Attachments whose content the store holds or should hold.
    pub checked: u64,
    pub faults: Vec<EvidenceFault>,
}

impl Store {
    /// Every evidence attachment, of one case or of every case, in case order: one query
    /// for a whole-store check instead of reading each case's events again. An event that
    /// no longer decodes is left out; the chain check reports it.
    pub async fn evidence_attachments(
        &self,
        case_id: Option<&str>,
    ) -> Result<Vec<Attachment>, sqlx::Error> {
        // CAST: PostgreSQL must know the parameter's type to compare it with NULL.
        let sql = "SELECT aggregate_id, CAST(payload AS text) FROM events \
                   WHERE event_type = 'EvidenceAttached' \
                   AND (CAST($1 AS text) IS NULL OR aggregate_id = $1) \
                   ORDER BY aggregate_id, sequence";
        let rows: Vec<(String, String)> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(case_id)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(case_id, payload)| match serde_json::from_str(&payload).ok()? {
                    casefile_domain::ComplaintEvent::EvidenceAttached {
                        evidence_id,
                        sha256,
                        size_bytes,
                        stored,
                        ..
                    } => Some(Attachment {
                        case_id,
                        evidence_id,
                        sha256,
                        size_bytes,
                        stored,
                    }),
                    _ => None,
                },
            )
            .collect())
    }

    /// Re-hashes the content of each attachment. Content that is held must hash to what
    /// was attached, at the attached size; content that an upload put in the store must
    /// still be there. Metadata-only evidence with nothing held is not checked.
    pub async fn check_attachments(
        &self,
        attachments: &[Attachment],
    ) -> Result<EvidenceReport, sqlx::Error> {
        let mut report = EvidenceReport::default();
        for attachment in attachments {
            let problem = match self.check_evidence_blob(&attachment.sha256).await? {
                Some(check) => {
                    report.checked += 1;
                    if check.intact() && check.found_size == attachment.size_bytes {
                        continue;
                    }
                    EvidenceProblem::Altered {
                        found_sha256: check.found_sha256,
                        found_size: check.found_size,
                    }
                }
                None if attachment.stored => {
                    report.checked += 1;
                    EvidenceProblem::Missing
                }
                None => continue,
            };
            report.faults.push(EvidenceFault {
                attachment: attachment.clone(),
                problem,
            });
        }
        Ok(report)
    }
}
