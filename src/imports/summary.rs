//! An import as the API answers it and its page shows it: counts, status (a chain that stopped
//! before the end is `failed`), and the first errors with their line, value and reason.

use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::record::{self, ERRORS_SHOWN};
use crate::db::entities::import;
use crate::domain::RunId;
use crate::engine::runs::{self, ChainProgress};
use crate::tenancy::Reach;

#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub row: i64,
    pub value: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    /// `preview` (uploaded in the admin, not started), `running`, `succeeded`, `failed` or
    /// `cancelled`.
    pub status: &'static str,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created: i64,
    pub skipped: i64,
    pub failed_rows: i64,
    /// The first 1,000 failed lines.
    pub errors: Vec<RowError>,
    #[serde(skip)]
    pub progress: Option<ChainProgress>,
    #[serde(skip)]
    pub import: import::Model,
}

/// `import` as shown to `reach` (its workspace, or the platform for a workspaces import).
impl Summary {
    /// Lines left to do when it starts: all but those refused at the preview.
    pub fn ready(&self) -> i64 {
        self.total_rows - self.failed_rows
    }

    /// Running batch after batch in an `offstage import workspaces` process, not by workers.
    pub fn running_in_the_command_line(&self) -> bool {
        self.status == "running" && self.import.requested_by.as_deref() == Some(super::record::COMMAND_LINE)
    }
}

pub async fn summary<'a>(
    db: &DatabaseConnection,
    reach: impl Into<Reach<'a>> + Copy,
    import: import::Model,
) -> anyhow::Result<Summary> {
    let progress = match &import.run_id {
        Some(run_id) => runs::progress_of_chain(db, &RunId::from(run_id.clone()), reach).await?,
        None => None,
    };
    let status = match import.status.as_str() {
        "preview" => "preview",
        "succeeded" => "succeeded",
        "cancelled" => "cancelled",
        // The chain ended without finishing the import: its last run failed.
        _ if progress.as_ref().is_some_and(|p| !p.in_progress) => "failed",
        _ => "running",
    };
    let errors = record::errors(db, &import.id, Some(ERRORS_SHOWN))
        .await?
        .into_iter()
        .map(|line| RowError { row: line.row_number, value: line.value, message: line.message.unwrap_or_default() })
        .collect();
    Ok(Summary {
        id: import.id.clone(),
        status,
        total_rows: import.total_rows,
        processed_rows: import.processed_rows,
        created: import.created,
        skipped: import.skipped,
        failed_rows: import.failed_rows,
        errors,
        progress,
        import,
    })
}

/// The failed lines as CSV (`row,value,message`), spreadsheet-safe.
pub async fn error_report(db: &DatabaseConnection, import_id: &str) -> anyhow::Result<Vec<u8>> {
    let lines = record::errors(db, import_id, None).await?;
    let header = ["row", "value", "message"];
    let rows: Vec<Vec<serde_json::Value>> = lines
        .into_iter()
        .map(|l| vec![l.row_number.into(), l.value.into(), l.message.unwrap_or_default().into()])
        .collect();
    let format = crate::exports::Format::Csv;
    let mut out = format.preamble(&header);
    out.extend(format.rows(&header, &rows));
    Ok(out)
}
