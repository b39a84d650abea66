//! Hands outbox rows to the channels (the log, webhooks, email) and attempts webhook
//! deliveries, retrying with exponential backoff. Rows stay in the store until handled,
//! so a crash loses none.

use std::future::Future;
use std::time::Duration;

use casefile_store::outbox::{AttemptResult, OutboxRow, PendingDelivery, Webhook};
use casefile_store::Store;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header a webhook delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "X-Casefile-Signature";

/// Time between delivery rounds.
const POLL: Duration = Duration::from_secs(1);
/// Longest wait between two attempts of a delivery.
const MAX_BACKOFF_SECS: i64 = 3600;
/// How long a receiver has to answer.
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
    Ok(Mailer::from_url(url)?.build())
}

pub struct Deliverer {
    store: Store,
    mailer: Option<Mailer>,
    http: reqwest::Client,
}

impl Deliverer {
    pub fn new(store: Store, mailer: Option<Mailer>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            store,
            mailer,
            http,
        }
    }

    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(err) = self.round().await {
                tracing::warn!(%err, "notification delivery failed");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One round: every pending outbox row to the channels, then every due webhook attempt.
    pub async fn round(&self) -> Result<(), sqlx::Error> {
        self.store
            .deliver_outbox(|row, hooks| self.hand_over(row, hooks))
            .await?;
        self.store
            .attempt_deliveries(|pending| self.attempt(pending))
            .await?;
        Ok(())
    }

    /// The log and email channels; webhooks get their deliveries queued by the store.
    /// `false` keeps the row for the next round.
    async fn hand_over(&self, row: OutboxRow, hooks: Vec<Webhook>) -> bool {
        tracing::info!(
            target: "casefile::notifications",
            case_id = %row.case_id,
            sequence = row.sequence,
            event_type = %row.event_type,
            webhooks = hooks.len(),
            payload = %row.payload,
            "notification"
        );
        match &self.mailer {
            Some(mailer) => self.email(mailer, &row).await,
            None => true,
        }
    }

    /// Emails the case owner, copying their team leader (or the team leader alone when the
    /// owner has no address); `false` (try again next round) if the server did not take the
    /// message. A case without an owner, or with nobody to write to, emails nobody.
    async fn email(&self, mailer: &Mailer, row: &OutboxRow) -> bool {
        let (reference, recipients) = match self.store.notification_recipients(&row.case_id).await {
            Ok(Some(found)) => found,
            Ok(None) => return true,
            Err(err) => {
                tracing::warn!(%err, case_id = %row.case_id, "cannot find who to email");
                return false;
            }
        };
        let (to, copy) = match (recipients.owner, recipients.team_leader) {
            (Some(owner), Some(leader)) if owner != leader => (owner, Some(leader)),
            (Some(owner), _) => (owner, None),
            (None, Some(leader)) => (leader, None),
            (None, None) => return true,
        };
        match send_email(mailer, &reference, &to, copy.as_deref(), row).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(%err, case_id = %row.case_id, "email not sent");
                false
            }
        }
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

    #[test]
    fn backoff_doubles_from_two_seconds_and_stops_at_an_hour() {
        let waits: Vec<i64> = (1..=13).map(backoff_secs).collect();
        assert_eq!(&waits[..4], &[2, 4, 8, 16]);
        assert_eq!(waits[12], MAX_BACKOFF_SECS);
    }
}
