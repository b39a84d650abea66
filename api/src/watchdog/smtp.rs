//! The mail server as notifications use it. A round opens a connection when its first
//! email is due and sends its emails over it, each to its recipients one `RCPT` at a
//! time, so that a failure lands where it belongs: on the server when it cannot be used
//! at all (not reached, TLS or login failed, the sender refused), which no email is
//! blamed for; on the email whose connection broke under it; else on the recipient the
//! server refused.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Quit, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Address;

/// How long the mail server has to answer: to be connected to (greeting, TLS and login
/// together), and each command.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long it has to take a message once sent: content filters take their time, and a
/// message given up on here that the server goes on to take is sent again (RFC 5321
/// §4.5.3.2.6 suggests 10 minutes; the round's other deliveries wait meanwhile).
pub const TAKE_TIMEOUT: Duration = Duration::from_secs(120);

/// The sender when `CASEFILE_SMTP_FROM` is not set.
pub const DEFAULT_FROM: &str = "Casefile <casefile@localhost>";

/// A mail server and how to talk to it, from `CASEFILE_SMTP_URL` and `CASEFILE_SMTP_FROM`.
#[derive(Clone)]
pub struct Mailer {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    // Without the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The server at `url`: `smtp://host[:port]` plain (port 25), or
    /// `smtp://host[:port]?tls=required` with STARTTLS (port 587; `tls=opportunistic` uses
    /// it when offered), or `smtps://host[:port]` with TLS from the first byte (port 465);
    /// `user:password@` in front of the host logs in, and a path names this host in
    /// `EHLO`. Certificates are checked against the Mozilla root store. Mail goes out from
    /// `from`, a mailbox with an ASCII address.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|err| format!("the sender {from:?}: {err}"))?;
        if !from.email.to_string().is_ascii() {
            return Err(format!("the sender {from}: the address must be ASCII"));
        }
        let url = url::Url::parse(url).map_err(|err| err.to_string())?;
        let host = url
            .host_str()
            .ok_or("no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls_wanted = url
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let parameters = || TlsParameters::new(host.clone()).map_err(|err| err.to_string());
        let (port, tls) = match (url.scheme(), tls_wanted.as_deref()) {
            ("smtp", None) => (25, Tls::None),
            ("smtp", Some("required")) => (587, Tls::Required(parameters()?)),
            ("smtp", Some("opportunistic")) => (587, Tls::Opportunistic(parameters()?)),
            ("smtps", None) => (465, Tls::Wrapper(parameters()?)),
            (scheme, tls) => {
                return Err(format!(
                    "scheme {scheme:?} with tls {tls:?}: use smtp://, smtp://…?tls=required, \
                     smtp://…?tls=opportunistic or smtps://"
                ))
            }
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|err| err.to_string())
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None if !url.username().is_empty() => return Err("a user without a password".into()),
            None => None,
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(Self {
            port: url.port().unwrap_or(port),
            host,
            tls,
            credentials,
            hello,
            from,
        })
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends a test email to `to` on a connection of its own, at once.
    pub async fn send_test(&self, to: Address) -> Sent {
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.clone()))
            .subject("Casefile: a test email")
            .body(
                "This is a test email from Casefile. It came through the mail server that \
                 SLA alert emails go out by."
                    .to_string(),
            );
        let message = match message {
            Ok(message) => message,
            Err(err) => {
                return Sent::refused(vec![Refusal {
                    address: to.to_string(),
                    reply: format!("the message cannot be built: {err}"),
                    for_good: true,
                }])
            }
        };
        let mut session = self.session();
        let sent = session.send(&message, &[to.to_string()]).await;
        session.close().await;
        sent
    }

    /// A round's session, connected when its first email is sent.
    pub fn session(&self) -> Session<'_> {
        Session {
            mailer: self,
            connection: None,
        }
    }

    /// A connection ready for mail: greeted, encrypted as configured, logged in.
    async fn connect(&self) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let wrapped = match &self.tls {
            Tls::Wrapper(parameters) => Some(parameters.clone()),
            _ => None,
        };
        let mut connection = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(TIMEOUT),
            &self.hello,
            wrapped,
            None,
        )
        .await?;
        match &self.tls {
            Tls::Required(parameters) => {
                connection.starttls(parameters.clone(), &self.hello).await?
            }
            Tls::Opportunistic(parameters) if connection.can_starttls() => {
                connection.starttls(parameters.clone(), &self.hello).await?;
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

/// Why the server could not be used for any email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDown {
    pub error: String,
    /// A refusal that waiting will not mend (a 5xx reply, TLS or a login the server does
    /// not offer): a setting to look at, not an outage.
    pub settings: bool,
}

/// A recipient the server did not take the email for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub address: String,
    /// The server's reply, or what went wrong.
    pub reply: String,
    /// Refused for good: trying again will not help.
    pub for_good: bool,
}

