//! Hands outbox rows to the channels (the log, webhooks, email) and attempts webhook
//! deliveries, retrying with exponential backoff. Rows stay in the store until handled,
//! so a crash loses none.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casefile_store::outbox::{AttemptResult, DeliveryLock, OutboxRow, PendingDelivery, Webhook};
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
    /// When each failed email may be tried again.
    emails: Mutex<EmailRetries>,
}

/// The emails that failed, by outbox id: how many times, and not before when each is tried
/// again (backing off as webhook attempts do); and whether the mail server could be
/// reached this round. Kept in memory, each instance its own, so after a restart each is
/// tried at once.
#[derive(Debug, Default)]
struct EmailRetries {
    failed: HashMap<i64, (i64, Instant)>,
    /// Set once in a round the mail server could not be reached or refused all mail: the
    /// round's other emails wait for the next, rather than each trying in turn.
    unreachable: bool,
}

impl EmailRetries {
    fn new_round(&mut self, now: Instant) {
        self.unreachable = false;
        // Not seen again an hour after it was due: delivered by another instance (each
        // round sees up to 1,000 waiting rows).
        self.failed.retain(|_, (_, not_before)| {
            now.saturating_duration_since(*not_before).as_secs() < MAX_BACKOFF_SECS.unsigned_abs()
        });
    }

    fn may_try(&self, id: i64, now: Instant) -> bool {
        !self.unreachable
            && self
                .failed
                .get(&id)
                .is_none_or(|(_, not_before)| now >= *not_before)
    }

    fn sent(&mut self, id: i64) {
        self.failed.remove(&id);
    }

    /// Records a failure; true if it is the round's first with the server unreachable. A
    /// server unreachable is no fault of the row's, which is tried again next round, so
    /// that each waiting email goes out within a round of the server's return.
    fn failed(&mut self, id: i64, now: Instant, unreachable: bool) -> bool {
        if unreachable {
            return !std::mem::replace(&mut self.unreachable, true);
        }
        let attempts = self.failed.get(&id).map_or(1, |(n, _)| n + 1);
        let wait = Duration::from_secs(backoff_secs(attempts).unsigned_abs());
        self.failed.insert(id, (attempts, now + wait));
        false
    }
}

/// How an email went.
enum Emailed {
    /// Sent, or nobody to write to.
    Done,
    /// Not tried: its backoff, or the server unreachable this round.
    Waiting,
    /// Tried and not sent.
    Failed,
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
            emails: Mutex::default(),
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

