//! An export as its list shows it, on Platform → Exports and on a workspace's Export page: its
//! status (a chain that stopped before the end is "failed"), the live progress of one still
//! running, its size, who asked, and whether it can still be downloaded.

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use chrono::Utc;
use futures::StreamExt;

use crate::db::entities::export;
use crate::domain::RunId;
use crate::engine::runs::{self, ChainProgress};
use crate::error::AppError;
use crate::exports::record;
use crate::state::AppState;
use crate::tenancy::Reach;

pub struct ExportRow {
    pub export: export::Model,
    pub requested_by: String,
    /// `running`, `succeeded`, `failed` or `expired`.
    pub status: &'static str,
    pub progress: Option<ChainProgress>,
    pub progress_url: String,
    /// The chain's first run, for "see the run".
    pub run_url: Option<String>,
}

impl ExportRow {
    pub fn size(&self) -> String {
        match self.export.bytes {
            Some(bytes) if bytes >= 1024 * 1024 => format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0)),
            Some(bytes) if bytes >= 1024 => format!("{:.1} KB", bytes as f64 / 1024.0),
            Some(bytes) => format!("{bytes} bytes"),
            None => "—".into(),
        }
    }

    pub fn downloadable(&self) -> bool {
        self.status == "succeeded"
    }

    pub fn in_progress(&self) -> bool {
        self.status == "running"
    }
}

/// `exports` as rows; `runs_url` is where their runs' pages are (`/admin/platform/runs` or a
/// workspace's `/admin/workspaces/{slug}/runs`).
pub async fn rows<'a>(
    state: &AppState,
    exports: Vec<export::Model>,
    reach: impl Into<Reach<'a>> + Copy,
    runs_url: &str,
) -> Result<Vec<ExportRow>, AppError> {
    let requesters = record::requesters(&state.db, &exports).await?;
    let mut rows = Vec::with_capacity(exports.len());
    for export in exports {
        let requested_by = match &export.requested_by {
            Some(id) => requesters.get(id).cloned().unwrap_or_else(|| "a deleted user".into()),
            None => "the command line or a schedule".into(),
        };
        let mut status = match export.status.as_str() {
            "succeeded" if export.expires_at.is_some_and(|at| at <= Utc::now()) => "expired",
            "succeeded" => "succeeded",
            "expired" => "expired",
            "failed" => "failed",
            _ => "running",
        };
        let mut progress = None;
        if status == "running"
            && let Some(run_id) = &export.run_id
        {
            progress = runs::progress_of_chain(&state.db, &RunId::from(run_id.clone()), reach).await?;
            if progress.as_ref().is_some_and(|p| !p.in_progress) {
                // The chain ended without recording the file: its last run failed or was cancelled.
                status = "failed";
            }
        }
        let run_url = export.run_id.as_ref().map(|id| format!("{runs_url}/{id}"));
        rows.push(ExportRow {
            progress_url: run_url.as_ref().map(|url| format!("{url}/progress")).unwrap_or_default(),
            run_url,
            export,
            requested_by,
            status,
            progress,
        });
    }
    Ok(rows)
}

/// The export's file as a download, or a message saying why it cannot be.
pub async fn download(state: &AppState, export: &export::Model) -> Result<HttpResponse, AppError> {
    let expired = export.status == "expired" || export.expires_at.is_some_and(|at| at <= Utc::now());
    if expired {
        return Err(AppError::Gone("This export has expired and its file was deleted; start a new export.".into()));
    }
    let Some(key) = export.file_key.as_deref().filter(|_| export.status == "succeeded") else {
        return Err(AppError::Conflict(
            "This export is not finished yet; its file can be downloaded when it is.".into(),
        ));
    };
    let body = state.storage.read(key).await.map_err(|err| AppError::Internal(err.into()))?;
    let name = key.rsplit('/').next().unwrap_or("export");
    let content_type = match export.format.as_str() {
        "zip" => "application/zip",
        "jsonl" => "application/x-ndjson",
        _ => "text/csv; charset=utf-8",
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header((CACHE_CONTROL, "no-store"));
    if let Some(bytes) = export.bytes {
        response.no_chunking(bytes as u64);
    }
    Ok(response
        .streaming(body.map(|chunk| chunk.map_err(|err| actix_web::error::ErrorInternalServerError(err.to_string())))))
}
