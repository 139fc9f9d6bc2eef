//! One batch of a members import: the next 100 lines, invited in one transaction with their
//! outcomes and the import's counts (`Scope::invite_each`, the rules and daily limit of a single
//! invitation). A crash before the commit leaves the lines to do; after it, they are done: so a
//! line is never invited twice, and an import of a file already imported invites nobody again
//! ("already a member", "already invited"). The invitation emails are sent at bulk priority,
//! like the import, so they never wait in front of any workspace's other runs.

use sea_orm::DatabaseConnection;

use super::batch::{self, LineOutcome, Progress};
use crate::config::Config;
use crate::db::begin_write;
use crate::db::entities::import_row;
use crate::domain::{Email, Role};
use crate::engine::Priority;
use crate::tenancy::Scope;
use crate::workspaces::{Invited, Invitee};

/// Does the next batch of `import_id` for `scope`'s workspace.
pub async fn next_batch(
    db: &DatabaseConnection,
    scope: &Scope,
    import_id: &str,
    config: &Config,
) -> anyhow::Result<Progress> {
    let txn = begin_write(db).await?;
    let (import, lines) = batch::take(&txn, import_id, Some(scope.workspace_id()), &["invitations"]).await?;
    if import.status != "running" {
        return Ok(batch::idle(&import));
    }
    let mut invitees = Vec::with_capacity(lines.len());
    let mut outcomes = Vec::with_capacity(lines.len());
    for line in &lines {
        match invitee_of(line) {
            Some(invitee) => invitees.push((line.row_number, invitee)),
            None => outcomes.push((line.row_number, LineOutcome::Failed("the line could not be read back".into()))),
        }
    }
    let acting = match &import.requested_by {
        Some(label) => scope.on_behalf_of(label),
        None => scope.clone(),
    };
    let people: Vec<Invitee> = invitees.iter().map(|(_, invitee)| invitee.clone()).collect();
    let answers = acting.invite_each(&txn, &people, config, Priority::Bulk).await?;
    for ((number, _), answer) in invitees.iter().zip(&answers) {
        let outcome = match answer {
            Invited::Sent => LineOutcome::Created,
            Invited::AlreadyMember => LineOutcome::Skipped("already a member".into()),
            Invited::AlreadyInvited => LineOutcome::Skipped("already invited".into()),
            Invited::OverDailyLimit { limit } => {
                LineOutcome::Failed(format!("the workspace's daily limit of {limit} invitations was reached"))
            }
        };
        outcomes.push((*number, outcome));
    }
    let progress = batch::settle(&txn, &import, lines.len(), outcomes).await?;
    txn.commit().await?;
    Ok(progress)
}

fn invitee_of(line: &import_row::Model) -> Option<Invitee> {
    let fields: serde_json::Value = serde_json::from_str(&line.fields).ok()?;
    let email = Email::parse(fields["email"].as_str()?).ok()?;
    let role = Role::parse(fields["role"].as_str()?).ok()?;
    Some(Invitee { email, role })
}
