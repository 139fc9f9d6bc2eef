//! The exports' workflows: every workspace, one workspace's own data, and the daily clean-up
//! of expired files.

pub mod expire_exports;
pub mod export_workspace_data;
pub mod export_workspaces;
