//! One run of an export's chain: up to `PAGE` rows, written as part files, then either where
//! the next run starts or, after the last rows, the parts joined into the export's file. A run
//! retried after a crash writes the same parts under the same keys, so nothing is lost or
//! doubled; once the file is recorded, a retry only cleans up.

use chrono::{Duration, Utc};
use schemars::JsonSchema;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use super::source::Source;
use super::{Format, files, record};
use crate::db::entities::export;
use crate::storage::Storage;

/// Rows per run of the chain.
pub const PAGE: u64 = 1_000;

/// Where an export's chain stands (kept in each run's parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Position {
    /// The section being read.
    #[serde(default)]
    pub section: usize,
    /// Where in that section the next page starts.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Parts written so far, per section.
    #[serde(default)]
    pub parts: Vec<u32>,
    /// Rows written so far.
    #[serde(default)]
    pub processed: u64,
}

impl Position {
    fn is_start(&self) -> bool {
        self.section == 0 && self.cursor.is_none() && self.processed == 0
    }
}

/// What a run did: the next run's position (None when the file is whole) and the progress.
pub struct Stepped {
    pub next: Option<Position>,
    pub processed: u64,
    pub total: u64,
}

pub async fn step(
    db: &DatabaseConnection,
    storage: &Storage,
    export: &export::Model,
    source: &Source,
    mut at: Position,
    expiry_days: u32,
) -> anyhow::Result<Stepped> {
    let sections = source.sections();
    if export.status != "running" {
        files::delete_parts(storage, &export.id, &at.parts).await?;
        return Ok(Stepped { next: None, processed: export.rows as u64, total: export.total_rows as u64 });
    }
    let mut total = export.total_rows as u64;
    if at.is_start() {
        total = source.count(db).await?;
        record::set_total(db, &export.id, total).await?;
    }
    let format = Format::parse(&export.format).unwrap_or(Format::Csv);
    at.parts.resize(sections.len(), 0);
    let mut budget = PAGE;
    let more = loop {
        let Some(section) = sections.get(at.section) else { break false };
        let page = source.page(db, at.section, at.cursor.as_deref(), budget).await?;
        let read = page.rows.len() as u64;
        if read > 0 {
            let key = files::part_key(&export.id, at.section, at.parts[at.section]);
            storage.put(&key, format.rows(section.header, &page.rows).into()).await?;
            at.parts[at.section] += 1;
            at.processed += read;
        }
        if read == budget {
            at.cursor = page.last;
            break true;
        }
        budget -= read;
        at.section += 1;
        at.cursor = None;
    };
    record::set_rows(db, &export.id, at.processed).await?;
    let total = total.max(at.processed);
    if more {
        return Ok(Stepped { processed: at.processed, total, next: Some(at) });
    }
    let key = export.file_key.clone().unwrap_or_else(|| format!("exports/{}/export", export.id));
    let bytes = match export.format.as_str() {
        "zip" => files::join_zip(storage, &export.id, &key, sections, &at.parts).await?,
        _ => files::join_plain(storage, &export.id, &key, format, &sections[0], at.parts[0]).await?,
    };
    let expires_at = Utc::now() + Duration::days(i64::from(expiry_days));
    record::succeed(db, &export.id, at.processed, bytes, expires_at).await?;
    files::delete_parts(storage, &export.id, &at.parts).await?;
    Ok(Stepped { next: None, processed: at.processed, total })
}