/// How sending one email went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The server could not be used, for this email or any other.
    ServerDown(ServerDown),
    /// The recipients who took it, and those who did not; `connection_lost` when the
    /// connection broke under it (no answer in time, or closed), which may be the server's
    /// doing, so the round's other emails wait rather than each meet it in turn.
    Tried {
        accepted: Vec<String>,
        refused: Vec<Refusal>,
        connection_lost: bool,
    },
}

impl Sent {
    fn refused(refused: Vec<Refusal>) -> Self {
        Self::Tried {
            accepted: Vec::new(),
            refused,
            connection_lost: false,
        }
    }
}

pub struct Session<'a> {
    mailer: &'a Mailer,
    connection: Option<AsyncSmtpConnection>,
}

/// Why an email's transaction did not begin.
enum NotBegun {
    /// The server cannot be used.
    Down(ServerDown),
    /// The connection failed under the transaction, which another may not.
    Broken(String),
    /// The server cannot take this email: its recipients, or the options it needs.
    Refused(Vec<Refusal>),
}

fn no_answer(within: Duration) -> String {
    format!("no answer within {} s", within.as_secs())
}

/// A step that failed: the server's reply code if it replied, and what it said.
struct StepFailed {
    code: Option<u16>,
    /// A refusal for good (see [`refused_for_good`]).
    for_good: bool,
    text: String,
}

impl StepFailed {
    /// No reply, or `421`: the connection cannot go on.
    fn broke(&self) -> bool {
        self.code.is_none_or(|code| code == CLOSING)
    }
}

