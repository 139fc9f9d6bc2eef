//! Platform → Exports: "Export all workspaces" as CSV or JSON Lines, and the list of exports
//! with their status, live progress, rows, size, who asked, and the download while it lasts.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::export_list::{self, ExportRow};
use super::platform::{Utc as UtcTimes, require_platform_admin};
use crate::engine::runs::{self, NewRun};
use crate::error::AppError;
use crate::exports::Format;
use crate::exports::record;
use crate::exports::workflows::export_workspaces::{self, ExportWorkspaces};
use crate::state::AppState;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/exports", web::get().to(index))
        .route("/platform/exports", web::post().to(create))
        .route("/platform/exports/{id}/download", web::get().to(download));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/exports.html")]
struct ExportsPage {
    ctx: PageContext,
    exports: Vec<ExportRow>,
    expiry_days: u32,
    utc: UtcTimes,
}

async fn index(ctx: PageContext, state: web::Data<AppState>) -> Result<ExportsPage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let exports = record::for_platform(&state.db, &platform).await?;
    let exports = export_list::rows(&state, exports, &platform, "/admin/platform/runs").await?;
    Ok(ExportsPage { ctx, exports, expiry_days: state.config.export_expiry_days, utc: UtcTimes })
}

#[derive(Deserialize)]
struct CreateForm {
    /// Defaulted, so that anyone but a platform admin gets 404 whatever the form holds.
    #[serde(default)]
    format: String,
}

async fn create(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<HttpResponse, AppError> {
    require_platform_admin(&ctx)?;
    let format = Format::parse(&form.format).map_err(AppError::Unprocessable)?;
    let requested_by = Some(ctx.user.user().id.clone());
    let export = record::create(&state.db, export_workspaces::new_export(format, requested_by)).await?;
    let params = export_workspaces::Params { export_id: Some(export.id.clone()), format, at: Default::default() };
    let started = runs::start(&state.db, NewRun::of::<ExportWorkspaces>(&params).trigger("ui")).await?;
    record::attach_run(&state.db, &export.id, started.id.as_str()).await?;
    Flash::success(
        &ctx.session,
        format!("Exporting every workspace as {}: the progress shows below.", format.as_str().to_uppercase()),
    );
    Ok(redirect("/admin/platform/exports"))
}

async fn download(
    ctx: PageContext,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let export = record::find_for_platform(&state.db, &platform, &path).await?.ok_or(AppError::NotFound)?;
    export_list::download(&state, &export).await
}
