//! `offstage export workspaces --out FILE`: the same rows as the workflow, written straight to
//! a local file by this process, page by page (constant memory). The file appears whole, by a
//! rename at the end, or not at all.

use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::io::AsyncWriteExt;

use super::Format;
use super::source::Source;
use super::step::PAGE;

/// What was written.
#[derive(Debug, serde::Serialize)]
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
}

pub async fn workspaces_to_file(db: &DatabaseConnection, format: Format, out: &Path) -> anyhow::Result<Written> {
    let source = Source::workspaces(Utc::now());
    let header = source.sections()[0].header;
    let partial = out.with_extension("partial");
    let file =
        tokio::fs::File::create(&partial).await.with_context(|| format!("cannot write {}", partial.display()))?;
    let mut file = tokio::io::BufWriter::new(file);
    let preamble = format.preamble(header);
    file.write_all(&preamble).await?;
    let (mut rows, mut bytes) = (0u64, preamble.len() as u64);
    let mut cursor: Option<String> = None;
    loop {
        let page = source.page(db, 0, cursor.as_deref(), PAGE).await?;
        let encoded = format.rows(header, &page.rows);
        file.write_all(&encoded).await?;
        rows += page.rows.len() as u64;
        bytes += encoded.len() as u64;
        if (page.rows.len() as u64) < PAGE {
            break;
        }
        cursor = page.last;
    }
    file.flush().await?;
    file.into_inner().sync_all().await?;
    tokio::fs::rename(&partial, out).await.with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Written { rows, bytes })
}
