//! Hands outbox rows over (the log line, and the webhook deliveries and email each one
//! queues) and attempts the webhook deliveries and emails, retrying with exponential
//! backoff. Rows stay in the store until handled, so a crash loses none.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use casefile_store::outbox::{
    AttemptResult, DeliveryLock, EmailAttempt, OutboxRow, PendingDelivery, PendingEmail, Webhook,
};
use casefile_store::Store;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Mutex;

use super::smtp::{Refusal, Sent, Session};
use crate::in_flight::InFlight;

pub use super::smtp::Mailer;

/// The header a webhook delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "X-Casefile-Signature";

/// Time between delivery rounds.
const POLL: Duration = Duration::from_secs(1);
/// Most batches of each kind in one round; the rest wait for the next.
const ROUND_BATCHES: usize = 50;
/// Longest wait between two attempts of a delivery.
const MAX_BACKOFF_SECS: i64 = 3600;
/// How long a webhook receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at an email a recipient refuses for now (a 4xx reply, or a policy refusal)
/// before it is given up for them: with the backoff, about 25 hours of trying.
pub const EMAIL_ATTEMPTS: i64 = 36;

/// `sha256=<hex>`: HMAC-SHA256 of the body under the webhook's secret.
pub fn signature(secret: &str, body: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Seconds to wait after the `attempts`-th failed attempt: 2, 4, 8, … up to an hour.
pub fn backoff_secs(attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 12)).unwrap_or(12);
    2_i64.pow(exponent).min(MAX_BACKOFF_SECS)
}

pub struct Deliverer {
    store: Store,
    mailer: Option<Mailer>,
    http: reqwest::Client,
    /// The requests being answered, which each batch after a round's first gives way to.
    in_flight: Arc<InFlight>,
    /// Set once in a round the mail server cannot be used: the round's other emails wait
    /// for the next, rather than each trying in turn.
    mail_server_down: AtomicBool,
    /// Whether the mail server was last found down: its going down and its coming back
    /// are each logged once, not every round.
    mail_was_down: AtomicBool,
}

/// What becomes of an email after its `attempt`-th attempt, at which the recipients
/// `accepted` took it and those `refused` did not: tried again after its backoff while one
/// refused it for now, until its last attempt; else done with.
fn after_attempt(
    accepted: Vec<String>,
    refused: &[Refusal],
    attempt: i64,
    now: chrono::DateTime<Utc>,
) -> EmailAttempt {
    let error = (!refused.is_empty()).then(|| {
        refused
            .iter()
            .map(|refusal| format!("{}: {}", refusal.address, refusal.reply))
            .collect::<Vec<_>>()
            .join("; ")
    });
    let for_now = refused.iter().any(|refusal| !refusal.for_good);
    EmailAttempt::Tried {
        sent_to: accepted,
        error,
        retry_at: (for_now && attempt < EMAIL_ATTEMPTS)
            .then(|| now + chrono::Duration::seconds(backoff_secs(attempt))),
    }
}