/// `step` within `within`.
async fn in_time<T>(
    within: Duration,
    step: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, StepFailed> {
    match tokio::time::timeout(within, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(StepFailed {
            code: err.status().map(u16::from),
            for_good: refused_for_good(&err),
            text: err.to_string(),
        }),
        Err(_) => Err(StepFailed {
            code: None,
            for_good: false,
            text: no_answer(within),
        }),
    }
}

/// `421`: the server is closing the connection.
const CLOSING: u16 = 421;

impl Session<'_> {
    /// Sends `message` to those of `recipients` the server takes.
    pub async fn send(&mut self, message: &lettre::Message, recipients: &[String]) -> Sent {
        let body = message.formatted();
        let mut addresses = Vec::with_capacity(recipients.len());
        let mut refused = Vec::new();
        for recipient in recipients {
            match recipient.parse::<Address>() {
                Ok(address) => addresses.push(address),
                Err(err) => refused.push(Refusal {
                    address: recipient.clone(),
                    reply: format!("not an address: {err}"),
                    for_good: true,
                }),
            }
        }
        if addresses.is_empty() {
            return Sent::refused(refused);
        }
        // A connection kept from the email before may have been closed by the server since,
        // with or without a last word (`451 timeout waiting for client input`): one whose
        // `MAIL` fails is replaced once, before the server is taken to be down.
        // Non-ASCII addresses anywhere in the message (its headers name every recipient,
        // not only this attempt's) need SMTPUTF8.
        let utf8 = message
            .envelope()
            .to()
            .iter()
            .chain(&addresses)
            .any(|address| !address.to_string().is_ascii());
        let reused = self.connection.is_some();
        let begun = match self.begin(&addresses, &body, utf8).await {
            Err(NotBegun::Broken(_) | NotBegun::Down(_)) if reused => {
                self.begin(&addresses, &body, utf8).await
            }
            begun => begun,
        };
        match begun {
            Ok(()) => {}
            Err(NotBegun::Down(down)) => return Sent::ServerDown(down),
            Err(NotBegun::Broken(error)) => {
                return Sent::ServerDown(ServerDown {
                    error,
                    settings: false,
                })
            }
            Err(NotBegun::Refused(more)) => {
                refused.extend(more);
                return Sent::refused(refused);
            }
        }
        let Some(connection) = self.connection.as_mut() else {
            return Sent::ServerDown(ServerDown {
                error: "the connection was lost".to_string(),
                settings: false,
            });
        };
        let mut accepted = Vec::new();
        // Set once the connection cannot go on: what went wrong.
        let mut broken: Option<String> = None;
        for address in &addresses {
            if let Some(error) = &broken {
                refused.push(Refusal {
                    address: address.to_string(),
                    reply: error.clone(),
                    for_good: false,
                });
                continue;
            }
            match in_time(
                TIMEOUT,
                connection.command(Rcpt::new(address.clone(), vec![])),
            )
            .await
            {
                Ok(_) => accepted.push(address.to_string()),
                Err(failed) => {
                    if failed.broke() {
                        broken = Some(failed.text.clone());
                    }
                    refused.push(Refusal {
                        address: address.to_string(),
                        for_good: failed.for_good,
                        reply: failed.text,
                    });
                }
            }
        }
        if !accepted.is_empty() {
            let taken = match &broken {
                // Nobody gets a message whose connection broke before it was sent.
                Some(error) => Err(StepFailed {
                    code: None,
                    for_good: false,
                    text: error.clone(),
                }),
                None => match in_time(TIMEOUT, connection.command(Data)).await {
                    Ok(_) => in_time(TAKE_TIMEOUT, connection.message(&body))
                        .await
                        .map(|_| ()),
                    Err(failed) => Err(failed),
                },
            };
            if let Err(failed) = taken {
                // A refusal of the message is every recipient's.
                if failed.broke() && broken.is_none() {
                    broken = Some(failed.text.clone());
                }
                refused.extend(accepted.drain(..).map(|address| Refusal {
                    address,
                    reply: failed.text.clone(),
                    for_good: failed.for_good,
                }));
            }
        }
        let connection_lost = broken.is_some();
        if connection_lost || in_time(TIMEOUT, connection.command(Rset)).await.is_err() {
            self.drop_connection().await;
        }
        Sent::Tried {
            accepted,
            refused,
            connection_lost,
        }
    }

    /// Connects if not connected, and begins a transaction with `MAIL`.
    async fn begin(
        &mut self,
        addresses: &[Address],
        body: &[u8],
        utf8: bool,
    ) -> Result<(), NotBegun> {
        if self.connection.is_none() {
            match tokio::time::timeout(TIMEOUT, self.mailer.connect()).await {
                Ok(Ok(connection)) => self.connection = Some(connection),
                Ok(Err(err)) => {
                    return Err(NotBegun::Down(ServerDown {
                        settings: err.is_permanent() || err.is_client() || err.is_tls(),
                        error: err.to_string(),
                    }))
                }
                Err(_) => {
                    return Err(NotBegun::Down(ServerDown {
                        error: no_answer(TIMEOUT),
                        settings: false,
                    }))
                }
            }
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(NotBegun::Broken("the connection was lost".to_string()));
        };
        // The options this email needs, as lettre's own sending asks for them.
        let info = connection.server_info();
        let cannot = |what: &str| {
            NotBegun::Refused(
                addresses
                    .iter()
                    .map(|address| Refusal {
                        address: address.to_string(),
                        reply: format!("the mail server takes no {what}"),
                        for_good: true,
                    })
                    .collect(),
            )
        };
        let mut parameters = Vec::new();
        if utf8 {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(cannot("non-ASCII address (it offers no SMTPUTF8)"));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !body.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Err(cannot("non-ASCII text (it offers no 8BITMIME)"));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let with_options = !parameters.is_empty();
        let sender = Some(self.mailer.from.email.clone());
        match in_time(TIMEOUT, connection.command(Mail::new(sender, parameters))).await {
            Ok(_) => Ok(()),
            Err(failed) => {
                self.drop_connection().await;
                match failed.code {
                    // The options this email alone needs refused (a parameter not taken,
                    // 555 or 5.5.4; a non-ASCII address, 5.6.7): this email's refusal.
                    Some(code)
                        if with_options
                            && (code == 555
                                || matches!(
                                    enhanced_code(&failed.text),
                                    Some((5, 4) | (6, 7))
                                )) =>
                    {
                        Err(NotBegun::Refused(
                            addresses
                                .iter()
                                .map(|address| Refusal {
                                    address: address.to_string(),
                                    reply: failed.text.clone(),
                                    for_good: code >= 500,
                                })
                                .collect(),
                        ))
                    }
                    // The sender refused: so is every email.
                    Some(code) if code != CLOSING => Err(NotBegun::Down(ServerDown {
                        error: format!("the sender {}: {}", self.mailer.from.email, failed.text),
                        settings: code >= 500,
                    })),
                    _ => Err(NotBegun::Broken(failed.text)),
                }
            }
        }
    }

    /// Says goodbye, once the round's emails are sent.
    pub async fn close(mut self) {
        if let Some(mut connection) = self.connection.take() {
            let _ = in_time(TIMEOUT, connection.command(Quit)).await;
        }
    }

    async fn drop_connection(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), connection.abort()).await;
        }
    }
}

