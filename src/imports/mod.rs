//! Bulk imports: a CSV of people to invite to a workspace, or of workspaces (customers moved from
//! another system) for the platform. The file is read and checked whole (`csv_file`,
//! `workspaces_file`), kept line by line with what became of each (`record`), and worked through
//! 100 lines per run of one chain (`batch`, with `members` or `workspaces`), each 100 in one
//! transaction with what they make, so a crash loses nothing and repeats nothing.

pub mod batch;
pub mod csv_file;
pub mod from_file;
pub mod members;
pub mod record;
pub mod summary;
pub mod workflows;
pub mod workspaces;
pub mod workspaces_file;

use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::tenancy::Scope;

/// Why an import of `wanted` people is refused at its start: more than the workspace may still
/// invite today (the daily limit of every invitation). None: it may start.
pub async fn over_limit(
    db: &DatabaseConnection,
    scope: &Scope,
    config: &Config,
    wanted: u64,
) -> Result<Option<String>, crate::workspaces::Error> {
    let left = scope.invitations_left(db, config).await?;
    Ok((wanted > left).then(|| {
        format!(
            "The file has {wanted} people to invite, but this workspace may send {left} more invitations today ({} in any 24 hours); import fewer rows or try again later.",
            config.limits.invitations_per_day
        )
    }))
}
