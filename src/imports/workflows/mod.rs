//! The imports' workflows.

pub mod import_members;
