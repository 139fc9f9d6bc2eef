//! One batch of a members import: the next 100 lines, invited in one transaction with their
//! outcomes and the import's counts (`Scope::invite_each`, the rules and daily limit of a single
//! invitation). A crash before the commit leaves the lines to do; after it, they are done: so a
//! line is never invited twice, and an import of a file already imported invites nobody again
//! ("already a member", "already invited"). The invitation emails are sent at bulk priority,
//! like the import, so they never wait in front of any workspace's other runs.

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use super::record;
use crate::config::Config;
use crate::db::begin_write;
use crate::db::entities::{import, import_row};
use crate::domain::{Email, Role};
use crate::engine::Priority;
use crate::tenancy::Scope;
use crate::workspaces::{Invited, Invitee};

/// Lines per batch (one run of the chain).
pub const BATCH: u64 = 100;

/// Where the import stands after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub processed: u64,
    pub total: u64,
    /// Whether lines are left to do (and the import still runs).
    pub more: bool,
}

/// Does the next batch of `import_id` for `scope`'s workspace.
pub async fn next_batch(
    db: &DatabaseConnection,
    scope: &Scope,
    import_id: &str,
    config: &Config,
) -> anyhow::Result<Progress> {
    let txn = begin_write(db).await?;
    // Batches of one import take turns on its row (SQLite's writer lock does the same), so a
    // continuation that starts before its predecessor committed reads the lines left after it.
    let import = import::Entity::find_by_id(import_id)
        .filter(import::Column::WorkspaceId.eq(scope.workspace_id()))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the workspace has no import {import_id}"))?;
    let progress = |done: i64, more| Progress { processed: done as u64, total: import.total_rows as u64, more };
    if import.status != "running" {
        return Ok(progress(import.processed_rows, false));
    }
    let lines = record::pending(&txn, import_id, BATCH).await?;
    let mut invitees = Vec::with_capacity(lines.len());
    let mut unreadable = Vec::new();
    for line in &lines {
        match invitee_of(line) {
            Some(invitee) => invitees.push((line.row_number, invitee)),
            None => unreadable.push(line.row_number),
        }
    }
    let acting = match &import.requested_by {
        Some(label) => scope.on_behalf_of(label),
        None => scope.clone(),
    };
    let people: Vec<Invitee> = invitees.iter().map(|(_, invitee)| invitee.clone()).collect();
    let answers = acting.invite_each(&txn, &people, config, Priority::Bulk).await?;
    // Lines with the same outcome and message are marked in one statement.
    let mut marks: BTreeMap<(&str, Option<String>), Vec<i64>> = BTreeMap::new();
    for ((number, _), answer) in invitees.iter().zip(&answers) {
        let (outcome, message) = match answer {
            Invited::Sent => ("created", None),
            Invited::AlreadyMember => ("skipped", Some("already a member".to_owned())),
            Invited::AlreadyInvited => ("skipped", Some("already invited".to_owned())),
            Invited::OverDailyLimit { limit } => {
                ("failed", Some(format!("the workspace's daily limit of {limit} invitations was reached")))
            }
        };
        marks.entry((outcome, message)).or_default().push(*number);
    }
    if !unreadable.is_empty() {
        marks.insert(("failed", Some("the line could not be read back".into())), unreadable);
    }
    let mut counts = [0i64; 3];
    for ((outcome, message), numbers) in marks {
        counts[["created", "skipped", "failed"].iter().position(|o| *o == outcome).unwrap_or(2)] +=
            numbers.len() as i64;
        import_row::Entity::update_many()
            .col_expr(import_row::Column::Outcome, Expr::value(outcome))
            .col_expr(import_row::Column::Message, Expr::value(message))
            .filter(import_row::Column::ImportId.eq(import_id))
            .filter(import_row::Column::RowNumber.is_in(numbers))
            .exec(&txn)
            .await?;
    }
    let [created, skipped, failed] = counts;
    record::count(&txn, import_id, created, skipped, failed).await?;
    let more = lines.len() as u64 == BATCH;
    if !more {
        record::succeed(&txn, import_id).await?;
    }
    txn.commit().await?;
    Ok(progress(import.processed_rows + created + skipped + failed, more))
}

fn invitee_of(line: &import_row::Model) -> Option<Invitee> {
    let fields: serde_json::Value = serde_json::from_str(&line.fields).ok()?;
    let email = Email::parse(fields["email"].as_str()?).ok()?;
    let role = Role::parse(fields["role"].as_str()?).ok()?;
    Some(Invitee { email, role })
}
