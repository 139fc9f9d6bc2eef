//! Platform → Imports → "Import workspaces" (platform admins; anyone else gets 404): upload a CSV
//! of customers moved from another system (name, slug, owner email, timezone, plan, Stripe
//! customer id), see what would happen before confirming, then watch it run with its live
//! progress, cancel it, and download the rows that failed as CSV.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::import_pages::{ImportWords, WORKSPACES, errors_csv};
use super::platform::{Utc as UtcTimes, require_platform_admin};
use crate::db::entities::import;
use crate::error::AppError;
use crate::imports::csv_file::{MAX_BYTES, MAX_ROWS};
use crate::imports::record;
use crate::imports::summary::{Summary, summary};
use crate::imports::workflows::import_workspaces;
use crate::imports::workspaces_file::{COLUMNS, parse_workspaces};
use crate::state::AppState;
use crate::tenancy::Platform;
use crate::web::page::render_with_status;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

const KIND: &str = "workspaces";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/imports", web::get().to(index))
        .route("/platform/imports", web::post().to(upload))
        .route("/platform/imports/{id}", web::get().to(show))
        .route("/platform/imports/{id}/start", web::post().to(start))
        .route("/platform/imports/{id}/cancel", web::post().to(cancel))
        .route("/platform/imports/{id}/errors.csv", web::get().to(errors));
}

fn page_of(id: &str) -> String {
    format!("/admin/platform/imports/{id}")
}

async fn find(state: &AppState, ctx: &PageContext, id: &str) -> Result<(Platform, import::Model), AppError> {
    let platform = require_platform_admin(ctx)?;
    let found = record::find_platform(&state.db, id).await?.ok_or(AppError::NotFound)?;
    Ok((platform, found))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/imports.html")]
struct ImportsPage {
    ctx: PageContext,
    imports: Vec<import::Model>,
    error: Option<String>,
    columns: String,
    max_rows: usize,
    max_mb: usize,
    imports_url: &'static str,
    upload_url: &'static str,
    words: ImportWords,
}

impl ImportsPage {
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        UtcTimes.time(at)
    }
}

async fn imports_page(ctx: PageContext, state: &AppState) -> Result<ImportsPage, AppError> {
    Ok(ImportsPage {
        ctx,
        imports: record::list_platform(&state.db, KIND).await?,
        error: None,
        columns: COLUMNS.join(","),
        max_rows: MAX_ROWS,
        max_mb: MAX_BYTES / (1024 * 1024),
        imports_url: "/admin/platform/imports",
        upload_url: "/admin/platform/imports",
        words: WORKSPACES,
    })
}

async fn index(ctx: PageContext, state: web::Data<AppState>) -> Result<ImportsPage, AppError> {
    require_platform_admin(&ctx)?;
    imports_page(ctx, &state).await
}

async fn upload(ctx: PageContext, state: web::Data<AppState>, form: Multipart) -> Result<HttpResponse, AppError> {
    require_platform_admin(&ctx)?;
    let read = match crate::web::upload::form_file(&ctx.session, form, "file", MAX_BYTES).await {
        Ok(bytes) => parse_workspaces(&bytes).map_err(AppError::Unprocessable),
        Err(err) => Err(err),
    };
    match read {
        Ok(lines) => {
            let by = ctx.user.user().email.clone();
            let import = record::create_platform(&state.db, KIND, &by, &lines, "preview").await?;
            Ok(redirect(page_of(&import.id)))
        }
        Err(err @ (AppError::Unprocessable(_) | AppError::TooLarge(_))) => {
            let mut again = imports_page(ctx, &state).await?;
            again.error = Some(err.to_string());
            render_with_status(actix_web::ResponseError::status_code(&err), &again)
        }
        Err(other) => Err(other),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/import_show.html")]
struct ImportShowPage {
    ctx: PageContext,
    import: Summary,
    /// Never set: a workspaces import has no limit to pass (the page shares the members body).
    refusal: Option<String>,
    progress_url: String,
    base: String,
    words: ImportWords,
    utc: UtcTimes,
}

async fn show(
    ctx: PageContext,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<ImportShowPage, AppError> {
    let (platform, import) = find(&state, &ctx, &path).await?;
    let progress_url =
        import.run_id.as_ref().map(|run| format!("/admin/platform/runs/{run}/progress")).unwrap_or_default();
    let base = page_of(&import.id);
    let import = summary(&state.db, &platform, import).await?;
    Ok(ImportShowPage { ctx, import, refusal: None, progress_url, base, words: WORKSPACES, utc: UtcTimes })
}

async fn start(
    ctx: PageContext,
    state: web::Data<AppState>,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let (_, import) = find(&state, &ctx, &path).await?;
    let page = page_of(&import.id);
    if !record::start(&state.db, &import.id).await? {
        Flash::info(&ctx.session, "This import has started already, or was discarded.");
        return Ok(redirect(page));
    }
    import_workspaces::start(&state.db, &import, "ui").await?;
    let ready = import.total_rows - import.failed_rows;
    Flash::success(&ctx.session, format!("Importing: making {ready} workspaces. The progress shows below."));
    Ok(redirect(page))
}

async fn cancel(
    ctx: PageContext,
    state: web::Data<AppState>,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let (_, import) = find(&state, &ctx, &path).await?;
    if record::cancel(&state.db, &import.id).await? {
        let done = if import.status == "preview" { "discarded; nothing was made" } else { "cancelled" };
        Flash::success(&ctx.session, format!("The import was {done}. The rows already done stay done."));
    } else {
        Flash::info(&ctx.session, "This import has ended already.");
    }
    Ok(redirect(page_of(&import.id)))
}

async fn errors(
    ctx: PageContext,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (_, import) = find(&state, &ctx, &path).await?;
    errors_csv(&state, &import).await
}
