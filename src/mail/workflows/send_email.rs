//! `send_email`: delivers one outbox row, as a run of the email's workspace, so each workspace's
//! deliveries take that workspace's turns (`engine::queue::fair`). Suppressed recipients
//! (lifecycle mail after an unsubscribe) are skipped; a failure is retried with backoff and the
//! last one leaves the email `failed`. Exactly-once over SMTP is impossible, so the window is made
//! small: the SMTP hand-over and the `sent` mark happen under the lock of the connection that
//! carries it, so a crash can repeat at most one accepted email per connection
//! (`OFFSTAGE_SMTP_CONNECTIONS` per process; the copy has the same Message-ID). If the `sent` mark
//! itself fails after the server accepted the email, the retry sends it again.

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Config;
use crate::db::entities::email;
use crate::engine::{Outcome, Priority, RunContext, Workflow};
use crate::mail::outbox::{self, Delivery};
use crate::mail::{Category, DeliveryLoader, EmailStatus, Mailer, OutboxWriter, unsubscribe};

pub struct SendEmail;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Params {
    pub email_id: String,
    /// The email's workspace, so its delivery is that workspace's run and takes its turns in
    /// that workspace's lane: one workspace's 100,000 invitations do not hold back another's.
    /// Absent for mail about a person's own account, and in runs queued before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

impl Workflow for SendEmail {
    const NAME: &'static str = "send_email";
    const DESCRIPTION: &'static str = "Delivers one email of the outbox over SMTP (or captures it).";
    const PRIORITY: Priority = Priority::Urgent;
    const INTERNAL: bool = true;
    const MAX_ATTEMPTS: u32 = 8;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let Delivery { email, unsubscribed } = ctx.service::<DeliveryLoader>()?.load(&params.email_id).await?;
        if matches!(EmailStatus::parse(&email.status), Some(EmailStatus::Sent | EmailStatus::Suppressed)) {
            return Ok(Outcome::skipped(
                "the email is still waiting to be sent",
                json!({ "status": email.status, "sent_at": email.sent_at }),
            ));
        }
        if email.category == Category::Lifecycle.as_str() && unsubscribed {
            outbox::mark_suppressed(&ctx.db, &email.id, "the recipient unsubscribed").await?;
            return Ok(Outcome::skipped(
                "the recipient has not unsubscribed",
                json!({ "recipient": email.recipient, "unsubscribed": true }),
            ));
        }
        let mailer = ctx.service::<Mailer>()?;
        let message = message(&email, mailer.from(), &ctx.config)?;
        let transport = mailer.transport_name();
        let writer = ctx.service::<OutboxWriter>()?;
        let record = || async { Ok(writer.mark_sent(email.id.clone(), transport).await?) };
        match mailer.deliver(message, record).await {
            Ok(()) => Ok(Outcome::output(json!({
                "to": email.recipient,
                "message_id": email.message_id,
                "transport": transport,
            }))),
            Err(err) => {
                let last = ctx.attempt >= Self::MAX_ATTEMPTS;
                outbox::record_failure(&ctx.db, &email.id, &format!("{err:#}"), last).await?;
                Err(err)
            }
        }
    }
}

/// The MIME message of an outbox row: text and HTML alternatives, the Message-ID of its dedupe
/// key, and for lifecycle mail the one-click List-Unsubscribe headers (RFC 8058).
pub fn message(email: &email::Model, from: &Mailbox, config: &Config) -> anyhow::Result<Message> {
    let to: Mailbox = email.recipient.parse().map_err(|e| anyhow::anyhow!("recipient {}: {e}", email.recipient))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()));
    if email.category == Category::Lifecycle.as_str() {
        let link = unsubscribe::link(config, &email.recipient);
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{link}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    Ok(builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))?)
}
