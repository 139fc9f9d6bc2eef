//! `offstage import workspaces --file FILE`: the same import as Platform → Imports, its batches
//! run one after the other by this process instead of by workers. The import is recorded like
//! any other (it shows on Platform → Imports, asked for by "the command line"). Run again on the
//! same file after being killed, it continues its unfinished import where it was.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::csv_file::MAX_BYTES;
use super::workspaces_file::parse_workspaces;
use super::{record, workspaces};
use crate::config::Config;

/// What the command prints.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub import_id: String,
    /// Whether this continued an import of the same file that an earlier command left unfinished
    /// (killed in the middle) instead of beginning one.
    pub resumed: bool,
    pub total_rows: u64,
    pub created: i64,
    pub skipped: i64,
    pub failed_rows: i64,
    pub seconds: f64,
}

/// Imports the workspaces of `file`. Err: the file cannot be read or cannot be an import (why).
pub async fn workspaces_from_file(db: &DatabaseConnection, config: &Config, file: &Path) -> anyhow::Result<Imported> {
    let began = Instant::now();
    let size = tokio::fs::metadata(file).await.with_context(|| format!("cannot read {}", file.display()))?.len();
    if size > MAX_BYTES as u64 {
        anyhow::bail!("{} is {size} bytes, more than the {MAX_BYTES} an import may be; split it", file.display());
    }
    let bytes = tokio::fs::read(file).await.with_context(|| format!("cannot read {}", file.display()))?;
    let lines = parse_workspaces(&bytes).map_err(anyhow::Error::msg)?;
    let (import, resumed) = record::command_line_import(db, "workspaces", &lines).await?;
    while workspaces::next_batch(db, &import.id, config).await?.more {}
    let done = record::find_platform(db, &import.id).await?.context("the import went missing")?;
    Ok(Imported {
        import_id: done.id,
        resumed,
        total_rows: done.total_rows as u64,
        created: done.created,
        skipped: done.skipped,
        failed_rows: done.failed_rows,
        seconds: began.elapsed().as_secs_f64(),
    })
}