/// Whether a refusal is for good: a 5xx reply, but for a policy refusal (enhanced status
/// `5.7.x`, such as a relay that will not pass mail on), which is as often the relay's
/// settings as the address and so is tried again for the day, as a 4xx is.
fn refused_for_good(err: &lettre::transport::smtp::Error) -> bool {
    err.is_permanent() && enhanced_subject(&err.to_string()) != Some(7)
}

/// The subject of the enhanced status code (RFC 3463) an error's reply begins with, if it
/// has one: `permanent error (550): 5.1.1 no such mailbox` is about an address (1).
fn enhanced_subject(error: &str) -> Option<u8> {
    enhanced_code(error).map(|(subject, _)| subject)
}

/// The subject and detail of the enhanced status code an error's reply begins with.
fn enhanced_code(error: &str) -> Option<(u8, u16)> {
    let reply = error.split_once("): ")?.1;
    let mut parts = reply.split_whitespace().next()?.split('.');
    let class = parts.next()?;
    let subject = parts.next()?.parse().ok()?;
    let detail = parts.next()?.parse().ok()?;
    (matches!(class, "2" | "4" | "5") && parts.next().is_none()).then_some((subject, detail))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    #[test]
    fn smtp_urls_plain_starttls_and_tls_are_understood() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.org?tls=required",
            "smtp://user:secret@mail.example.org:587?tls=opportunistic",
            "smtps://mail.example.org",
            "smtp://[::1]:2525/casefile.example.org",
        ] {
            assert!(Mailer::new(url, DEFAULT_FROM).is_ok(), "{url}");
        }
        for url in [
            "http://mail.example.org",
            "smtp://mail.example.org?tls=sometimes",
            "smtp://user@mail.example.org",
            "mail.example.org",
        ] {
            assert!(Mailer::new(url, DEFAULT_FROM).is_err(), "{url}");
        }
        let mailer = Mailer::new(
            "smtp://user:p%40ss@mail.example.org",
            "Ops <ops@example.org>",
        );
        assert_eq!(mailer.unwrap().port, 25);
        for from in ["no address", "Ops <ops@exämple.org>"] {
            assert!(
                Mailer::new("smtp://mail.example.org", from).is_err(),
                "{from}"
            );
        }
    }

    #[test]
    fn the_enhanced_status_code_subject_is_read_from_the_reply() {
        let subject = |error| enhanced_subject(error);
        assert_eq!(
            subject("permanent error (550): 5.1.1 no such mailbox"),
            Some(1)
        );
        assert_eq!(
            subject("permanent error (554): 5.7.1 relaying denied"),
            Some(7)
        );
        assert_eq!(
            subject("transient error (452): 4.2.2 mailbox full"),
            Some(2)
        );
        assert_eq!(subject("permanent error (550): no such mailbox"), None);
        assert_eq!(subject("permanent error (550): 5.1 short"), None);
        assert_eq!(subject("network error: reset"), None);
    }

    /// How the test server answers.
    #[derive(Clone, Copy)]
    struct Script {
        greeting: &'static str,
        ehlo: &'static str,
        mail: &'static str,
    }

    const WILLING: Script = Script {
        greeting: "220 ready\r\n",
        ehlo: "250 test\r\n",
        mail: "250 ok\r\n",
    };

    /// What the test server saw: each message's envelope recipients, and the connections.
    #[derive(Default)]
    struct Seen {
        messages: Mutex<Vec<Vec<String>>>,
        connections: AtomicUsize,
    }

    /// A mail server on 127.0.0.1:0 answering as `script` says, and each `RCPT` by the
    /// mailbox: `gone@` refused for good (550 5.1.1), `busy@` for now (452 4.2.2),
    /// `policy@` by policy (554 5.7.1), `closing@` with a 421 and the connection closed,
    /// any other taken.
    async fn server(script: Script) -> (Mailer, Arc<Seen>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(session(socket, script, shared.clone()));
            }
        });
        (Mailer::new(&url, DEFAULT_FROM).unwrap(), seen)
    }

    async fn session(socket: tokio::net::TcpStream, script: Script, seen: Arc<Seen>) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(script.greeting.as_bytes()).await.unwrap();
        let mut recipients = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" => script.ehlo,
                "MAIL" => {
                    recipients.clear();
                    script.mail
                }
                "RSET" => {
                    recipients.clear();
                    "250 ok\r\n"
                }
                "RCPT" => match line.get(8..).unwrap_or("").trim() {
                    r if r.starts_with("<gone@") => "550 5.1.1 no such mailbox\r\n",
                    r if r.starts_with("<busy@") => "452 4.2.2 mailbox full\r\n",
                    r if r.starts_with("<policy@") => "554 5.7.1 relaying denied\r\n",
                    r if r.starts_with("<closing@") => {
                        let _ = write.write_all(b"421 4.3.2 shutting down\r\n").await;
                        return;
                    }
                    r => {
                        recipients.push(r.trim_matches(['<', '>']).to_string());
                        "250 ok\r\n"
                    }
                },
                "DATA" => {
                    write.write_all(b"354 go on\r\n").await.unwrap();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if line == "." {
                            break;
                        }
                    }
                    seen.messages
                        .lock()
                        .unwrap()
                        .push(std::mem::take(&mut recipients));
                    "250 queued\r\n"
                }
                "QUIT" => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    return;
                }
                _ => "250 ok\r\n",
            };
            if write.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    fn message(mailer: &Mailer) -> lettre::Message {
        lettre::Message::builder()
            .from(mailer.from().clone())
            .to("owner@example.org".parse().unwrap())
            .subject("s")
            .body(String::new())
            .unwrap()
    }

    async fn send_once(mailer: &Mailer, recipients: &[&str]) -> Sent {
        let recipients: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
        let mut session = mailer.session();
        let sent = session.send(&message(mailer), &recipients).await;
        session.close().await;
        sent
    }

    /// Sends to `recipients` in `session`, which must try them and keep its connection;
    /// who took it and who did not.
    async fn tried_keeping_the_connection(
        session: &mut Session<'_>,
        recipients: &[&str],
    ) -> (Vec<String>, Vec<Refusal>) {
        let recipients: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
        match session.send(&message(session.mailer), &recipients).await {
            Sent::Tried {
                accepted,
                refused,
                connection_lost: false,
            } => (accepted, refused),
            other => panic!("tried, the connection kept: {other:?}"),
        }
    }

    fn down(sent: &Sent) -> &ServerDown {
        match sent {
            Sent::ServerDown(down) => down,
            other => panic!("server down, not {other:?}"),
        }
    }

    /// A server not reached, or one refusing every connection, is down and no email's
    /// fault; a refusal that waiting will not mend (a 5xx greeting, a sender refused for
    /// good, STARTTLS or a login the server does not offer) is a setting to look at.
    #[tokio::test]
    async fn a_server_that_cannot_be_used_is_down_and_a_setting_that_refuses_all_mail_is_said() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", closed.local_addr().unwrap());
        drop(closed);
        let mailer = Mailer::new(&url, DEFAULT_FROM).unwrap();
        assert!(!down(&send_once(&mailer, &["owner@example.org"]).await).settings);

        for (script, settings) in [
            (
                Script {
                    greeting: "421 try later\r\n",
                    ..WILLING
                },
                false,
            ),
            (
                Script {
                    greeting: "554 no\r\n",
                    ..WILLING
                },
                true,
            ),
            (
                Script {
                    mail: "451 4.3.0 local problem\r\n",
                    ..WILLING
                },
                false,
            ),
            (
                Script {
                    mail: "550 5.7.1 sender refused\r\n",
                    ..WILLING
                },
                true,
            ),
        ] {
            let (mailer, seen) = server(script).await;
            let sent = send_once(&mailer, &["owner@example.org"]).await;
            assert_eq!(down(&sent).settings, settings, "{sent:?}");
            assert!(seen.messages.lock().unwrap().is_empty());
        }

        let (plain, _) = server(WILLING).await;
        for url in [
            format!("smtp://{}:{}?tls=required", plain.host, plain.port),
            format!("smtp://user:secret@{}:{}", plain.host, plain.port),
        ] {
            let mailer = Mailer::new(&url, DEFAULT_FROM).unwrap();
            let sent = send_once(&mailer, &["owner@example.org"]).await;
            assert!(down(&sent).settings, "{url}: {sent:?}");
        }
    }

    /// Each recipient is asked for on its own: the message goes to those the server takes,
    /// a mailbox refused for good or for now is told apart (a policy refusal counting as
    /// for now), and one connection carries a round's emails.
    #[tokio::test]
    async fn each_recipient_is_taken_or_refused_on_its_own_over_one_connection() {
        let (mailer, seen) = server(WILLING).await;
        let mut session = mailer.session();
        let (accepted, refused) =
            tried_keeping_the_connection(&mut session, &["owner@example.org", "gone@example.org"])
                .await;
        assert_eq!(accepted, ["owner@example.org"]);
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0].for_good && refused[0].reply.contains("550"),
            "{refused:?}"
        );

        let (accepted, refused) =
            tried_keeping_the_connection(&mut session, &["busy@example.org", "policy@example.org"])
                .await;
        assert!(accepted.is_empty());
        assert_eq!(
            refused
                .iter()
                .map(|r| (r.for_good, &r.address[..4]))
                .collect::<Vec<_>>(),
            [(false, "busy"), (false, "poli")]
        );

        let (_, refused) =
            tried_keeping_the_connection(&mut session, &["leader@example.org"]).await;
        assert!(refused.is_empty(), "{refused:?}");
        session.close().await;
        assert_eq!(
            *seen.messages.lock().unwrap(),
            [vec!["owner@example.org"], vec!["leader@example.org"]]
        );
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    }

    /// A server that closes the connection over one recipient (421) refuses that email for
    /// now, to the recipient it had taken as well, who gets nothing; the connection is
    /// lost, and the next email goes out over a new one.
    #[tokio::test]
    async fn a_connection_closed_under_one_email_is_made_again_for_the_next() {
        let (mailer, seen) = server(WILLING).await;
        let mut session = mailer.session();
        let sent = session
            .send(
                &message(&mailer),
                &[
                    "leader@example.org".to_string(),
                    "closing@example.org".to_string(),
                ],
            )
            .await;
        let Sent::Tried {
            accepted,
            refused,
            connection_lost: true,
        } = sent
        else {
            panic!("tried, the connection lost")
        };
        assert!(accepted.is_empty());
        assert_eq!(refused.len(), 2);
        assert!(
            refused
                .iter()
                .all(|r| !r.for_good && r.reply.contains("421")),
            "{refused:?}"
        );
        let sent = session
            .send(&message(&mailer), &["owner@example.org".to_string()])
            .await;
        assert!(
            matches!(&sent, Sent::Tried { refused, .. } if refused.is_empty()),
            "{sent:?}"
        );
        session.close().await;
        assert_eq!(*seen.messages.lock().unwrap(), [vec!["owner@example.org"]]);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    }

    /// A server that refuses the `MAIL` options one email needs (SMTPUTF8, for a non-ASCII
    /// address) refuses that email, not every email: it is not taken for down.
    #[tokio::test]
    async fn a_refusal_of_the_options_one_email_needs_is_that_email_s() {
        let (mailer, seen) = server(Script {
            ehlo: "250-test\r\n250 SMTPUTF8\r\n",
            mail: "555 5.5.4 unsupported option\r\n",
            ..WILLING
        })
        .await;
        let sent = send_once(&mailer, &["jürgen@example.org"]).await;
        let Sent::Tried {
            accepted, refused, ..
        } = sent
        else {
            panic!("tried")
        };
        assert!(accepted.is_empty());
        assert!(
            refused[0].for_good && refused[0].reply.contains("555"),
            "{refused:?}"
        );
        // Without them, the same refusal is of every email: the server is down.
        let sent = send_once(&mailer, &["owner@example.org"]).await;
        assert!(down(&sent).settings, "{sent:?}");
        assert!(seen.messages.lock().unwrap().is_empty());
    }
}
