//! The mail transport: a few persistent SMTP connections per process when `OFFSTAGE_SMTP_URL` is
//! set (lettre's SMTP client; `OFFSTAGE_SMTP_CONNECTIONS`, 4 by default), else capture (the
//! email stays in the outbox, readable in the admin Mailbox, and nothing leaves). Each
//! connection carries one email at a time: its lock is held from the hand-over until the caller
//! has recorded the email as sent, so a process that dies can leave at most one accepted email
//! unrecorded per connection (see `mail::workflows::send_email`). One connection made delivery
//! a queue: a relay 20 ms away takes about 100 ms per email, ten emails a second.

use crate::telemetry::metrics as telemetry;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::Message;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};

use crate::config::MailSettings;

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

#[derive(Clone)]
enum Transport {
    Smtp(Arc<Smtp>),
    /// Capture takes as many at a time as SMTP would, so both behave alike.
    Captured(Arc<Semaphore>),
}

/// An SMTP conversation that takes longer than this counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// A connection idle this long is checked with NOOP before it is used again.
const IDLE_CHECK: Duration = Duration::from_secs(30);

impl Mailer {
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Mailer> {
        let from: Mailbox = settings.from.parse().context("OFFSTAGE_MAIL_FROM is not an email address")?;
        let transport = match &settings.smtp_url {
            Some(url) => {
                let mut server = Server::parse(url.expose())?;
                if let Some(path) = &settings.smtp_ca_file {
                    let pem = std::fs::read(path)
                        .with_context(|| format!("OFFSTAGE_SMTP_CA_FILE: cannot read {}", path.display()))?;
                    Certificate::from_pem(&pem).context("OFFSTAGE_SMTP_CA_FILE holds no PEM certificate")?;
                    server.ca_pem = Some(pem);
                }
                let connections = (0..settings.smtp_connections).map(|_| Mutex::new(None)).collect();
                let free = Semaphore::new(settings.smtp_connections);
                Transport::Smtp(Arc::new(Smtp { server, free, connections }))
            }
            None => Transport::Captured(Arc::new(Semaphore::new(settings.smtp_connections))),
        };
        Ok(Mailer { transport, from })
    }

    /// True when mail is captured instead of sent.
    pub fn captures(&self) -> bool {
        matches!(self.transport, Transport::Captured(_))
    }

    /// `smtp` or `captured`, as the outbox records it.
    pub fn transport_name(&self) -> &'static str {
        if self.captures() { "captured" } else { "smtp" }
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Hands `message` to the SMTP server (or captures it) and, once the server accepted it,
    /// runs `record` before its connection carries the next email. A failed hand-over returns
    /// the error and records nothing.
    pub async fn deliver<F, Fut>(&self, message: Message, record: F) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        match &self.transport {
            Transport::Captured(free) => {
                let _slot = free.acquire().await?;
                telemetry::email_sent();
                record().await
            }
            Transport::Smtp(smtp) => {
                let _free = smtp.free.acquire().await?;
                // Each holder of a permit holds at most one connection, so one is free.
                let mut open = smtp.connections.iter().find_map(|c| c.try_lock().ok()).context("no free connection")?;
                if let Err(err) = smtp.send(&mut open, &message).await {
                    telemetry::smtp_error();
                    return Err(err);
                }
                telemetry::email_sent();
                record().await
            }
        }
    }
}

