//! The outbox: a row per notified event, written in the event's transaction (see
//! [`crate::commit`]) and kept until handed over; webhook subscriptions; the webhook and
//! email deliveries each row queues as it is handed over, with their attempts; and the reads the SLA watchdog and the alert list need. Claims take
//! rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two instances never both deliver;
//! on SQLite one process on a file delivers, the holder of its [`DeliveryLock`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{on_pool, on_writer, SqlitePools, Store};

/// The event types that are notified.
pub const NOTIFIED: [&str; 2] = ["SlaAlertRaised", "SlaAlertResolved"];

/// Rows a batch takes at a time. On PostgreSQL a batch's rows stay claimed until the last
/// is handed over, up to the receiver's timeout each (10 s for a webhook; for an email 10 s
/// a command and up to 120 s for the mail server to take the message).
pub const BATCH: i64 = 20;

/// Queues a notification's email (`$1` its outbox id, `$2` its case, `$3` now), addressed
/// as it is handed over: to the case owner, copied to their team leader, or to the team
/// leader alone when the owner has no address. A case without an owner, or with nobody to
/// write to, gets none.
const QUEUE_EMAIL: &str = "INSERT INTO email_deliveries \
     (outbox_id, to_address, cc_address, next_attempt_at) \
     SELECT $1, COALESCE(u.email, l.email), CASE WHEN u.email <> l.email THEN l.email END, $3 \
     FROM case_summaries s JOIN users u ON u.id = s.owner_id \
     LEFT JOIN users l ON l.id = u.team_leader \
     WHERE s.id = $2 AND COALESCE(u.email, l.email) IS NOT NULL \
     ON CONFLICT DO NOTHING";

/// Key of the PostgreSQL advisory lock held while one instance scans for alerts.
const SCAN_LOCK: i64 = 0x0CA5_EF11_E0A1_E875;

/// An open step of an open case, due on or before the horizon the watchdog asked about.
#[derive(Debug, Clone)]
pub struct DueStep {
    pub case_id: String,
    pub reference: String,
    pub step: String,
    pub due: NaiveDate,
    pub division: String,
    pub owner_id: Option<String>,
    /// The furthest alert already raised for this due date: `""`, `due_soon` (`breached`
    /// ones are not returned).
    pub alerted: String,
}

/// Where a page of [`Store::due_steps`] ended: the next page starts after it, in the store's
/// own order of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepKey {
    pub due: NaiveDate,
    pub case_id: String,
    pub step: String,
}

/// A page of steps to alert.
#[derive(Debug, Clone)]
pub struct DuePage {
    pub steps: Vec<DueStep>,
    /// Where the next page starts; `None` when this page was the last.
    pub next: Option<StepKey>,
}

/// An email due for an attempt: the notification, the case's reference, and where it goes.
#[derive(Debug, Clone)]
pub struct PendingEmail {
    pub id: i64,
    pub row: OutboxRow,
    pub reference: String,
    pub to: String,
    pub cc: Option<String>,
    /// The recipients who have it already.
    pub sent_to: Vec<String>,
    /// Attempts made before this one.
    pub attempts: i64,
}

impl PendingEmail {
    /// The recipients still to send it to: `to` and `cc`, but for those who have it.
    pub fn recipients(&self) -> Vec<String> {
        std::iter::once(&self.to)
            .chain(&self.cc)
            .filter(|address| !self.sent_to.contains(address))
            .cloned()
            .collect()
    }
}

/// How an attempt at an email went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailAttempt {
    /// Tried: `sent_to` the recipients who took it at this attempt, `error` what the
    /// others' refusals said, and `retry_at` when those refused for now are tried again.
    /// Without a `retry_at` the email is done with: sent if every recipient has it, else
    /// given up (for those who do not; [`Store::requeue_emails`] puts it back for them).
    Tried {
        sent_to: Vec<String>,
        error: Option<String>,
        retry_at: Option<DateTime<Utc>>,
    },
    /// Not tried (the mail server cannot be used this round): nothing is recorded, and it
    /// is tried again next round.
    NotTried,
}

/// An email as recorded, for `GET /emails`.
#[derive(Debug, Clone, Serialize)]
pub struct Email {
    pub id: i64,
    pub case_id: String,
    /// The case's reference (its id while a rebuild refills the summaries).
    pub reference: String,
    pub event_type: String,
    pub to: String,
    pub cc: Option<String>,
    /// The recipients who have taken it.
    pub sent_to: Vec<String>,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
    pub gave_up_at: Option<String>,
    pub last_error: Option<String>,
}

/// Which emails a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailState {
    All,
    /// Neither sent nor given up.
    Waiting,
    Sent,
    GivenUp,
}

/// An open case as the automation rules see it.
#[derive(Debug, Clone)]
pub struct OpenCase {
    pub id: String,
    pub reference: String,
    pub version: i64,
    pub procedure: String,
    pub division: String,
    pub owner_id: Option<String>,
    pub theme: Option<String>,
    pub received_on: NaiveDate,
    /// `stage1` or `stage2`.
    pub stage: String,
    /// Its live steps not yet met, with their due dates.
    pub unmet: Vec<(String, NaiveDate)>,
}

