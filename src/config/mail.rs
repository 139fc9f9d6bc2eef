//! Email settings: where mail is sent (`OFFSTAGE_SMTP_URL`, over how many connections), who it is
//! from, and which certificates the SMTP server's TLS may use.

use std::path::PathBuf;

use anyhow::bail;

use super::{Secret, number_in, var};

/// Email: where it is sent and who it is from.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:25`, `smtp://user:pass@host:587` (STARTTLS), `smtps://…`; None: mail is
    /// captured in the admin Mailbox instead of sent.
    pub smtp_url: Option<Secret>,
    /// The From header: `Offstage <hello@example.com>`.
    pub from: String,
    /// PEM certificate(s) trusted for the SMTP server's TLS besides the public roots (a relay
    /// with a private CA).
    pub smtp_ca_file: Option<PathBuf>,
    /// SMTP connections per process, each carrying one email at a time
    /// (`OFFSTAGE_SMTP_CONNECTIONS`): a kill -9 can repeat at most this many accepted emails.
    pub smtp_connections: usize,
}

/// SMTP connections per process unless `OFFSTAGE_SMTP_CONNECTIONS` says otherwise.
pub const SMTP_CONNECTIONS: usize = 4;

impl Default for MailSettings {
    fn default() -> MailSettings {
        MailSettings {
            smtp_url: None,
            from: "Offstage <offstage@localhost>".into(),
            smtp_ca_file: None,
            smtp_connections: SMTP_CONNECTIONS,
        }
    }
}

impl MailSettings {
    pub(super) fn from_env() -> anyhow::Result<MailSettings> {
        let smtp_url = match var("OFFSTAGE_SMTP_URL") {
            Some(url) => {
                let parsed = url::Url::parse(&url).ok().filter(|u| matches!(u.scheme(), "smtp" | "smtps"));
                if parsed.is_none_or(|u| u.host_str().is_none()) {
                    bail!("OFFSTAGE_SMTP_URL must be smtp://host:port or smtps://host:port (user:password@ optional)");
                }
                Some(Secret::new(url))
            }
            None => None,
        };
        let from = var("OFFSTAGE_MAIL_FROM").unwrap_or_else(|| MailSettings::default().from);
        if from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("OFFSTAGE_MAIL_FROM must be an address such as “Acme <hello@acme.test>”, got “{from}”");
        }
        let smtp_ca_file = var("OFFSTAGE_SMTP_CA_FILE").map(PathBuf::from);
        let smtp_connections = number_in("OFFSTAGE_SMTP_CONNECTIONS", 1..=64, SMTP_CONNECTIONS)?;
        Ok(MailSettings { smtp_url, from, smtp_ca_file, smtp_connections })
    }
}
