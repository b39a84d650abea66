//! The Resident aggregate's write and read path: a resident's events (aggregate_type
//! `Resident`, hash-chained like a case's) and their fold (`resident_records`) committed in
//! one transaction, and the log of every read of that special-category data.

use std::collections::HashMap;

use casefile_domain::{Resident, ResidentEvent};
use casefile_projections::resident_view::ResidentView;
use chrono::{SubsecRound, Utc};
use cqrs_es::{Aggregate, DomainEvent};

use crate::chain::{canonical, link};
use crate::commit::CommitError;
use crate::events::LoadError;
use crate::{on_pool, on_writer, Store};

/// A resident as a command finds it.
#[derive(Debug, Clone)]
pub struct LoadedResident {
    pub view: ResidentView,
    /// The hash of the resident's last event; empty before the first.
    pub last_hash: String,
}

impl LoadedResident {
    /// The aggregate's state, which the view holds in full.
    pub fn state(&self) -> Resident {
        Resident {
            needs: self.view.needs.clone(),
            adjustments: self.view.adjustments.clone(),
            review_due: self.view.review_due,
            last_occurred_at: self.view.updated_at,
        }
    }
}

/// Who read a resident's record, through what.
#[derive(Debug, Clone)]
pub struct ResidentRead<'a> {
    pub resident_id: &'a str,
    pub user_id: &'a str,
    pub role: &'a str,
    /// `adjustments`, or `case:<case id>`.
    pub via: String,
}

impl Store {
    /// The resident's record; an empty one (version 0) when nothing was ever recorded.
    pub async fn load_resident(&self, resident_id: &str) -> Result<LoadedResident, LoadError> {
        let sql = "SELECT last_hash, body FROM resident_records WHERE resident_id = $1";
        let row = on_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String)>(sql)
                .bind(resident_id)
                .fetch_optional(pool)
                .await
        })?;
        match row {
            Some((last_hash, body)) => {
                let view = serde_json::from_str::<ResidentView>(&body).map_err(|e| {
                    LoadError::Corrupt {
                        id: resident_id.to_string(),
                        sequence: 0,
                        message: format!("resident record: {e}"),
                    }
                })?;
                Ok(LoadedResident { view, last_hash })
            }
            None => Ok(LoadedResident {
                view: ResidentView::build(resident_id, &[]),
                last_hash: String::new(),
            }),
        }
    }

    /// Writes a resident's new events after `base`, with their chain links and the new
    /// fold, in one transaction. A concurrent write to the same resident makes the events'
    /// primary key refuse this one: [`CommitError::Conflict`].
    pub async fn commit_resident(
        &self,
        base: &LoadedResident,
        events: Vec<ResidentEvent>,
        metadata: &HashMap<String, String>,
    ) -> Result<ResidentView, CommitError> {
        let id = base.view.resident_id.as_str();
        let recorded_at = Utc::now()
            .trunc_subsecs(6)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let metadata_value = serde_json::to_value(metadata)?;
        let metadata_text = metadata_value.to_string();
        let mut rows = Vec::with_capacity(events.len());
        let mut prev = base.last_hash.clone();
        let mut sequence = base.view.version;
        let mut all = Vec::new();
        for event in &events {
            sequence += 1;
            let payload = serde_json::to_value(event)?;
            let bytes = canonical(
                id,
                sequence,
                &event.event_type(),
                &event.event_version(),
                &payload,
                &metadata_value,
            );
            let hash = link(&prev, &bytes);
            rows.push((
                i64::try_from(sequence).unwrap_or(i64::MAX),
                event.event_type(),
                event.event_version(),
                payload.to_string(),
                prev.clone(),
                hash.clone(),
            ));
            prev = hash;
            all.push(event.clone());
        }
        let mut view = base.view.clone();
        for event in all {
            view.version += 1;
            view.updated_at = Some(event.occurred_at());
            view.updated_by = Some(event.by().clone());
            let ResidentEvent::AdjustmentsSet {
                needs,
                adjustments,
                review_due,
                ..
            } = event;
            view.needs = needs;
            view.adjustments = adjustments;
            view.review_due = review_due;
        }
        let body = serde_json::to_string(&view)?;
        let version = i64::try_from(view.version).unwrap_or(i64::MAX);
        let review_due = view.review_due.map(|d| d.to_string());
        let is_sqlite = matches!(self, Store::Sqlite(_));
        // No global position: the feed's positions number the cases' events only, and a
        // resident's events (special-category data) are never served by it.
        let insert_event = if is_sqlite {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, recorded_at, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        } else {
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, recorded_at, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::timestamptz, $9, $10)"
        };
        let upsert =
            "INSERT INTO resident_records (resident_id, version, last_hash, review_due, body) \
                      VALUES ($1, $2, $3, $4, $5) \
                      ON CONFLICT (resident_id) DO UPDATE SET version = excluded.version, \
                      last_hash = excluded.last_hash, review_due = excluded.review_due, \
                      body = excluded.body";
        on_writer!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (sequence, event_type, event_version, payload, prev_hash, hash) in &rows {
                sqlx::query(insert_event)
                    .bind(Resident::TYPE)
                    .bind(id)
                    .bind(sequence)
                    .bind(event_type)
                    .bind(event_version)
                    .bind(payload)
                    .bind(&metadata_text)
                    .bind(&recorded_at)
                    .bind(prev_hash)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(upsert)
                .bind(id)
                .bind(version)
                .bind(&prev)
                .bind(&review_due)
                .bind(&body)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(view)
    }

    /// Records that a user read a resident's needs and adjustments.
    pub async fn record_resident_read(&self, read: &ResidentRead<'_>) -> Result<(), sqlx::Error> {
        let sql = "INSERT INTO resident_reads (resident_id, user_id, role, read_at, via) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_writer!(self, |pool| {
            sqlx::query(sql)
                .bind(read.resident_id)
                .bind(read.user_id)
                .bind(read.role)
                .bind(Utc::now().to_rfc3339())
                .bind(&read.via)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// How many reads of a resident's record were logged.
    pub async fn resident_read_count(&self, resident_id: &str) -> Result<i64, sqlx::Error> {
        let sql = "SELECT COUNT(*) FROM resident_reads WHERE resident_id = $1";
        on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(sql)
            .bind(resident_id)
            .fetch_one(pool)
            .await)
    }
}
