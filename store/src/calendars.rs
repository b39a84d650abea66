//! The bank-holiday calendars the service has run with, and from when: a case shown as it
//! stood at an earlier moment is computed with the calendar in force then, not today's.
//!
//! Start-up records the loaded calendar ([`Store::record_calendar`]); nothing else writes
//! here. Each version's full holiday list is kept, so a calendar can be rebuilt after the
//! gov.uk file it came from is gone or a newer build's rules differ.

use casefile_domain::{Calendar, HolidayList};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::{on_pool, on_writer, LoadError, Store};

fn corrupt(message: String) -> LoadError {
    LoadError::Corrupt {
        id: String::new(),
        sequence: 0,
        message,
    }
}

impl Store {
    /// Records `calendar` as in force from `now`, unless it is the one in force already;
    /// `true` when this call brought it into force. Idempotent: a restart with the same
    /// calendar records nothing.
    pub async fn record_calendar(
        &self,
        calendar: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let version = calendar.version();
        let holidays = serde_json::to_string(&calendar.holidays())
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        // SQLite keeps times as RFC 3339 text; PostgreSQL casts that text to timestamptz.
        let (add_version, bring_into_force) = match self {
            Store::Postgres(_) => (
                "INSERT INTO calendar_versions (version, holidays, first_used) \
                 VALUES ($1, $2, CAST($3 AS timestamptz)) ON CONFLICT (version) DO NOTHING",
                "INSERT INTO calendars_in_force (version, in_force_from) \
                 SELECT CAST($1 AS text), CAST($2 AS timestamptz) \
                 WHERE COALESCE((SELECT version FROM calendars_in_force \
                                 ORDER BY position DESC LIMIT 1), '') <> $1",
            ),
            Store::Sqlite(_) => (
                "INSERT INTO calendar_versions (version, holidays, first_used) \
                 VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING",
                "INSERT INTO calendars_in_force (version, in_force_from) \
                 SELECT CAST($1 AS text), $2 \
                 WHERE COALESCE((SELECT version FROM calendars_in_force \
                                 ORDER BY position DESC LIMIT 1), '') <> $1",
            ),
        };
        let added = on_writer!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(add_version)
                .bind(&version)
                .bind(&holidays)
                .bind(&at)
                .execute(&mut *tx)
                .await?;
            let added = sqlx::query(bring_into_force)
                .bind(&version)
                .bind(&at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            added
        });
        Ok(added > 0)
    }

    /// The version of the calendar in force at `at`: the last one a start-up brought into
    /// force at or before then. `None` before the first record (a store older than this
    /// history).
    pub async fn calendar_version_at(
        &self,
        at: DateTime<Utc>,
    ) -> Result<Option<String>, LoadError> {
        let sql = match self {
            Store::Postgres(_) => {
                "SELECT version, \
                 to_char(in_force_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
                 FROM calendars_in_force ORDER BY position"
            }
            Store::Sqlite(_) => {
                "SELECT version, in_force_from FROM calendars_in_force ORDER BY position"
            }
        };
        let rows: Vec<(String, String)> =
            on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
        let mut in_force = None;
        for (version, from) in rows {
            let from = DateTime::parse_from_rfc3339(&from)
                .map_err(|e| corrupt(format!("calendars_in_force: {from:?}: {e}")))?;
            if from <= at {
                in_force = Some(version);
            }
        }
        Ok(in_force)
    }

    /// The stored calendar of `version`, rebuilt from its holiday list; `None` if no
    /// start-up recorded it.
    pub async fn stored_calendar(&self, version: &str) -> Result<Option<Calendar>, LoadError> {
        let sql = "SELECT holidays FROM calendar_versions WHERE version = $1";
        let holidays: Option<String> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(version)
            .fetch_optional(pool)
            .await)?;
        let Some(holidays) = holidays else {
            return Ok(None);
        };
        let list: HolidayList = serde_json::from_str(&holidays)
            .map_err(|e| corrupt(format!("calendar {version}: {e}")))?;
        let calendar = Calendar::from_holidays(&list);
        // The version is the fingerprint of the list: a row whose list was changed
        // afterwards would otherwise pass for the calendar it claims to be.
        if calendar.version() != version {
            return Err(corrupt(format!(
                "calendar {version}: its holiday list has version {}",
                calendar.version()
            )));
        }
        Ok(Some(calendar))
    }

    /// The calendar a case's deadlines were computed with at `at`: the one in force then;
    /// before the first recorded start-up, the one the case recorded when it was logged
    /// (`case_version`); `current` when the store knows neither (or they are `current`).
    pub async fn calendar_in_force(
        &self,
        at: DateTime<Utc>,
        case_version: Option<&str>,
        current: &Calendar,
    ) -> Result<Calendar, LoadError> {
        let version = match self.calendar_version_at(at).await? {
            Some(version) => Some(version),
            None => case_version.map(str::to_owned),
        };
        match version {
            Some(version) if version != current.version() => Ok(self
                .stored_calendar(&version)
                .await?
                .unwrap_or_else(|| current.clone())),
            _ => Ok(current.clone()),
        }
    }
}
