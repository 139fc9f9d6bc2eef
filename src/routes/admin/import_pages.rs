//! What the two import pages (Members → Import, Platform → Imports) share: the words of their
//! common body (`admin/imports/_import.html`) and the error report download.

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};

use crate::db::entities::import;
use crate::error::AppError;
use crate::imports::summary::error_report;
use crate::state::AppState;

/// How an import's page names what it makes.
pub struct ImportWords {
    /// The start button: "{start} {ready} {things}".
    pub start: &'static str,
    pub things: &'static str,
    /// The count of lines done: "Invited".
    pub created: &'static str,
    /// Which lines are skipped.
    pub skipped_hint: &'static str,
}

pub const MEMBERS: ImportWords = ImportWords {
    start: "Invite",
    things: "people",
    created: "Invited",
    skipped_hint: "people already members or invited",
};

pub const WORKSPACES: ImportWords =
    ImportWords { start: "Make", things: "workspaces", created: "Made", skipped_hint: "workspaces imported before" };

/// The failed lines of `import` as a CSV download.
pub async fn errors_csv(state: &AppState, import: &import::Model) -> Result<HttpResponse, AppError> {
    let body = error_report(&state.db, &import.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"import-{}-errors.csv\"", import.id)))
        .body(body))
}
