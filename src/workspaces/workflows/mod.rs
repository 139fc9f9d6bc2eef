//! Workspaces' workflows: what follows a workspace's creation, health scores (one workspace,
//! or all of them in batches), and the weekly digest.

pub mod generate_weekly_digest;
pub mod record_workspace_created;
pub mod refresh_all_workspace_health;
pub mod refresh_workspace_health;