/// Where the SMTP server is and how to talk to it, from `OFFSTAGE_SMTP_URL`.
struct Server {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    /// Extra trusted certificates (`OFFSTAGE_SMTP_CA_FILE`).
    ca_pem: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tls {
    None,
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// STARTTLS or fail.
    Required,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

impl Server {
    /// `smtp://host` is plain SMTP (port 25), with STARTTLS required on port 587 or when the URL
    /// says `?tls=required|opportunistic`; `smtps://` is TLS from the start (port 465).
    fn parse(url: &str) -> anyhow::Result<Server> {
        let parsed = url::Url::parse(url).context("OFFSTAGE_SMTP_URL is not a URL")?;
        let host = parsed.host_str().context("OFFSTAGE_SMTP_URL has no host")?.to_owned();
        let asked = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let (tls, default_port) = match (parsed.scheme(), asked.as_deref()) {
            ("smtps", _) => (Tls::Implicit, 465),
            ("smtp", Some("required")) => (Tls::Required, 587),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic, 587),
            ("smtp", Some("none")) => (Tls::None, 25),
            ("smtp", None) if parsed.port() == Some(587) => (Tls::Required, 587),
            ("smtp", None) => (Tls::None, 25),
            (scheme, tls) => anyhow::bail!("OFFSTAGE_SMTP_URL: unknown scheme “{scheme}” or tls=“{tls:?}”"),
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let credentials =
            parsed.password().map(|password| Credentials::new(decode(parsed.username()), decode(password)));
        Ok(Server { port: parsed.port().unwrap_or(default_port), host, tls, credentials, ca_pem: None })
    }
}

struct Smtp {
    server: Server,
    /// A permit per connection not carrying an email.
    free: Semaphore,
    /// Each open (or not yet opened) connection, locked while it carries an email.
    connections: Vec<Mutex<Option<Open>>>,
}

struct Open {
    connection: AsyncSmtpConnection,
    last_used: Instant,
}

impl Smtp {
    /// Sends over the open connection (opened, or checked when idle, first). A connection that
    /// failed is dropped; the next email opens a new one.
    async fn send(&self, open: &mut Option<Open>, message: &Message) -> anyhow::Result<()> {
        if let Some(current) = open.as_mut()
            && (current.connection.has_broken()
                || (current.last_used.elapsed() > IDLE_CHECK && !current.connection.test_connected().await))
        {
            *open = None;
        }
        if open.is_none() {
            let connection = tokio::time::timeout(SMTP_TIMEOUT, self.connect())
                .await
                .map_err(|_| anyhow::anyhow!("no answer from the SMTP server within {} s", SMTP_TIMEOUT.as_secs()))??;
            *open = Some(Open { connection, last_used: Instant::now() });
        }
        let Some(current) = open.as_mut() else { unreachable!("opened above") };
        let sent =
            tokio::time::timeout(SMTP_TIMEOUT, current.connection.send(message.envelope(), &message.formatted())).await;
        match sent {
            Ok(Ok(_)) => {
                current.last_used = Instant::now();
                Ok(())
            }
            Ok(Err(err)) => {
                *open = None;
                Err(anyhow::Error::new(err).context("the SMTP server did not accept the email"))
            }
            Err(_) => {
                *open = None;
                anyhow::bail!("the SMTP server did not answer within {} s", SMTP_TIMEOUT.as_secs())
            }
        }
    }

    async fn connect(&self) -> anyhow::Result<AsyncSmtpConnection> {
        let server = &self.server;
        let hello = ClientId::default();
        let tls = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(server.host.clone());
            if let Some(pem) = &server.ca_pem {
                builder = builder.add_root_certificate(Certificate::from_pem(pem)?);
            }
            builder.build_rustls().context("TLS settings for the SMTP server")
        };
        let mut connection = if server.tls == Tls::Implicit {
            // lettre opens this socket itself, with Nagle on (lettre 0.11.23): a 40 ms pause per email.
            AsyncSmtpConnection::connect_tokio1(
                (server.host.as_str(), server.port),
                Some(SMTP_TIMEOUT),
                &hello,
                Some(tls()?),
                None,
            )
            .await
            .context("could not connect to the SMTP server")?
        } else {
            let socket = TcpStream::connect((server.host.as_str(), server.port))
                .await
                .with_context(|| format!("could not connect to the SMTP server at {}:{}", server.host, server.port))?;
            // lettre writes the message and its final "." separately; with Nagle on, the second
            // write waits for the server's delayed ACK: 40 ms per email (22 emails/s).
            socket.set_nodelay(true)?;
            AsyncSmtpConnection::connect_with_transport(Box::new(socket), &hello)
                .await
                .context("the SMTP server did not greet")?
        };
        match server.tls {
            Tls::Required => connection.starttls(tls()?, &hello).await.context("STARTTLS with the SMTP server")?,
            Tls::Opportunistic if connection.can_starttls() => {
                connection.starttls(tls()?, &hello).await.context("STARTTLS with the SMTP server")?
            }
            _ => {}
        }
        if let Some(credentials) = &server.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .context("the SMTP server refused the user name and password")?;
        }
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_port_tls_and_credentials() {
        let plain = Server::parse("smtp://mail.example.com").unwrap();
        assert_eq!((plain.port, plain.tls == Tls::None, plain.credentials.is_none()), (25, true, true));
        let submission = Server::parse("smtp://ada:p%40ss@mail.example.com:587").unwrap();
        assert!(submission.tls == Tls::Required && submission.credentials.is_some());
        assert_eq!(Server::parse("smtp://h:2525?tls=opportunistic").unwrap().port, 2525);
        let implicit = Server::parse("smtps://h").unwrap();
        assert!(implicit.tls == Tls::Implicit && implicit.port == 465);
        assert!(Server::parse("imap://h").is_err());
        assert!(Server::parse("smtp://h?tls=sometimes").is_err());
    }
}
