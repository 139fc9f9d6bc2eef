//! The imports' workflows.

pub mod import_members;
pub mod import_workspaces;
