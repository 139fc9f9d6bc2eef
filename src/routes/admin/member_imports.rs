//! Members → "Import CSV" (owners and admins; anyone else gets 404): upload a file of emails and
//! roles, see what would happen (rows ready, rows that cannot be imported and why, and whether
//! the daily invitation limit allows it) before confirming, then watch it run with its live
//! progress, cancel it, and download the rows that failed as CSV.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::WorkspaceNav;
use super::import_pages::{ImportWords, MEMBERS, errors_csv};
use crate::db::entities::import;
use crate::domain::Role;
use crate::error::AppError;
use crate::imports::csv_file::{self, MAX_BYTES, MAX_ROWS};
use crate::imports::summary::{Summary, summary};
use crate::imports::workflows::import_members;
use crate::imports::{over_limit, record};
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::page::render_with_status;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/members/import", web::get().to(index))
        .route("/workspaces/{slug}/members/import", web::post().to(upload))
        .route("/workspaces/{slug}/imports/{id}", web::get().to(show))
        .route("/workspaces/{slug}/imports/{id}/start", web::post().to(start))
        .route("/workspaces/{slug}/imports/{id}/cancel", web::post().to(cancel))
        .route("/workspaces/{slug}/imports/{id}/errors.csv", web::get().to(errors));
}

/// Imports invite people: only those who may invite see them.
fn require_manager(scope: &Scope) -> Result<(), AppError> {
    if scope.can_manage() { Ok(()) } else { Err(AppError::NotFound) }
}

async fn find(state: &AppState, scope: &Scope, id: &str) -> Result<import::Model, AppError> {
    require_manager(scope)?;
    record::find_in(&state.db, scope, id).await?.ok_or(AppError::NotFound)
}

fn page_of(scope: &Scope, id: &str) -> String {
    format!("/admin/workspaces/{}/imports/{id}", scope.workspace().slug)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/members/import.html")]
struct ImportPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    imports: Vec<import::Model>,
    error: Option<String>,
    max_rows: usize,
    max_mb: usize,
    invitations_left: u64,
    imports_url: String,
    upload_url: String,
    words: ImportWords,
}

impl ImportPage {
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        self.nav.time(at)
    }
}

async fn import_page(ctx: PageContext, scope: &Scope, state: &AppState) -> Result<ImportPage, AppError> {
    Ok(ImportPage {
        ctx,
        nav: WorkspaceNav::new(scope, "members"),
        imports: record::list_in(&state.db, scope).await?,
        error: None,
        max_rows: MAX_ROWS,
        max_mb: MAX_BYTES / (1024 * 1024),
        invitations_left: scope.invitations_left(&state.db, &state.config).await?,
        imports_url: format!("/admin/workspaces/{}/imports", scope.workspace().slug),
        upload_url: format!("/admin/workspaces/{}/members/import", scope.workspace().slug),
        words: MEMBERS,
    })
}

async fn index(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<ImportPage, AppError> {
    require_manager(&scope)?;
    import_page(ctx, &scope, &state).await
}

async fn upload(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    form: Multipart,
) -> Result<HttpResponse, AppError> {
    require_manager(&scope)?;
    let refused = match crate::web::upload::form_file(&ctx.session, form, "file", MAX_BYTES).await {
        Ok(bytes) => csv_file::parse_members(&bytes, scope.role() == Role::Owner).map_err(AppError::Unprocessable),
        Err(err) => Err(err),
    };
    match refused {
        Ok(rows) => {
            let import = record::create(&state.db, &scope, &rows, "preview").await?;
            Ok(redirect(page_of(&scope, &import.id)))
        }
        Err(err @ (AppError::Unprocessable(_) | AppError::TooLarge(_))) => {
            let mut again = import_page(ctx, &scope, &state).await?;
            again.error = Some(err.to_string());
            render_with_status(actix_web::ResponseError::status_code(&err), &again)
        }
        Err(other) => Err(other),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/members/import_show.html")]
struct ImportShowPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    import: Summary,
    /// Why it cannot start (the daily invitation limit), while in preview.
    refusal: Option<String>,
    progress_url: String,
    base: String,
    words: ImportWords,
}

async fn show(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<ImportShowPage, AppError> {
    let import = find(&state, &scope, &path.1).await?;
    let refusal = match import.status.as_str() {
        "preview" => {
            let wanted = (import.total_rows - import.failed_rows) as u64;
            over_limit(&state.db, &scope, &state.config, wanted).await?
        }
        _ => None,
    };
    let progress_url = import
        .run_id
        .as_ref()
        .map(|run| format!("/admin/workspaces/{}/runs/{run}/progress", scope.workspace().slug))
        .unwrap_or_default();
    let base = page_of(&scope, &import.id);
    let import = summary(&state.db, &scope, import).await?;
    let nav = WorkspaceNav::new(&scope, "members");
    Ok(ImportShowPage { ctx, nav, import, refusal, progress_url, base, words: MEMBERS })
}

async fn start(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let import = find(&state, &scope, &path.1).await?;
    let page = page_of(&scope, &import.id);
    let wanted = (import.total_rows - import.failed_rows) as u64;
    if let Some(refusal) = over_limit(&state.db, &scope, &state.config, wanted).await? {
        Flash::error(&ctx.session, refusal);
        return Ok(redirect(page));
    }
    if !record::start(&state.db, &import.id).await? {
        Flash::info(&ctx.session, "This import has started already, or was discarded.");
        return Ok(redirect(page));
    }
    import_members::start(&state.db, &import, "ui").await?;
    Flash::success(&ctx.session, format!("Importing: inviting {wanted} people. The progress shows below."));
    Ok(redirect(page))
}

async fn cancel(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let import = find(&state, &scope, &path.1).await?;
    if record::cancel(&state.db, &import.id).await? {
        let done = if import.status == "preview" { "discarded; nobody was invited" } else { "cancelled" };
        Flash::success(&ctx.session, format!("The import was {done}. The rows already done stay done."));
    } else {
        Flash::info(&ctx.session, "This import has ended already.");
    }
    Ok(redirect(page_of(&scope, &import.id)))
}

async fn errors(
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let import = find(&state, &scope, &path.1).await?;
    errors_csv(&state, &import).await
}
