//! Email: the outbox (every email a row, sent once by a `send_email` run), the SMTP transport
//! (or capture when none is configured), the templates, one-click unsubscribe, and the sequences
//! (onboarding, dunning). Workflows decide what to send; this module makes sending safe.

mod delivery_loader;
mod error;
pub mod outbox;
mod outbox_postgres;
mod outbox_writer;
pub mod sequences;
pub mod templates;
pub mod transport;
pub mod unsubscribe;
pub mod workflows;

pub use delivery_loader::DeliveryLoader;
pub use error::Error;
pub use outbox::{Category, EmailStatus, NewEmail};
pub use outbox_writer::OutboxWriter;
pub use templates::{Email, Footer, Rendered};
pub use transport::Mailer;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::config::Config;
use crate::db::entities::{membership, user, workspace};
use crate::domain::Role;

/// Links the emails point at.
pub struct Links {
    pub workspace: String,
    pub billing: String,
    pub members: String,
}

impl Links {
    pub fn new(config: &Config, ws: &workspace::Model) -> Links {
        let workspace = format!("{}/admin/workspaces/{}", config.base_url, ws.slug);
        Links { billing: format!("{workspace}/billing"), members: format!("{workspace}/members"), workspace }
    }
}

/// Who receives a workspace's lifecycle mail (`managers`, the weekly digest).
pub const MANAGING_ROLES: [Role; 2] = [Role::Owner, Role::Admin];

/// The owners' and admins' addresses of a workspace, oldest membership first.
pub async fn managers<C: ConnectionTrait>(db: &C, workspace_id: &str) -> Result<Vec<String>, Error> {
    let rows = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace_id))
        .filter(membership::Column::Role.is_in(MANAGING_ROLES.map(Role::as_str)))
        .find_also_related(user::Entity)
        .order_by_asc(membership::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(_, u)| u.map(|u| u.email)).collect())
}

/// The footer of an email to `recipient` about `ws`: lifecycle mail carries the unsubscribe link.
pub fn footer(config: &Config, ws: Option<&workspace::Model>, recipient: &str, category: Category) -> Footer {
    match category {
        Category::Lifecycle => Footer {
            reason: match ws {
                Some(ws) => format!("You receive this because you manage {} on Offstage.", ws.name),
                None => "You receive this because you have an Offstage account.".into(),
            },
            unsubscribe_url: Some(unsubscribe::link(config, recipient)),
        },
        Category::Transactional => Footer {
            reason: "This email is about your account, so it is sent even if you unsubscribed from updates.".into(),
            unsubscribe_url: None,
        },
    }
}

/// The domain of the From address, for Message-IDs.
pub fn from_domain(config: &Config) -> String {
    config
        .mail
        .from
        .parse::<lettre::message::Mailbox>()
        .map(|m| m.email.domain().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// An email about `recipient`'s own account (no workspace), queued inside `txn` under
/// `dedupe_key`: sent once, whatever retries.
pub async fn send_about_account_in<C: ConnectionTrait, E: Email>(
    txn: &C,
    config: &Config,
    recipient: &str,
    dedupe_key: String,
    email: &E,
) -> Result<(), Error> {
    let footer = footer(config, None, recipient, E::CATEGORY);
    let rendered = email.render(&footer)?;
    let new = NewEmail {
        workspace_id: None,
        recipient: recipient.to_owned(),
        kind: E::KIND,
        category: E::CATEGORY,
        dedupe_key,
        rendered,
    };
    outbox::enqueue_in(txn, &[new], &from_domain(config)).await?;
    Ok(())
}

/// One email per recipient, rendered by `render` with that recipient's footer, as outbox rows
/// keyed `{dedupe_prefix}:{recipient}`.
pub fn compose(
    config: &Config,
    ws: &workspace::Model,
    recipients: &[String],
    dedupe_prefix: &str,
    (kind, category): (&'static str, Category),
    render: impl Fn(&Footer) -> askama::Result<Rendered>,
) -> Result<Vec<NewEmail>, Error> {
    recipients
        .iter()
        .map(|recipient| {
            let footer = footer(config, Some(ws), recipient, category);
            let rendered = render(&footer)?;
            Ok(NewEmail {
                workspace_id: Some(ws.id.clone()),
                recipient: recipient.clone(),
                kind,
                category,
                dedupe_key: format!("{dedupe_prefix}:{}", recipient.to_lowercase()),
                rendered,
            })
        })
        .collect()
}
