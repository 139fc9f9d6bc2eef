//! A workspace's Export page (owners only; anyone else gets 404): "Export this workspace's
//! data" as a ZIP of CSV files, and the workspace's exports with their progress and downloads.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::WorkspaceNav;
use super::export_list::{self, ExportRow};
use crate::domain::Role;
use crate::engine::runs::{self, NewRun};
use crate::error::AppError;
use crate::exports::record;
use crate::exports::workflows::export_workspace_data::{self, ExportWorkspaceData};
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/exports", web::get().to(index))
        .route("/workspaces/{slug}/exports", web::post().to(create))
        .route("/workspaces/{slug}/exports/{id}/download", web::get().to(download));
}

/// A workspace's data leaves with its owners' say only.
fn require_owner(scope: &Scope) -> Result<(), AppError> {
    if scope.role() == Role::Owner { Ok(()) } else { Err(AppError::NotFound) }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/workspaces/exports.html")]
struct ExportsPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    exports: Vec<ExportRow>,
    expiry_days: u32,
}

impl ExportsPage {
    fn running(&self) -> bool {
        self.exports.iter().any(ExportRow::in_progress)
    }
}

async fn index(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<ExportsPage, AppError> {
    require_owner(&scope)?;
    let exports = record::for_workspace(&state.db, &scope).await?;
    let runs_url = format!("/admin/workspaces/{}/runs", scope.workspace().slug);
    let exports = export_list::rows(&state, exports, &scope, &runs_url).await?;
    Ok(ExportsPage {
        ctx,
        nav: WorkspaceNav::new(&scope, "settings"),
        exports,
        expiry_days: state.config.export_expiry_days,
    })
}

async fn create(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    require_owner(&scope)?;
    let page = format!("/admin/workspaces/{}/exports", scope.workspace().slug);
    let exports = record::for_workspace(&state.db, &scope).await?;
    let runs_url = format!("/admin/workspaces/{}/runs", scope.workspace().slug);
    if export_list::rows(&state, exports, &scope, &runs_url).await?.iter().any(ExportRow::in_progress) {
        Flash::info(&ctx.session, "An export of this workspace is being written already; its progress is below.");
        return Ok(redirect(page));
    }
    let export =
        record::create(&state.db, export_workspace_data::new_export(scope.workspace(), &ctx.user.user().id)).await?;
    let params = export_workspace_data::Params {
        workspace_id: scope.workspace_id().to_owned(),
        export_id: export.id.clone(),
        at: Default::default(),
    };
    let started = runs::start(&state.db, NewRun::of::<ExportWorkspaceData>(&params).trigger("ui")).await?;
    record::attach_run(&state.db, &export.id, started.id.as_str()).await?;
    Flash::success(&ctx.session, "Exporting this workspace's data as a ZIP of CSV files: the progress shows below.");
    Ok(redirect(page))
}

async fn download(
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    require_owner(&scope)?;
    let export = record::find_in(&state.db, &scope, &path.1).await?.ok_or(AppError::NotFound)?;
    export_list::download(&state, &export).await
}
