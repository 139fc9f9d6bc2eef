//! Exports: files made off the request path by a chain, 1,000 rows per run. `workspaces` is
//! every workspace for operators (CSV or JSON Lines); `workspace_data` is one workspace's own
//! data for its owners (a ZIP of CSV files). Each run writes its rows as a part file; the last
//! run joins the parts into the export's file in `crate::storage`, where it stays until it
//! expires.

pub mod encode;
pub mod files;
pub mod record;
pub mod source;
pub mod step;
pub mod to_file;
pub mod workflows;
mod workspace_data;
mod workspaces;

pub use encode::Format;
pub use source::Source;