    /// One round: the pending outbox rows to the channels and the due webhook attempts,
    /// a batch of each in turn while either comes full (after a burst of alerts thousands
    /// wait), each batch after the first giving way to people's requests as the
    /// watchdog's commands do. Each kind goes on from its last batch's last id, so a row
    /// is tried at most once a round (a failed email or webhook attempt after its
    /// backoff), a row that keeps failing holds back none after it, and a round ends. A
    /// kind whose batch came short is looked at again from there in each turn the other
    /// goes on. A mail server that cannot be reached is tried once a round.
    pub async fn round(&self) -> Result<(), sqlx::Error> {
        self.emails().new_round(Instant::now());
        let (mut outbox, mut deliveries) = (0, 0);
        for batch in 0..ROUND_BATCHES {
            if batch > 0 {
                self.in_flight.turn(super::GIVE_WAY).await;
            }
            let mut more = false;
            let taken = self
                .store
                .deliver_outbox(outbox, |row, hooks| self.hand_over(row, hooks))
                .await?;
            outbox = taken.last.unwrap_or(outbox);
            more |= taken.full();
            let taken = self
                .store
                .attempt_deliveries(deliveries, |pending| self.attempt(pending))
                .await?;
            deliveries = taken.last.unwrap_or(deliveries);
            more |= taken.full();
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// The log and email channels; webhooks get their deliveries queued by the store.
    /// `false` keeps the row for a later round. A row whose email waits is not logged
    /// either, so the log has a line for each time a row is handed over or tried.
    async fn hand_over(&self, row: OutboxRow, hooks: Vec<Webhook>) -> bool {
        let handed = match &self.mailer {
            None => true,
            Some(mailer) => match self.email(mailer, &row).await {
                Emailed::Done => true,
                Emailed::Waiting => return false,
                Emailed::Failed => false,
            },
        };
        tracing::info!(
            target: "casefile::notifications",
            case_id = %row.case_id,
            sequence = row.sequence,
            event_type = %row.event_type,
            webhooks = hooks.len(),
            payload = %row.payload,
            "notification"
        );
        handed
    }

    fn emails(&self) -> std::sync::MutexGuard<'_, EmailRetries> {
        self.emails
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Emails the case owner, copying their team leader (or the team leader alone when the
    /// owner has no address). A case without an owner, or with nobody to write to, emails
    /// nobody.
    async fn email(&self, mailer: &Mailer, row: &OutboxRow) -> Emailed {
        let (reference, recipients) = match self.store.notification_recipients(&row.case_id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Emailed::Done,
            Err(err) => {
                tracing::warn!(%err, case_id = %row.case_id, "cannot find who to email");
                return Emailed::Failed;
            }
        };
        let (to, copy) = match (recipients.owner, recipients.team_leader) {
            (Some(owner), Some(leader)) if owner != leader => (owner, Some(leader)),
            (Some(owner), _) => (owner, None),
            (None, Some(leader)) => (leader, None),
            (None, None) => return Emailed::Done,
        };
        if !self.emails().may_try(row.id, Instant::now()) {
            return Emailed::Waiting;
        }
        let sent = tokio::time::timeout(
            TIMEOUT,
            send_email(mailer, &reference, &to, copy.as_deref(), row),
        )
        .await;
        let unreachable = match sent {
            Ok(Ok(())) => {
                self.emails().sent(row.id);
                return Emailed::Done;
            }
            Ok(Err(err)) => {
                tracing::warn!(%err, case_id = %row.case_id, "email not sent");
                server_unreachable(err.as_ref())
            }
            Err(_) => {
                tracing::warn!(case_id = %row.case_id, "email not sent: the mail server did not answer in time");
                true
            }
        };
        if self.emails().failed(row.id, Instant::now(), unreachable) {
            tracing::warn!("the mail server cannot be reached or refuses all mail: this round's other emails wait for the next");
        }
        Emailed::Failed
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

/// Whether an email's error is the mail server's, not the message's: no connection, no
/// SMTP reply, or a reply refusing all mail (service not available, TLS or login failed).
/// Other replies, 4xx or 5xx, are about the message; so is a client error (an address the
/// server cannot take), or a message that could not be built.
fn server_unreachable(err: &(dyn std::error::Error + 'static)) -> bool {
    const REFUSING_ALL: [u16; 6] = [421, 454, 530, 534, 535, 538];
    err.downcast_ref::<lettre::transport::smtp::Error>()
        .is_some_and(|err| match err.status() {
            Some(code) => REFUSING_ALL.contains(&u16::from(code)),
            None => !err.is_client(),
        })
}

async fn send_email(
    mailer: &Mailer,
    reference: &str,
    to: &str,
    cc: Option<&str>,
    row: &OutboxRow,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use lettre::{AsyncTransport, Message};

    let event: casefile_domain::ComplaintEvent = serde_json::from_str(&row.payload)?;
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
    let mut message = Message::builder().from(FROM.parse()?).to(to.parse()?);
    if let Some(cc) = cc {
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

    /// A failed email waits out its backoff (2 s, then 4 s) while the others go on, a sent
    /// one is forgotten, and once the mail server cannot be reached no other email is
    /// tried until the next round, when every one waiting is tried again.
    #[test]
    fn a_failed_email_waits_its_backoff_and_an_unreachable_server_is_tried_once_a_round() {
        let start = Instant::now();
        let after = |secs: f64| start + Duration::from_secs_f64(secs);
        let mut emails = EmailRetries::default();
        emails.new_round(start);
        assert!(emails.may_try(1, start));
        assert!(!emails.failed(1, start, false), "a refusal of the message");
        assert!(!emails.may_try(1, after(1.999)));
        assert!(emails.may_try(1, after(2.0)));
        assert!(emails.may_try(2, start), "the others go on");
        assert!(!emails.failed(1, after(2.0), false));
        assert!(!emails.may_try(1, after(5.999)));
        assert!(emails.may_try(1, after(6.0)));

        assert!(emails.failed(2, after(6.0), true), "the first time, said");
        assert!(!emails.failed(2, after(6.0), true), "once a round");
        assert!(!emails.may_try(3, after(6.0)), "no other email this round");
        emails.new_round(after(7.0));
        assert!(emails.may_try(3, after(7.0)), "tried again next round");
        assert!(
            emails.may_try(2, after(7.0)),
            "the server's fault, not the row's"
        );
        assert!(!emails.may_try(1, after(5.999)));
        emails.sent(1);
        assert!(emails.may_try(1, after(7.0)));

        emails.failed(4, after(7.0), false);
        emails.new_round(after(9.0 + 3_599.0));
        assert_eq!(emails.failed.len(), 1, "row 4 was due at 9 s");
        emails.new_round(after(9.0 + 3_600.0));
        assert!(
            emails.failed.is_empty(),
            "not seen for an hour after it was due"
        );
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
    /// one message, and an address that does not parse, are the message's.
    #[tokio::test]
    async fn only_a_server_not_reached_or_refusing_all_mail_is_unreachable() {
        use lettre::AsyncTransport;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", closed.local_addr().unwrap());
        drop(closed);
        let err = smtp_transport(&url)
            .unwrap()
            .send(message())
            .await
            .unwrap_err();
        assert!(server_unreachable(&err), "{err:?}");

        let err = send_to_greeting("421 closing, try later\r\n").await;
        assert!(err.is_transient(), "{err:?}");
        assert!(server_unreachable(&err));

        // A 5xx greeting that is not one of the refusals of all mail.
        let err = send_to_greeting("554 no\r\n").await;
        assert!(err.is_permanent(), "{err:?}");
        assert!(!server_unreachable(&err));

        let err: Box<dyn std::error::Error + Send + Sync> =
            "no address".parse::<lettre::Address>().unwrap_err().into();
        assert!(!server_unreachable(err.as_ref()));
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
            let batch = store
                .deliver_outbox(after, |_, _| async { true })
                .await
                .unwrap();
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