impl Deliverer {
    pub fn new(store: Store, mailer: Option<Mailer>, in_flight: Arc<InFlight>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            store,
            mailer,
            http,
            in_flight,
            mail_server_down: AtomicBool::new(false),
            mail_was_down: AtomicBool::new(false),
        }
    }

    /// Delivers a round a poll until `shutdown` completes, which ends a round where it is:
    /// a row handed over but not yet recorded is handed over again by the next round, so
    /// a channel may see a notification twice but never miss one.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut lock: Option<DeliveryLock> = None;
        let mut lock_failed = false;
        loop {
            if lock.is_none() {
                lock = match self.store.try_delivery_lock() {
                    Ok(lock) => {
                        lock_failed = false;
                        lock
                    }
                    Err(err) => {
                        // Said once, not every second, until it has worked again.
                        if !lock_failed {
                            tracing::error!(%err, "cannot take the notification delivery lock: no notification goes out until it can");
                        }
                        lock_failed = true;
                        None
                    }
                };
            }
            if lock.is_some() {
                tokio::select! {
                    () = &mut shutdown => return,
                    done = self.round() => if let Err(err) = done {
                        tracing::warn!(%err, "notification delivery failed");
                    },
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One round: the pending outbox rows handed over, and the due webhook deliveries and
    /// emails attempted, a batch of each in turn while any comes full (after a burst of
    /// alerts thousands wait), each batch after the first waiting for a moment with no
    /// request in flight ([`InFlight::moment`]). Each kind goes on from its last batch's last id, so
    /// a row is tried at most once a round, a row that keeps failing holds back none after
    /// it, and a round ends. A kind whose batch came short is looked at again from there
    /// in each turn another goes on. The round's emails share one connection to the mail
    /// server, and one that cannot be used is tried once a round.
    pub async fn round(&self) -> Result<(), sqlx::Error> {
        self.mail_server_down.store(false, Ordering::Relaxed);
        let session = self
            .mailer
            .as_ref()
            .map(|mailer| Mutex::new(mailer.session()));
        let (mut outbox, mut deliveries, mut emails) = (0, 0, 0);
        for batch in 0..ROUND_BATCHES {
            if batch > 0 {
                // A moment only, not a turn: a webhook may take its whole timeout, and
                // alerts must not wait on it.
                self.in_flight.moment(super::GIVE_WAY).await;
            }
            let mut more = false;
            let taken = self
                .store
                .deliver_outbox(outbox, self.mailer.is_some(), log_notification)
                .await?;
            outbox = taken.last.unwrap_or(outbox);
            more |= taken.full();
            let taken = self
                .store
                .attempt_deliveries(deliveries, |pending| self.attempt(pending))
                .await?;
            deliveries = taken.last.unwrap_or(deliveries);
            more |= taken.full();
            if let Some(session) = &session {
                if !self.mail_server_down.load(Ordering::Relaxed) {
                    let taken = self
                        .store
                        .attempt_emails(emails, |pending| self.email(session, pending))
                        .await?;
                    emails = taken.last.unwrap_or(emails);
                    more |= taken.full() && !self.mail_server_down.load(Ordering::Relaxed);
                }
            }
            if !more {
                break;
            }
        }
        if let Some(session) = session {
            session.into_inner().close().await;
        }
        Ok(())
    }

    /// Sends one email to the recipients who do not have it yet, unless the mail server
    /// was found down earlier in the round.
    async fn email(&self, session: &Mutex<Session<'_>>, pending: PendingEmail) -> EmailAttempt {
        if self.mail_server_down.load(Ordering::Relaxed) {
            return EmailAttempt::NotTried;
        }
        let recipients = pending.recipients();
        let sent = match self.mailer.as_ref().map(|m| message(m, &pending)) {
            Some(Ok(message)) => session.lock().await.send(&message, &recipients).await,
            built => Sent::Tried {
                accepted: Vec::new(),
                refused: recipients
                    .iter()
                    .map(|address| Refusal {
                        address: address.clone(),
                        reply: match &built {
                            Some(Err(err)) => format!("the message cannot be built: {err}"),
                            _ => "no mail server is set".to_string(),
                        },
                        for_good: true,
                    })
                    .collect(),
                connection_lost: false,
            },
        };
        let (accepted, refused) = match sent {
            Sent::ServerDown(down) => {
                self.mail_server_down.store(true, Ordering::Relaxed);
                if !self.mail_was_down.swap(true, Ordering::Relaxed) {
                    if down.settings {
                        tracing::error!(error = %down.error, "the mail server refuses all mail: no email goes out until CASEFILE_SMTP_URL or CASEFILE_SMTP_FROM is mended; each waits, tried once a round");
                    } else {
                        tracing::warn!(error = %down.error, "the mail server cannot be used: every email waits, tried once a round");
                    }
                }
                return EmailAttempt::NotTried;
            }
            Sent::Tried {
                accepted,
                refused,
                connection_lost,
            } => {
                if connection_lost {
                    // Counted against this email, which may be its cause; the others wait
                    // for the next round rather than each meet a server gone quiet.
                    self.mail_server_down.store(true, Ordering::Relaxed);
                }
                (accepted, refused)
            }
        };
        if self.mail_was_down.swap(false, Ordering::Relaxed) {
            tracing::info!("the mail server takes mail again");
        }
        let attempt = pending.attempts + 1;
        let anyone = !accepted.is_empty() || !pending.sent_to.is_empty();
        let outcome = after_attempt(accepted, &refused, attempt, Utc::now());
        // Given up when one it was for does not have it and will not be tried again.
        if let EmailAttempt::Tried {
            error: Some(error),
            retry_at,
            ..
        } = &outcome
        {
            let case_id = &pending.row.case_id;
            match (retry_at, anyone) {
                (Some(_), _) => {
                    tracing::warn!(%error, %case_id, attempt, "email not taken by every recipient; tried again later")
                }
                (None, true) => {
                    tracing::error!(%error, %case_id, attempt, "email given up for some of its recipients; the others have it")
                }
                (None, false) => tracing::error!(%error, %case_id, attempt, "email given up"),
            }
        }
        outcome
    }

    async fn attempt(&self, pending: PendingDelivery) -> AttemptResult {
        let sent = self
            .http
            .post(&pending.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(&pending.secret, &pending.body))
            .body(pending.body.clone())
            .send()
            .await;
        let retry_at =
            Some(Utc::now() + chrono::Duration::seconds(backoff_secs(pending.attempts + 1)));
        match sent {
            Ok(response) if response.status().is_success() => AttemptResult {
                status: Some(i64::from(response.status().as_u16())),
                error: None,
                retry_at: None,
            },
            Ok(response) => AttemptResult {
                status: Some(i64::from(response.status().as_u16())),
                error: Some("the receiver did not answer 2xx".to_string()),
                retry_at,
            },
            Err(err) => AttemptResult {
                status: None,
                error: Some(err.to_string()),
                retry_at,
            },
        }
    }
}

/// The log channel: a line for each notification handed over.
fn log_notification(row: &OutboxRow, hooks: &[Webhook]) {
    tracing::info!(
        target: "casefile::notifications",
        case_id = %row.case_id,
        sequence = row.sequence,
        event_type = %row.event_type,
        webhooks = hooks.len(),
        payload = %row.payload,
        "notification"
    );
}

/// The email of a notification, from `mailer`'s sender, addressed as it was queued.
fn message(
    mailer: &Mailer,
    email: &PendingEmail,
) -> Result<lettre::Message, Box<dyn std::error::Error + Send + Sync>> {
    let reference = &email.reference;
    let event: casefile_domain::ComplaintEvent = serde_json::from_str(&email.row.payload)?;
    let (subject, text) = match &event {
        casefile_domain::ComplaintEvent::SlaAlertRaised {
            step, state, due, ..
        } => (
            format!("{reference}: {} {}", step.as_str(), state.as_str()),
            format!(
                "Case {reference}: the step {} is {} (due {due}).",
                step.as_str(),
                state.as_str().replace('_', " ")
            ),
        ),
        casefile_domain::ComplaintEvent::SlaAlertResolved {
            step, due, reason, ..
        } => (
            format!("{reference}: {} alert resolved", step.as_str()),
            format!(
                "Case {reference}: the alert on {} (due {due}) is resolved: {}.",
                step.as_str(),
                serde_json::to_value(reason)?.as_str().unwrap_or("resolved")
            ),
        ),
        other => (format!("{reference}: {}", other.name()), String::new()),
    };
    // An address that does not parse (one stored before addresses were checked as a mail
    // server reads them) is left out of the headers and refused on its own when sent.
    let mut message = lettre::Message::builder().from(mailer.from().clone());
    if let Ok(to) = email.to.parse::<lettre::message::Mailbox>() {
        message = message.to(to);
    }
    if let Some(Ok(cc)) = email
        .cc
        .as_deref()
        .map(str::parse::<lettre::message::Mailbox>)
    {
        message = message.cc(cc);
    }
    Ok(message.subject(subject).body(text)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn refusal(address: &str, for_good: bool) -> Refusal {
        Refusal {
            address: address.to_string(),
            reply: if for_good { "550 gone" } else { "452 busy" }.to_string(),
            for_good,
        }
    }

    /// An email a recipient refuses for now is tried again after 2, 4, 8… s up to an hour,
    /// until its last attempt; one refused for good by everyone left is done with at once;
    /// the recipients who took it are recorded either way.
    #[test]
    fn a_refusal_for_now_backs_off_until_the_last_attempt_and_one_for_good_does_not() {
        let now = Utc::now();
        let retry = |refused: &[Refusal], attempt| match after_attempt(
            vec!["owner@example.org".to_string()],
            refused,
            attempt,
            now,
        ) {
            EmailAttempt::Tried {
                retry_at, sent_to, ..
            } => {
                assert_eq!(sent_to, ["owner@example.org"]);
                retry_at.map(|at| (at - now).num_seconds())
            }
            other => panic!("{other:?}"),
        };
        let busy = [refusal("busy@example.org", false)];
        assert_eq!(retry(&busy, 1), Some(2));
        assert_eq!(retry(&busy, 2), Some(4));
        assert_eq!(retry(&busy, 12), Some(MAX_BACKOFF_SECS));
        assert_eq!(retry(&busy, EMAIL_ATTEMPTS - 1), Some(MAX_BACKOFF_SECS));
        assert_eq!(retry(&busy, EMAIL_ATTEMPTS), None);
        assert_eq!(retry(&[refusal("gone@example.org", true)], 1), None);
        assert_eq!(retry(&[], 1), None);
        // One refused for now is enough to try again, for them alone.
        let both = [
            refusal("gone@example.org", true),
            refusal("busy@example.org", false),
        ];
        assert_eq!(retry(&both, 1), Some(2));
        let EmailAttempt::Tried { error, .. } = after_attempt(Vec::new(), &both, 1, now) else {
            panic!("tried")
        };
        assert_eq!(
            error.as_deref(),
            Some("gone@example.org: 550 gone; busy@example.org: 452 busy")
        );
        // The waits before the last attempt add up to about a day.
        let waited: i64 = (1..EMAIL_ATTEMPTS).map(backoff_secs).sum();
        assert!((24 * 3600..26 * 3600).contains(&waited), "{waited} s");
    }

    /// A SQLite store with a webhook for alerts at `url` and `waiting` alerts in the outbox.
    async fn store_with_waiting(
        dir: &tempfile::TempDir,
        url: &str,
        waiting: i64,
    ) -> (Store, casefile_store::outbox::Webhook) {
        let database = format!("sqlite://{}", dir.path().join("casefile.db").display());
        let store = Store::open(&database, casefile_store::Access::Migrate)
            .await
            .unwrap();
        let hook = store
            .create_webhook(
                url,
                "a-long-shared-secret-for-tests",
                &["SlaAlertRaised".to_string()],
            )
            .await
            .unwrap();
        let Store::Sqlite(pools) = &store else {
            unreachable!("a SQLite store")
        };
        for sequence in 0..waiting {
            sqlx::query(
                "INSERT INTO outbox (case_id, sequence, event_type, payload) \
                 VALUES ('a-case', $1, 'SlaAlertRaised', '{}')",
            )
            .bind(sequence)
            .execute(&pools.write)
            .await
            .unwrap();
        }
        (store, hook)
    }

    /// More rows wait than a batch takes, and every webhook attempt fails at once (the
    /// receiver's port is closed): one round hands over every row and attempts every
    /// delivery once, each then waiting for its backoff, and ends.
    #[tokio::test]
    async fn a_round_takes_batch_after_batch_trying_each_row_once() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", closed.local_addr().unwrap());
        drop(closed);
        let dir = tempfile::tempdir().unwrap();
        let waiting = 2 * casefile_store::outbox::BATCH + 5;
        let (store, hook) = store_with_waiting(&dir, &url, waiting).await;
        let deliverer = Deliverer::new(store.clone(), None, Arc::default());

        tokio::time::timeout(Duration::from_secs(60), deliverer.round())
            .await
            .expect("the round ends")
            .unwrap();
        let Store::Sqlite(pools) = &store else {
            unreachable!("a SQLite store")
        };
        let undelivered: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(&pools.read)
                .await
                .unwrap();
        assert_eq!(undelivered, 0);
        let deliveries = store.deliveries(&hook.id).await.unwrap().unwrap();
        assert_eq!(deliveries.len(), usize::try_from(waiting).unwrap());
        for delivery in &deliveries {
            assert_eq!(delivery.attempts, 1, "{delivery:?}");
            assert!(delivery.delivered_at.is_none());
            let attempted: chrono::DateTime<Utc> =
                delivery.history[0].attempted_at.parse().unwrap();
            let next: chrono::DateTime<Utc> = delivery.next_attempt_at.parse().unwrap();
            assert!(
                // The backoff (2 s) counts from just after the attempt's answer.
                next > attempted + chrono::Duration::seconds(1),
                "{delivery:?}"
            );
        }
    }

    /// A failed delivery due again at once (as one whose backoff has passed while a round
    /// goes on) is not taken again by the batches after it: each starts after the last id
    /// the one before took, so batches taken until one comes short end, each row tried once.
    #[tokio::test]
    async fn batches_go_on_after_the_last_id_taken() {
        let dir = tempfile::tempdir().unwrap();
        let waiting = 2 * casefile_store::outbox::BATCH + 5;
        let (store, hook) = store_with_waiting(&dir, "http://127.0.0.1:9/hook", waiting).await;
        let mut after = 0;
        loop {
            let batch = store.deliver_outbox(after, false, |_, _| {}).await.unwrap();
            after = batch.last.unwrap_or(after);
            if !batch.full() {
                break;
            }
        }
        let sent = std::sync::atomic::AtomicI64::new(0);
        let (mut after, mut batches) = (0, 0);
        loop {
            let batch = store
                .attempt_deliveries(after, |_| async {
                    sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    AttemptResult {
                        status: Some(503),
                        error: Some("the receiver did not answer 2xx".to_string()),
                        retry_at: Some(Utc::now() - chrono::Duration::seconds(60)),
                    }
                })
                .await
                .unwrap();
            assert_eq!(batch.failed, batch.taken);
            after = batch.last.unwrap_or(after);
            batches += 1;
            assert!(batches <= 3, "batches go on past the rows waiting");
            if !batch.full() {
                break;
            }
        }
        assert_eq!(sent.into_inner(), waiting);
        let deliveries = store.deliveries(&hook.id).await.unwrap().unwrap();
        assert!(deliveries.iter().all(|d| d.attempts == 1));
    }

    #[test]
    fn backoff_doubles_from_two_seconds_and_stops_at_an_hour() {
        let waits: Vec<i64> = (1..=13).map(backoff_secs).collect();
        assert_eq!(&waits[..4], &[2, 4, 8, 16]);
        assert_eq!(waits[12], MAX_BACKOFF_SECS);
    }
}
