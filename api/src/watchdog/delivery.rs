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

use crate::in_flight::InFlight;

/// The header a webhook delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "X-Casefile-Signature";

/// Time between delivery rounds.
const POLL: Duration = Duration::from_secs(1);
/// Most batches of each kind in one round; the rest wait for the next.
const ROUND_BATCHES: usize = 50;
/// Longest wait between two attempts of a delivery.
const MAX_BACKOFF_SECS: i64 = 3600;
/// How long a webhook receiver has to answer, and the mail server to take an email.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at an email the mail server refuses for now (a 4xx reply) before it is given
/// up: with the backoff, about 25 hours of trying.
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

/// The SMTP transport notifications go out by.
pub type Mailer = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;

/// The transport for `CASEFILE_SMTP_URL`: `smtp://host[:port]` plain (port 25), or
/// `smtp://host[:port]?tls=required` with STARTTLS (port 587), or `smtps://host[:port]`
/// with TLS from the first byte (port 465); `user:password@` in front of the host logs in.
/// Certificates are checked against the Mozilla root store.
pub fn smtp_transport(url: &str) -> Result<Mailer, lettre::transport::smtp::Error> {
    Ok(Mailer::from_url(url)?.timeout(Some(TIMEOUT)).build())
}

pub struct Deliverer {
    store: Store,
    mailer: Option<Mailer>,
    http: reqwest::Client,
    /// The requests being answered, which each batch after a round's first gives way to.
    in_flight: Arc<InFlight>,
    /// Set once in a round the mail server cannot be reached or refuses all mail: the
    /// round's other emails wait for the next, rather than each trying in turn.
    mail_server_down: AtomicBool,
}

/// Why an email was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Not reached, no answer in time, or a refusal of all mail: no fault of the message,
    /// which is not counted as tried.
    ServerDown,
    /// A 4xx reply about this message (a mailbox busy or full): tried again later.
    Transient,
    /// A 5xx reply about this message (no such mailbox), an address the server cannot
    /// take, or a message that cannot be built: given up at once.
    Permanent,
}