/// Which open cases the automation rules may act on today: for each rule, the procedures
/// that have it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationReach {
    pub today: NaiveDate,
    /// Unowned cases under these procedures.
    pub assign: Vec<String>,
    /// Cases under these procedures not yet acknowledged.
    pub acknowledge: Vec<String>,
    /// Cases at Stage 1 under these procedures whose response was due before today.
    pub escalate: Vec<String>,
    /// Cases under each procedure received on or before its date (its deadlock limit
    /// before today).
    pub deadlock: Vec<(String, NaiveDate)>,
}

impl AutomationReach {
    /// No rule is on anywhere.
    pub fn is_empty(&self) -> bool {
        self.assign.is_empty()
            && self.acknowledge.is_empty()
            && self.escalate.is_empty()
            && self.deadlock.is_empty()
    }
}

/// An alert event as stored on a case.
#[derive(Debug, Clone)]
pub struct AlertEvent {
    pub case_id: String,
    pub reference: String,
    pub owner_id: Option<String>,
    pub event_type: String,
    pub payload: String,
}

/// A notification claimed for delivery.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub case_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
    #[serde(skip)]
    pub secret: String,
}

/// One delivery of a notification to a webhook, with its attempts.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub event_type: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub delivered_at: Option<String>,
    pub history: Vec<Attempt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub attempt: i64,
    pub attempted_at: String,
    pub status: Option<i64>,
    pub error: Option<String>,
}

/// A delivery due for an attempt, with where and how to send it.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub body: String,
    pub attempts: i64,
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status: Option<i64>,
    pub error: Option<String>,
    /// When to try again; `None` once delivered.
    pub retry_at: Option<DateTime<Utc>>,
}

/// What a batch of deliveries took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Rows taken.
    pub taken: usize,
    /// The last row's id, after which the next batch starts; `None` if none was taken.
    pub last: Option<i64>,
    /// Rows whose attempt did not go out: a webhook not answered 2xx, an email not taken
    /// by every recipient still to get it.
    pub failed: usize,
}

impl Batch {
    /// The batch of the rows `ids`, each with whether it went out.
    fn of(rows: impl Iterator<Item = (i64, bool)>) -> Self {
        rows.fold(
            Self {
                taken: 0,
                last: None,
                failed: 0,
            },
            |batch, (id, sent)| Self {
                taken: batch.taken + 1,
                last: batch.last.max(Some(id)),
                failed: batch.failed + usize::from(!sent),
            },
        )
    }

    /// Whether the batch took as many rows as a batch can, so more may be waiting.
    pub fn full(&self) -> bool {
        i64::try_from(self.taken).is_ok_and(|taken| taken >= BATCH)
    }
}

/// Held by the one process that delivers a SQLite store's notifications: an exclusive
/// lock on the file `<database>-notifications.lock` beside it (the database's real path,
/// links followed), which the operating system lets go when the process ends however it
/// ends, so the next process takes over at its next round. The file must stay while
/// processes run: one made anew is another lock.
/// (SQLite's batches are recorded after they are handed over, not claimed, so two
/// processes delivering from one file would each send them.) On PostgreSQL rows are
/// claimed, so every instance delivers and the lock holds nothing.
#[derive(Debug)]
pub struct DeliveryLock(#[allow(dead_code)] Option<std::fs::File>);

/// Held while this instance scans for alerts; on PostgreSQL, a session advisory lock on a
/// connection of its own.
pub struct ScanLock(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>);

impl ScanLock {
    pub async fn release(self) {
        if let Some(mut conn) = self.0 {
            if let Err(err) = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(SCAN_LOCK)
                .execute(&mut *conn)
                .await
            {
                // Closing the connection ends the session, and the lock with it.
                tracing::warn!(%err, "advisory unlock failed");
                conn.detach();
            }
        }
    }
}

/// The first wait before a SQLite batch's record is written again.
const RECORD_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits `wait` after a SQLite batch that has gone out failed to be recorded for a reason
/// that passes (the store busy, as under a rebuild holding its write lock; its disk full;
/// an I/O error; no connection in time), and returns the next wait, twice as long up to
/// 30 s: read again unrecorded, the batch would go out again at every round for as long
/// as that lasts, and nothing else can be recorded meanwhile anyway. Any other error is
/// returned, and the batch goes out again next round. A stop (the round's future dropped)
/// leaves it unrecorded, for the next process to send again.
async fn record_again(
    err: sqlx::Error,
    wait: std::time::Duration,
) -> Result<std::time::Duration, sqlx::Error> {
    let passes = match &err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        // SQLite's primary result codes: BUSY, LOCKED, IOERR, FULL.
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13)),
        _ => false,
    };
    if !passes {
        return Err(err);
    }
    tracing::warn!(%err, "notifications sent but not yet recorded; trying again");
    tokio::time::sleep(wait).await;
    Ok((wait * 2).min(std::time::Duration::from_secs(30)))
}

/// An attempt made at an email, to record.
struct Made {
    id: i64,
    attempt: i64,
    at: String,
    result: EmailAttempt,
    /// The recipients who had it before the attempt.
    sent_to: Vec<String>,
    /// Everyone it is for.
    recipients: Vec<String>,
}

