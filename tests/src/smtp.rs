//! A mail server for tests on 127.0.0.1:0, speaking just enough SMTP for the service's
//! notification emails, with mailboxes that refuse as real ones do.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Each message taken: its envelope recipients (`<address>`) and its data.
pub type Mail = mpsc::UnboundedReceiver<(Vec<String>, String)>;

/// A minimal SMTP server on 127.0.0.1:0 that accepts one message and passes on its
/// envelope recipients and data.
pub async fn smtp_sink() -> (String, Mail) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        smtp_session(socket, &tx, false).await;
    });
    (format!("smtp://{address}"), rx)
}

/// One SMTP conversation, taking every message and passing on its envelope recipients
/// and data; as a real server might, it refuses the mailbox `gone@…` for good (550) and
/// `busy@…` for now (452), and with `refuse_sender` every sender, as a relay set up
/// for another does (550 5.7.1).
async fn smtp_session(
    socket: tokio::net::TcpStream,
    tx: &mpsc::UnboundedSender<(Vec<String>, String)>,
    refuse_sender: bool,
) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ready\r\n").await.unwrap();
    let mut recipients = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink\r\n",
            "MAIL" if refuse_sender => b"550 5.7.1 sender not allowed to relay\r\n",
            "MAIL" | "RSET" => {
                recipients.clear();
                b"250 ok\r\n"
            }
            "RCPT" => {
                let recipient = line[8..].trim().to_string();
                if recipient.starts_with("<gone@") {
                    b"550 5.1.1 no such mailbox\r\n"
                } else if recipient.starts_with("<busy@") {
                    b"452 4.2.2 mailbox full\r\n"
                } else {
                    recipients.push(recipient);
                    b"250 ok\r\n"
                }
            }
            "DATA" => {
                write.write_all(b"354 go on\r\n").await.unwrap();
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    data.push_str(&line);
                    data.push('\n');
                }
                let _ = tx.send((std::mem::take(&mut recipients), data));
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                break;
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(reply).await.unwrap();
    }
}

/// How a mail server that is not up yet answers.
#[derive(Clone, Copy)]
pub enum NotUp {
    /// It closes each connection at once, as a mail server restarting does.
    Closes,
    /// It refuses every sender for good, as a relay not yet set up for us does.
    RefusesSender,
}

/// An SMTP server that, while `up` is false, answers as `not_up` says; it counts the
/// connections made to it.
pub async fn mail_server_going_up(
    up: Arc<AtomicBool>,
    not_up: NotUp,
) -> (String, Mail, Arc<AtomicUsize>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let up = up.load(Ordering::SeqCst);
            if up || matches!(not_up, NotUp::RefusesSender) {
                let tx = tx.clone();
                tokio::spawn(async move { smtp_session(socket, &tx, !up).await });
            }
        }
    });
    (format!("smtp://{address}"), rx, connections)
}