/// What becomes of an email that failed for `failure` at its `attempt`-th attempt.
fn after_failure(
    failure: Failure,
    error: String,
    attempt: i64,
    now: chrono::DateTime<Utc>,
) -> EmailAttempt {
    match failure {
        Failure::ServerDown => EmailAttempt::NotTried,
        Failure::Transient if attempt < EMAIL_ATTEMPTS => EmailAttempt::Failed {
            error,
            retry_at: Some(now + chrono::Duration::seconds(backoff_secs(attempt))),
        },
        Failure::Transient | Failure::Permanent => EmailAttempt::Failed {
            error,
            retry_at: None,
        },
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
    /// alerts thousands wait), each batch after the first giving way to people's requests
    /// as the watchdog's commands do. Each kind goes on from its last batch's last id, so
    /// a row is tried at most once a round, a row that keeps failing holds back none after
    /// it, and a round ends. A kind whose batch came short is looked at again from there
    /// in each turn another goes on. A mail server that cannot be reached is tried once a
    /// round.
    pub async fn round(&self) -> Result<(), sqlx::Error> {
        self.mail_server_down.store(false, Ordering::Relaxed);
        let (mut outbox, mut deliveries, mut emails) = (0, 0, 0);
        for batch in 0..ROUND_BATCHES {
            if batch > 0 {
                self.in_flight.turn(super::GIVE_WAY).await;
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
            if let Some(mailer) = &self.mailer {
                if !self.mail_server_down.load(Ordering::Relaxed) {
                    let taken = self
                        .store
                        .attempt_emails(emails, |pending| self.email(mailer, pending))
                        .await?;
                    emails = taken.last.unwrap_or(emails);
                    more |= taken.full() && !self.mail_server_down.load(Ordering::Relaxed);
                }
            }
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// Sends one email, unless the mail server was found down earlier in the round.
    async fn email(&self, mailer: &Mailer, pending: PendingEmail) -> EmailAttempt {
        if self.mail_server_down.load(Ordering::Relaxed) {
            return EmailAttempt::NotTried;
        }
        let case_id = pending.row.case_id.clone();
        let attempt = pending.attempts + 1;
        let (failure, error) =
            match tokio::time::timeout(TIMEOUT, send_email(mailer, &pending)).await {
                Ok(Ok(())) => return EmailAttempt::Sent,
                Ok(Err(err)) => (failure_of(err.as_ref()), err.to_string()),
                Err(_) => (
                    Failure::ServerDown,
                    "the mail server did not answer in time".to_string(),
                ),
            };
        let outcome = after_failure(failure, error.clone(), attempt, Utc::now());
        match &outcome {
            EmailAttempt::NotTried => {
                if !self.mail_server_down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "the mail server cannot be reached or refuses all mail: this round's other emails wait for the next");
                }
            }
            EmailAttempt::Failed { retry_at: None, .. } => {
                tracing::error!(%error, %case_id, to = %pending.to, attempt, "email given up");
            }
            _ => tracing::warn!(%error, %case_id, attempt, "email not sent; tried again later"),
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

/// The sender of notification emails.
const FROM: &str = "Casefile <casefile@localhost>";

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

/// Whose fault an email's error is: the mail server's when there is no connection, no
/// SMTP reply, or a reply refusing all mail (service not available, TLS or login failed);
/// else the message's, for now on a 4xx reply, for good on a 5xx one, a client error (an
/// address the server cannot take) or a message that could not be built.
fn failure_of(err: &(dyn std::error::Error + 'static)) -> Failure {
    const REFUSING_ALL: [u16; 6] = [421, 454, 530, 534, 535, 538];
    let Some(err) = err.downcast_ref::<lettre::transport::smtp::Error>() else {
        return Failure::Permanent;
    };
    match err.status() {
        Some(code) if REFUSING_ALL.contains(&u16::from(code)) => Failure::ServerDown,
        Some(_) if err.is_transient() => Failure::Transient,
        Some(_) => Failure::Permanent,
        None if err.is_client() => Failure::Permanent,
        None => Failure::ServerDown,
    }
}

async fn send_email(
    mailer: &Mailer,
    email: &PendingEmail,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use lettre::{AsyncTransport, Message};

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
    let mut message = Message::builder().from(FROM.parse()?).to(email.to.parse()?);
    if let Some(cc) = &email.cc {
        message = message.cc(cc.parse()?);
    }
    let message = message.subject(subject).body(text)?;
    mailer.send(message).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_plain_starttls_and_tls_are_understood() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.org?tls=required",
            "smtp://user:secret@mail.example.org:587?tls=opportunistic",
            "smtps://mail.example.org",
        ] {
            assert!(smtp_transport(url).is_ok(), "{url}");
        }
        for url in [
            "http://mail.example.org",
            "smtp://mail.example.org?tls=sometimes",
        ] {
            assert!(smtp_transport(url).is_err(), "{url}");
        }
    }

    /// A message the server refuses for now is tried again after 2, 4, 8… s and given up
    /// at its last attempt; one refused for good is given up at once; a server down is no
    /// attempt at all.
    #[test]
    fn a_refusal_for_now_backs_off_until_the_last_attempt_and_one_for_good_gives_up() {
        let now = Utc::now();
        let retry_at = |failure, attempt| match after_failure(failure, "e".into(), attempt, now) {
            EmailAttempt::Failed { retry_at, .. } => retry_at.map(|at| (at - now).num_seconds()),
            other => panic!("{other:?}"),
        };
        assert_eq!(retry_at(Failure::Transient, 1), Some(2));
        assert_eq!(retry_at(Failure::Transient, 2), Some(4));
        assert_eq!(retry_at(Failure::Transient, 12), Some(MAX_BACKOFF_SECS));
        assert_eq!(
            retry_at(Failure::Transient, EMAIL_ATTEMPTS - 1),
            Some(MAX_BACKOFF_SECS)
        );
        assert_eq!(retry_at(Failure::Transient, EMAIL_ATTEMPTS), None);
        assert_eq!(retry_at(Failure::Permanent, 1), None);
        assert_eq!(
            after_failure(Failure::ServerDown, "e".into(), 1, now),
            EmailAttempt::NotTried
        );
        // The waits before the last attempt add up to about a day.
        let waited: i64 = (1..EMAIL_ATTEMPTS).map(backoff_secs).sum();
        assert!((24 * 3600..26 * 3600).contains(&waited), "{waited} s");
    }

    /// A message sent to a mail server answering its greeting with `greeting`.
    async fn send_to_greeting(greeting: &'static str) -> lettre::transport::smtp::Error {
        use lettre::AsyncTransport;
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", server.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut socket, _) = server.accept().await.unwrap();
            socket.write_all(greeting.as_bytes()).await.unwrap();
            // Held open until the client has read the reply.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        smtp_transport(&url)
            .unwrap()
            .send(message())
            .await
            .unwrap_err()
    }

    fn message() -> lettre::Message {
        lettre::Message::builder()
            .from(FROM.parse().unwrap())
            .to("owner@example.org".parse().unwrap())
            .subject("s")
            .body(String::new())
            .unwrap()
    }

    /// A closed port, and a server that refuses all mail, are the server's; a refusal of
    /// one message is for now on a 4xx reply and for good on a 5xx one, and an address
    /// that does not parse is for good.
    #[tokio::test]
    async fn only_a_server_not_reached_or_refusing_all_mail_is_down() {
        use lettre::AsyncTransport;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", closed.local_addr().unwrap());
        drop(closed);
        let err = smtp_transport(&url)
            .unwrap()
            .send(message())
            .await
            .unwrap_err();
        assert_eq!(failure_of(&err), Failure::ServerDown, "{err:?}");

        let err = send_to_greeting("421 closing, try later\r\n").await;
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(failure_of(&err), Failure::ServerDown);

        // 4xx and 5xx greetings that are not refusals of all mail.
        let err = send_to_greeting("450 busy\r\n").await;
        assert_eq!(failure_of(&err), Failure::Transient, "{err:?}");
        let err = send_to_greeting("554 no\r\n").await;
        assert!(err.is_permanent(), "{err:?}");
        assert_eq!(failure_of(&err), Failure::Permanent);

        let err: Box<dyn std::error::Error + Send + Sync> =
            "no address".parse::<lettre::Address>().unwrap_err().into();
        assert_eq!(failure_of(err.as_ref()), Failure::Permanent);
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