impl Made {
    /// The recipients who have it after the attempt.
    fn now_sent_to(&self) -> Vec<String> {
        let mut all = self.sent_to.clone();
        if let EmailAttempt::Tried { sent_to, .. } = &self.result {
            all.extend(
                sent_to
                    .iter()
                    .filter(|a| !self.sent_to.contains(a))
                    .cloned(),
            );
        }
        all
    }

    /// Whether every recipient has it after the attempt.
    fn sent_to_all(&self) -> bool {
        let sent_to = self.now_sent_to();
        self.recipients.iter().all(|r| sent_to.contains(r))
    }

    /// Whether the email is sent, with no recipient left to try.
    fn done_sending(&self) -> bool {
        matches!(&self.result, EmailAttempt::Tried { retry_at: None, .. }) && self.sent_to_all()
    }
}

/// The recipients recorded in a `sent_to` column.
fn recipients_of(sent_to: Option<&str>) -> Vec<String> {
    sent_to
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Store {
    /// The scan lock, or `None` if another instance holds it. SQLite has one writer
    /// process, so there the lock is always free.
    pub async fn try_scan_lock(&self) -> Result<Option<ScanLock>, sqlx::Error> {
        match self {
            Store::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(SCAN_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(got.then_some(ScanLock(Some(conn))))
            }
            Store::Sqlite(_) => Ok(Some(ScanLock(None))),
        }
    }

    /// The delivery lock, or `None` while another holder (in this process or another)
    /// has it.
    pub fn try_delivery_lock(&self) -> std::io::Result<Option<DeliveryLock>> {
        let Store::Sqlite(SqlitePools {
            notifications_lock: Some(path),
            ..
        }) = self
        else {
            return Ok(Some(DeliveryLock(None)));
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DeliveryLock(Some(file)))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(err),
        }
    }

    /// Unmet steps of open cases that may still be alerted on `today`: those never alerted
    /// and due on or before their division's horizon (`horizons`: each division's id and the
    /// last date due soon there), and those alerted due soon whose due date has passed.
    /// Steps alerted as far as they can be yet stay out, so a scan reads what may be
    /// raised, not every open case (on a day of many logs, most are alerted due soon); and
    /// each division's steps stop at its own horizon, since on the eve of one division's
    /// bank holiday the latest horizon lies a day beyond the others', and every step of
    /// theirs due that day was read, and not alerted, in every scan. A division not named
    /// takes the latest horizon.
    ///
    /// One page: the first `limit` unalerted or due-soon steps after `after` in (due, case,
    /// step) order, read in that order from the index and stopped there, so a backlog of
    /// thousands costs a scan a few milliseconds a page, and a step the rules refuse does
    /// not hold the next page back. Those of the page beyond their division's horizon, or
    /// of a case no longer open, are left out of its steps but still move the page on.
    pub async fn due_steps(
        &self,
        today: NaiveDate,
        horizons: &[(&str, NaiveDate)],
        after: Option<&StepKey>,
        limit: u32,
    ) -> Result<DuePage, sqlx::Error> {
        let latest = horizons
            .iter()
            .map(|(_, horizon)| *horizon)
            .max()
            .unwrap_or(today)
            .to_string();
        // The first page starts after ('', '', ''), below every step.
        let (after_due, after_case, after_step) = match after {
            Some(key) => (key.due.to_string(), key.case_id.as_str(), key.step.as_str()),
            None => (String::new(), "", ""),
        };
        // Each branch names the partial index's condition, and is ordered as the index is,
        // so both stores read each branch's first rows of the page from the index and merge
        // them; the first branch reads up to the latest horizon, and `alertable` says which
        // rows lie within the case's own.
        let select = |table: &str| {
            format!(
                "WITH page AS MATERIALIZED ( \
                   SELECT case_id, step, due, alerted FROM ( \
                     SELECT case_id, step, due, alerted FROM ( \
                       SELECT case_id, step, due, alerted FROM case_deadlines \
                       WHERE alerted <> 'breached' AND alerted = '' AND due <= $1 \
                         AND due >= $3 AND (due, case_id, step) > ($3, $4, $5) \
                       ORDER BY alerted, due, case_id, step LIMIT $6) never \
                     UNION ALL \
                     SELECT case_id, step, due, alerted FROM ( \
                       SELECT case_id, step, due, alerted FROM case_deadlines \
                       WHERE alerted <> 'breached' AND alerted = 'due_soon' AND due < $2 \
                         AND due >= $3 AND (due, case_id, step) > ($3, $4, $5) \
                       ORDER BY alerted, due, case_id, step LIMIT $6) soon \
                   ) steps ORDER BY due, case_id, step LIMIT $6 \
                 ) \
                 SELECT d.case_id, s.reference, d.step, d.due, s.division, s.owner_id, \
                   d.alerted, COALESCE(s.status = 'open' AND (d.alerted = 'due_soon' \
                     OR d.due <= COALESCE(h.horizon, $1)), false) AS alertable \
                 FROM page d LEFT JOIN case_summaries s ON s.id = d.case_id \
                 LEFT JOIN {table} ON h.division = s.division \
                 ORDER BY d.due, d.case_id, d.step"
            )
        };
        type Row = (
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            bool,
        );
        let rows: Vec<Row> = match self {
            Store::Postgres(pool) => {
                let sql = select("UNNEST($7::text[], $8::text[]) AS h(division, horizon)");
                sqlx::query_as(&sql)
                    .bind(&latest)
                    .bind(today.to_string())
                    .bind(&after_due)
                    .bind(after_case)
                    .bind(after_step)
                    .bind(i64::from(limit))
                    .bind(horizons.iter().map(|(d, _)| *d).collect::<Vec<_>>())
                    .bind(
                        horizons
                            .iter()
                            .map(|(_, h)| h.to_string())
                            .collect::<Vec<_>>(),
                    )
                    .fetch_all(pool)
                    .await?
            }
            Store::Sqlite(pools) => {
                let sql = select(
                    "(SELECT value ->> 0 AS division, value ->> 1 AS horizon FROM json_each($7)) h",
                );
                let horizons: Vec<(&str, String)> =
                    horizons.iter().map(|(d, h)| (*d, h.to_string())).collect();
                sqlx::query_as(&sql)
                    .bind(&latest)
                    .bind(today.to_string())
                    .bind(&after_due)
                    .bind(after_case)
                    .bind(after_step)
                    .bind(i64::from(limit))
                    .bind(serde_json::to_string(&horizons).unwrap_or_default())
                    .fetch_all(&pools.read)
                    .await?
            }
        };
        let date = |due: &str| -> Result<NaiveDate, sqlx::Error> {
            due.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
        };
        let next = match rows.last() {
            Some((case_id, _, step, due, ..)) if rows.len() >= limit as usize => Some(StepKey {
                due: date(due)?,
                case_id: case_id.clone(),
                step: step.clone(),
            }),
            _ => None,
        };
        let mut steps = Vec::with_capacity(rows.len());
        for (case_id, reference, step, due, division, owner_id, alerted, alertable) in rows {
            let (true, Some(reference), Some(division)) = (alertable, reference, division) else {
                continue;
            };
            steps.push(DueStep {
                case_id,
                reference,
                step,
                due: date(&due)?,
                division,
                owner_id,
                alerted,
            });
        }
        Ok(DuePage { steps, next })
    }

    /// Every alert event on every case, oldest first per case: the alert list is folded
    /// from the events themselves, so it needs no table of its own to rebuild.
    pub async fn alert_events(&self) -> Result<Vec<AlertEvent>, sqlx::Error> {
        let sql = "SELECT e.aggregate_id, s.reference, s.owner_id, e.event_type, \
                   CAST(e.payload AS text) AS payload \
                   FROM events e JOIN case_summaries s ON s.id = e.aggregate_id \
                   WHERE e.event_type IN ('SlaAlertRaised', 'SlaAlertResolved') \
                   ORDER BY e.aggregate_id, e.sequence";
        type Row = (String, String, Option<String>, String, String);
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(
                |(case_id, reference, owner_id, event_type, payload)| AlertEvent {
                    case_id,
                    reference,
                    owner_id,
                    event_type,
                    payload,
                },
            )
            .collect())
    }

    /// Hands the undelivered notifications after `after` (an outbox id) to `handed` (the
    /// log), a batch in id order, and records them delivered with the webhook deliveries
    /// each one wants and, when `email` is set, its email to the case owner (see
    /// [`QUEUE_EMAIL`]); those then go out in their own rounds, so no channel's failures
    /// hold back a notification.
    ///
    /// On PostgreSQL the batch is claimed `FOR UPDATE SKIP LOCKED` in a transaction held
    /// while it is handed over, so two instances never take the same rows and a dead
    /// instance's claim ends with its connection. On SQLite the batch is read, handed
    /// over, and then recorded in one short write, written again until it is (see
    /// [`record_again`]). Only the holder of the [`DeliveryLock`] may call this on SQLite.
    pub async fn deliver_outbox(
        &self,
        after: i64,
        email: bool,
        handed: impl Fn(&OutboxRow, &[Webhook]),
    ) -> Result<Batch, sqlx::Error> {
        let webhooks = self.webhooks().await?;
        let now = rfc3339(Utc::now());
        type Pending = (i64, String, i64, String, String);
        let pending = |lock: &str| {
            format!(
                "SELECT id, case_id, sequence, event_type, payload FROM outbox \
                 WHERE delivered_at IS NULL AND id > $1 ORDER BY id LIMIT {BATCH}{lock}"
            )
        };
        let hand_over = |rows: Vec<Pending>| {
            rows.into_iter()
                .map(|(id, case_id, sequence, event_type, payload)| {
                    let row = OutboxRow {
                        id,
                        case_id,
                        sequence,
                        event_type,
                        payload,
                    };
                    let wanted: Vec<Webhook> = webhooks
                        .iter()
                        .filter(|w| w.events.contains(&row.event_type))
                        .cloned()
                        .collect();
                    handed(&row, &wanted);
                    let hooks: Vec<String> = wanted.into_iter().map(|w| w.id).collect();
                    (notification_body(&row), row, hooks)
                })
                .collect::<Vec<_>>()
        };
        macro_rules! record {
            ($tx:expr, $handed:expr) => {{
                let mut tx = $tx;
                for (body, row, hooks) in &$handed {
                    for hook in hooks {
                        sqlx::query(
                            "INSERT INTO webhook_deliveries \
                             (webhook_id, outbox_id, event_type, body, next_attempt_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                        )
                        .bind(hook)
                        .bind(row.id)
                        .bind(&row.event_type)
                        .bind(body)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    if email {
                        sqlx::query(QUEUE_EMAIL)
                            .bind(row.id)
                            .bind(&row.case_id)
                            .bind(&now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query("UPDATE outbox SET delivered_at = $1 WHERE id = $2")
                        .bind(&now)
                        .bind(row.id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }};
        }
        let handed = match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let rows = sqlx::query_as(&pending(" FOR UPDATE SKIP LOCKED"))
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await?;
                let handed = hand_over(rows);
                record!(tx, handed);
                handed
            }
            Store::Sqlite(pools) => {
                let rows = sqlx::query_as(&pending(""))
                    .bind(after)
                    .fetch_all(&pools.read)
                    .await?;
                let handed = hand_over(rows);
                if !handed.is_empty() {
                    let mut wait = RECORD_AGAIN_AFTER;
                    while let Err(err) = async {
                        record!(pools.write.begin().await?, handed);
                        Ok::<(), sqlx::Error>(())
                    }
                    .await
                    {
                        wait = record_again(err, wait).await?;
                    }
                }
                handed
            }
        };
        Ok(Batch::of(handed.iter().map(|(_, row, _)| (row.id, true))))
    }

    pub async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &[String],
    ) -> Result<Webhook, sqlx::Error> {
        let hook = Webhook {
            id: uuid::Uuid::now_v7().to_string(),
            url: url.to_string(),
            secret: secret.to_string(),
            events: events.to_vec(),
            created_at: rfc3339(Utc::now()),
        };
        let events =
            serde_json::to_string(&hook.events).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        crate::on_writer!(self, |pool| sqlx::query(
            "INSERT INTO webhooks (id, url, secret, events, created_at) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(&hook.id)
        .bind(&hook.url)
        .bind(&hook.secret)
        .bind(&events)
        .bind(&hook.created_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(hook)
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>, sqlx::Error> {
        type Row = (String, String, String, String, String);
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, url, secret, events, created_at FROM webhooks ORDER BY created_at, id"
        )
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(id, url, secret, events, created_at)| {
                Ok(Webhook {
                    id,
                    url,
                    secret,
                    events: serde_json::from_str(&events)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    created_at,
                })
            })
            .collect()
    }

    /// A webhook's deliveries, newest first, each with every attempt; `None` if no such
    /// webhook.
    pub async fn deliveries(&self, webhook_id: &str) -> Result<Option<Vec<Delivery>>, sqlx::Error> {
        if !self.webhooks().await?.iter().any(|w| w.id == webhook_id) {
            return Ok(None);
        }
        type DeliveryRow = (i64, String, i64, String, Option<String>);
        let rows: Vec<DeliveryRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, event_type, attempts, next_attempt_at, delivered_at \
             FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC"
        )
        .bind(webhook_id)
        .fetch_all(pool)
        .await)?;
        type AttemptRow = (i64, i64, String, Option<i64>, Option<String>);
        let attempts: Vec<AttemptRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT a.delivery_id, a.attempt, a.attempted_at, a.status, a.error \
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE d.webhook_id = $1 ORDER BY a.delivery_id, a.attempt"
        )
        .bind(webhook_id)
        .fetch_all(pool)
        .await)?;
        let deliveries = rows
            .into_iter()
            .map(
                |(id, event_type, attempts_made, next_attempt_at, delivered_at)| Delivery {
                    id,
                    event_type,
                    attempts: attempts_made,
                    next_attempt_at,
                    delivered_at,
                    history: attempts
                        .iter()
                        .filter(|a| a.0 == id)
                        .map(|a| Attempt {
                            attempt: a.1,
                            attempted_at: a.2.clone(),
                            status: a.3,
                            error: a.4.clone(),
                        })
                        .collect(),
                },
            )
            .collect();
        Ok(Some(deliveries))
    }

    /// Attempts the webhook deliveries after `after` (a delivery id) that are due, a batch
    /// in id order, through `send`, and records every attempt. Claimed and recorded as in
    /// [`Store::deliver_outbox`]: on SQLite only the holder of the [`DeliveryLock`] may
    /// call this.
    pub async fn attempt_deliveries<F, Fut>(
        &self,
        after: i64,
        send: F,
    ) -> Result<Batch, sqlx::Error>
    where
        F: Fn(PendingDelivery) -> Fut,
        Fut: std::future::Future<Output = AttemptResult>,
    {
        let now = rfc3339(Utc::now());
        let due = |lock: &str| {
            format!(
                "SELECT d.id, w.url, w.secret, d.body, d.attempts \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.delivered_at IS NULL AND d.next_attempt_at <= $1 AND d.id > $2 \
                 ORDER BY d.id LIMIT {BATCH}{lock}"
            )
        };
        macro_rules! attempt {
            ($rows:expr) => {{
                let rows: Vec<(i64, String, String, String, i64)> = $rows;
                let mut made = Vec::with_capacity(rows.len());
                for (id, url, secret, body, attempts) in rows {
                    let pending = PendingDelivery {
                        id,
                        url,
                        secret,
                        body,
                        attempts,
                    };
                    let result = send(pending).await;
                    made.push((id, attempts + 1, rfc3339(Utc::now()), result));
                }
                made
            }};
        }
        macro_rules! record {
            ($tx:expr, $made:expr) => {{
                let mut tx = $tx;
                for (id, attempt, at, result) in &$made {
                    sqlx::query(
                        "INSERT INTO webhook_attempts \
                         (delivery_id, attempt, attempted_at, status, error) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(attempt)
                    .bind(at)
                    .bind(result.status)
                    .bind(&result.error)
                    .execute(&mut *tx)
                    .await?;
                    let (next, delivered) = match result.retry_at {
                        Some(retry_at) => (rfc3339(retry_at), None),
                        None => (at.clone(), Some(at)),
                    };
                    sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, \
                         delivered_at = $3 WHERE id = $4",
                    )
                    .bind(attempt)
                    .bind(next)
                    .bind(delivered)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }};
        }
        let made = match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let rows = sqlx::query_as(&due(" FOR UPDATE OF d SKIP LOCKED"))
                    .bind(&now)
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await?;
                let made = attempt!(rows);
                record!(tx, made);
                made
            }
            Store::Sqlite(pools) => {
                let rows = sqlx::query_as(&due(""))
                    .bind(&now)
                    .bind(after)
                    .fetch_all(&pools.read)
                    .await?;
                let made = attempt!(rows);
                if !made.is_empty() {
                    let mut wait = RECORD_AGAIN_AFTER;
                    while let Err(err) = async {
                        record!(pools.write.begin().await?, made);
                        Ok::<(), sqlx::Error>(())
                    }
                    .await
                    {
                        wait = record_again(err, wait).await?;
                    }
                }
                made
            }
        };
        Ok(Batch::of(
            made.iter().map(|m| (m.0, m.3.retry_at.is_none())),
        ))
    }

    /// Records where a user's email notifications go.
    pub async fn set_user_email(&self, user_id: &str, email: &str) -> Result<(), sqlx::Error> {
        crate::on_writer!(self, |pool| sqlx::query(
            "UPDATE users SET email = $1 WHERE id = $2"
        )
        .bind(email)
        .bind(user_id)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// Attempts the emails after `after` (an email delivery id) that are due, a batch in
    /// id order, through `send`, and records each attempt made. Claimed and recorded as in
    /// [`Store::deliver_outbox`]: on SQLite only the holder of the [`DeliveryLock`] may
    /// call this.
    pub async fn attempt_emails<F, Fut>(&self, after: i64, send: F) -> Result<Batch, sqlx::Error>
    where
        F: Fn(PendingEmail) -> Fut,
        Fut: std::future::Future<Output = EmailAttempt>,
    {
        let now = rfc3339(Utc::now());
        // The case's reference is its summary's; one missing for a moment (a rebuild
        // refilling the summaries) leaves the case id in its place.
        let due = |lock: &str| {
            format!(
                "SELECT e.id, o.id, o.case_id, o.sequence, o.event_type, o.payload, \
                 COALESCE((SELECT s.reference FROM case_summaries s WHERE s.id = o.case_id), \
                 o.case_id), e.to_address, e.cc_address, e.sent_to, e.attempts \
                 FROM email_deliveries e JOIN outbox o ON o.id = e.outbox_id \
                 WHERE e.sent_at IS NULL AND e.gave_up_at IS NULL \
                 AND e.next_attempt_at <= $1 AND e.id > $2 ORDER BY e.id LIMIT {BATCH}{lock}"
            )
        };
        type Due = (
            i64,
            i64,
            String,
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
        );
        let send = &send;
        let attempt = |rows: Vec<Due>| async move {
            let mut made = Vec::with_capacity(rows.len());
            for (
                id,
                outbox_id,
                case_id,
                sequence,
                event_type,
                payload,
                reference,
                to,
                cc,
                sent_to,
                attempts,
            ) in rows
            {
                let sent_to = recipients_of(sent_to.as_deref());
                let recipients: Vec<String> =
                    std::iter::once(to.clone()).chain(cc.clone()).collect();
                let pending = PendingEmail {
                    id,
                    row: OutboxRow {
                        id: outbox_id,
                        case_id,
                        sequence,
                        event_type,
                        payload,
                    },
                    reference,
                    to,
                    cc,
                    sent_to: sent_to.clone(),
                    attempts,
                };
                let result = send(pending).await;
                made.push(Made {
                    id,
                    attempt: attempts + 1,
                    at: rfc3339(Utc::now()),
                    result,
                    sent_to,
                    recipients,
                });
            }
            made
        };
        macro_rules! record {
            ($tx:expr, $made:expr) => {{
                let mut tx = $tx;
                for made in &$made {
                    let EmailAttempt::Tried { error, retry_at, .. } = &made.result else {
                        continue;
                    };
                    let sent_to = made.now_sent_to();
                    let at = &made.at;
                    let (next, sent, gave_up) = match retry_at {
                        Some(retry_at) => (rfc3339(*retry_at), None, None),
                        None if made.sent_to_all() => (at.clone(), Some(at), None),
                        None => (at.clone(), None, Some(at)),
                    };
                    let sent_to = (!sent_to.is_empty())
                        .then(|| serde_json::to_string(&sent_to).unwrap_or_default());
                    sqlx::query(
                        "UPDATE email_deliveries SET attempts = $1, next_attempt_at = $2, \
                         sent_at = $3, gave_up_at = $4, last_error = COALESCE($5, last_error), \
                         sent_to = $6 WHERE id = $7",
                    )
                    .bind(made.attempt)
                    .bind(next)
                    .bind(sent)
                    .bind(gave_up)
                    .bind(error)
                    .bind(sent_to)
                    .bind(made.id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }};
        }
        let made = match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let rows = sqlx::query_as(&due(" FOR UPDATE OF e SKIP LOCKED"))
                    .bind(&now)
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await?;
                let made = attempt(rows).await;
                record!(tx, made);
                made
            }
            Store::Sqlite(pools) => {
                let rows = sqlx::query_as(&due(""))
                    .bind(&now)
                    .bind(after)
                    .fetch_all(&pools.read)
                    .await?;
                let made = attempt(rows).await;
                if made.iter().any(|m| m.result != EmailAttempt::NotTried) {
                    let mut wait = RECORD_AGAIN_AFTER;
                    while let Err(err) = async {
                        record!(pools.write.begin().await?, made);
                        Ok::<(), sqlx::Error>(())
                    }
                    .await
                    {
                        wait = record_again(err, wait).await?;
                    }
                }
                made
            }
        };
        Ok(Batch::of(made.iter().map(|m| (m.id, m.done_sending()))))
    }

    /// The newest `limit` emails in `state`, newest first.
    pub async fn emails(&self, state: EmailState, limit: i64) -> Result<Vec<Email>, sqlx::Error> {
        let filter = match state {
            EmailState::All => "e.id > $1",
            EmailState::Waiting => "e.id > $1 AND e.sent_at IS NULL AND e.gave_up_at IS NULL",
            EmailState::Sent => "e.id > $1 AND e.sent_at IS NOT NULL",
            EmailState::GivenUp => "e.id > $1 AND e.gave_up_at IS NOT NULL",
        };
        // Ids count from 1.
        self.select_emails(filter, 0, limit).await
    }

    /// The email `id`, if there is one.
    pub async fn email(&self, id: i64) -> Result<Option<Email>, sqlx::Error> {
        Ok(self.select_emails("e.id = $1", id, 1).await?.pop())
    }

    /// Emails matching `filter` (whose `$1` is `value`), newest first.
    async fn select_emails(
        &self,
        filter: &str,
        value: i64,
        limit: i64,
    ) -> Result<Vec<Email>, sqlx::Error> {
        let sql = format!(
            "SELECT e.id, o.case_id, COALESCE((SELECT s.reference FROM case_summaries s \
             WHERE s.id = o.case_id), o.case_id), o.event_type, e.to_address, e.cc_address, e.sent_to, \
             e.attempts, e.next_attempt_at, e.sent_at, e.gave_up_at, e.last_error \
             FROM email_deliveries e JOIN outbox o ON o.id = e.outbox_id WHERE {filter} \
             ORDER BY e.id DESC LIMIT $2"
        );
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(value)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    case_id,
                    reference,
                    event_type,
                    to,
                    cc,
                    sent_to,
                    attempts,
                    next_attempt_at,
                    sent_at,
                    gave_up_at,
                    last_error,
                )| Email {
                    id,
                    case_id,
                    reference,
                    event_type,
                    to,
                    cc,
                    sent_to: recipients_of(sent_to.as_deref()),
                    attempts,
                    next_attempt_at,
                    sent_at,
                    gave_up_at,
                    last_error,
                },
            )
            .collect())
    }

    /// Puts given-up emails back in the queue, due now and with their attempts counted
    /// afresh, once what refused them is mended: the email `id`, or with `None` every one.
    /// Recipients who have one already (`sent_to`) are not sent it again. Returns how many
    /// went back.
    pub async fn requeue_emails(&self, id: Option<i64>) -> Result<u64, sqlx::Error> {
        let now = rfc3339(Utc::now());
        let sql = "UPDATE email_deliveries SET gave_up_at = NULL, attempts = 0, \
                   next_attempt_at = $1 WHERE gave_up_at IS NOT NULL AND ($2 IS NULL OR id = $2)";
        on_writer!(self, |pool| sqlx::query(sql)
            .bind(&now)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
    }

    /// Up to `limit` open cases after the case id `after`, in id order, that one of the
    /// automation rules may act on as `reach` says (the rules have the last word): what a
    /// scheduled scan reads, a page at a time so its memory does not grow with the store.
    /// Most open cases are out of every rule's reach on most days (under a procedure
    /// without the rule, or not yet old enough), and a scan read them all every minute, to
    /// pass over them one by one.
    pub async fn open_cases_in_reach(
        &self,
        after: &str,
        limit: u32,
        reach: &AutomationReach,
    ) -> Result<Vec<OpenCase>, sqlx::Error> {
        // Procedure ids travel as JSON arrays, and the deadlock rule's dates as a JSON
        // array of [procedure, last date received] pairs, as `due_steps` passes horizons.
        let (among, pairs): (fn(u8) -> String, &str) = match self {
            Store::Postgres(_) => (
                |n: u8| format!("(SELECT jsonb_array_elements_text(${n}::jsonb))"),
                "(SELECT p ->> 1 FROM jsonb_array_elements($7::jsonb) p WHERE p ->> 0 = s.procedure)",
            ),
            Store::Sqlite(_) => (
                |n: u8| format!("(SELECT value FROM json_each(${n}))"),
                "(SELECT value ->> 1 FROM json_each($7) WHERE value ->> 0 = s.procedure)",
            ),
        };
        let sql = format!(
            "SELECT {OPEN_CASE_COLUMNS} FROM case_summaries s \
             WHERE status = 'open' AND id > $1 AND ( \
               (owner_id IS NULL AND procedure IN {assign}) \
               OR (procedure IN {acknowledge} AND EXISTS (SELECT 1 FROM case_deadlines d \
                   WHERE d.case_id = s.id AND d.step = 'acknowledge')) \
               OR (stage = 'stage1' AND procedure IN {escalate} AND EXISTS (SELECT 1 \
                   FROM case_deadlines d WHERE d.case_id = s.id \
                   AND d.step = 'stage1_response' AND d.due < $6)) \
               OR received_on <= {pairs} \
             ) ORDER BY id LIMIT $2",
            assign = among(3),
            acknowledge = among(4),
            escalate = among(5),
        );
        let list = |ids: &[String]| serde_json::to_string(ids).unwrap_or_default();
        let binds = [
            list(&reach.assign),
            list(&reach.acknowledge),
            list(&reach.escalate),
        ];
        let deadlock: Vec<(&str, String)> = reach
            .deadlock
            .iter()
            .map(|(procedure, on)| (procedure.as_str(), on.to_string()))
            .collect();
        let deadlock = serde_json::to_string(&deadlock).unwrap_or_default();
        let rows: Vec<OpenCaseRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(after)
            .bind(i64::from(limit))
            .bind(&binds[0])
            .bind(&binds[1])
            .bind(&binds[2])
            .bind(reach.today.to_string())
            .bind(&deadlock)
            .fetch_all(pool)
            .await)?;
        self.with_unmet_steps(rows).await
    }

    /// Those of the cases `ids` that are open, in id order, as [`Store::open_cases`] gives
    /// them: what a scan after a burst of commands looks at.
    pub async fn open_cases_among(&self, ids: &[String]) -> Result<Vec<OpenCase>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<OpenCaseRow> = match self {
            Store::Postgres(pool) => {
                let sql = format!(
                    "SELECT {OPEN_CASE_COLUMNS} FROM case_summaries \
                     WHERE status = 'open' AND id = ANY($1) ORDER BY id"
                );
                sqlx::query_as(&sql).bind(ids).fetch_all(pool).await?
            }
            Store::Sqlite(pools) => {
                let sql = format!(
                    "SELECT {OPEN_CASE_COLUMNS} FROM case_summaries WHERE status = 'open' \
                     AND id IN (SELECT value FROM json_each($1)) ORDER BY id"
                );
                sqlx::query_as(&sql)
                    .bind(serde_json::to_string(ids).unwrap_or_default())
                    .fetch_all(&pools.read)
                    .await?
            }
        };
        self.with_unmet_steps(rows).await
    }

    /// The open cases of `rows`, each with its unmet steps (only open cases have deadline
    /// rows).
    async fn with_unmet_steps(&self, rows: Vec<OpenCaseRow>) -> Result<Vec<OpenCase>, sqlx::Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rows.iter().map(|row| row.0.as_str()).collect();
        let steps: Vec<(String, String, String)> = match self {
            Store::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT case_id, step, due FROM case_deadlines WHERE case_id = ANY($1)",
                )
                .bind(&ids)
                .fetch_all(pool)
                .await?
            }
            Store::Sqlite(pools) => {
                sqlx::query_as(
                    "SELECT case_id, step, due FROM case_deadlines \
                     WHERE case_id IN (SELECT value FROM json_each($1))",
                )
                .bind(serde_json::to_string(&ids).unwrap_or_default())
                .fetch_all(&pools.read)
                .await?
            }
        };
        let mut unmet: std::collections::HashMap<String, Vec<(String, NaiveDate)>> =
            std::collections::HashMap::new();
        for (case_id, step, due) in steps {
            let due = due.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            unmet.entry(case_id).or_default().push((step, due));
        }
        rows.into_iter()
            .map(
                |(
                    id,
                    reference,
                    version,
                    procedure,
                    division,
                    owner_id,
                    theme,
                    received_on,
                    stage,
                )| {
                    Ok(OpenCase {
                        unmet: unmet.remove(&id).unwrap_or_default(),
                        id,
                        reference,
                        version,
                        procedure,
                        division,
                        owner_id,
                        theme,
                        received_on: received_on
                            .parse()
                            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                        stage,
                    })
                },
            )
            .collect()
    }
}

/// What the automation rules read of an open case's queue row.
const OPEN_CASE_COLUMNS: &str =
    "id, reference, version, procedure, division, owner_id, theme, received_on, stage";
type OpenCaseRow = (
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// The JSON a channel is sent for a notification: the case, the event's position in it,
/// its type and the event as stored.
pub fn notification_body(row: &OutboxRow) -> String {
    let event: serde_json::Value =
        serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "case_id": row.case_id,
        "sequence": row.sequence,
        "event_type": row.event_type,
        "event": event,
    })
    .to_string()
}
