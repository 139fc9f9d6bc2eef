//! Platform pages for platform admins (everyone else gets 404): every run across workspaces
//! (filters, search by id, bulk cancel / retry of a filtered selection) and the global
//! schedules. The queue's live view is `platform_queue`.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use sea_orm::EntityTrait;

use crate::db::entities::schedule;
use crate::domain::{RunId, Timezone};
use crate::engine::runs::{self, ChainProgress, Period, RunFilter, RunStatus, RunView};
use crate::engine::schedules;
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::{Platform, Reach};
use crate::web::{CsrfForm, PageContext, redirect};

use super::runs::{BulkForm, act_on, filter_from};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/runs", web::get().to(all_runs))
        .route("/platform/runs/bulk", web::post().to(bulk))
        .route("/platform/runs/{id}", web::get().to(run))
        .route("/platform/runs/{id}/progress", web::get().to(progress))
        .route("/platform/runs/{id}/{action}", web::post().to(act))
        .route("/platform/schedules", web::get().to(global_schedules))
        .route("/platform/schedules/{id}/{action}", web::post().to(schedule_action));
}

/// The platform capability of a platform admin; anyone else gets 404.
pub(super) fn require_platform_admin(ctx: &PageContext) -> Result<Platform, AppError> {
    Ok(Platform::for_user(ctx.user.user())?)
}

/// Times on platform pages are in UTC.
pub struct Utc;

impl Utc {
    pub fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        Timezone::from_stored("UTC").format_seconds(*at)
    }
    pub fn maybe(&self, at: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        at.map(|at| self.time(&at)).unwrap_or_else(|| "—".into())
    }
}

#[derive(Deserialize, Default)]
struct RunsQuery {
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    within: String,
    #[serde(default)]
    q: String,
}

impl RunsQuery {
    fn filter(&self) -> Result<RunFilter, AppError> {
        filter_from(&self.workflow, &self.status, &self.within, 100)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/runs.html")]
struct RunsPage {
    ctx: PageContext,
    runs: Vec<RunView>,
    workflows: Vec<&'static str>,
    statuses: [RunStatus; 7],
    periods: [Period; 3],
    workflow: String,
    status: String,
    within: String,
    q: String,
    error: Option<String>,
    utc: Utc,
}

impl RunsPage {
    fn bulk_url(&self) -> &'static str {
        "/admin/platform/runs/bulk"
    }

    fn filtered(&self) -> bool {
        !self.workflow.is_empty() || !self.status.is_empty() || !self.within.is_empty()
    }
}

async fn all_runs(
    ctx: PageContext,
    state: web::Data<AppState>,
    query: web::Query<RunsQuery>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let q = query.q.trim().to_owned();
    if !q.is_empty() && runs::get(&state.db, &RunId::from(q.as_str()), &platform).await?.is_some() {
        return Ok(redirect(format!("/admin/platform/runs/{q}")));
    }
    let found = runs::list(&state.db, &platform, &query.filter()?).await?;
    let page = RunsPage {
        ctx,
        runs: found,
        workflows: state.workflows.all().iter().map(|w| w.name()).collect(),
        statuses: RunStatus::ALL,
        periods: Period::ALL,
        workflow: query.workflow.clone(),
        status: query.status.clone(),
        within: query.within.clone(),
        error: (!q.is_empty()).then(|| format!("No run has the id “{q}”.")),
        q,
        utc: Utc,
    };
    crate::web::page::render_with_status(actix_web::http::StatusCode::OK, &page)
}

async fn bulk(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let query = form.apply(&state, &ctx, Reach::Everywhere(&platform)).await?;
    Ok(redirect(format!("/admin/platform/runs?{query}")))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/run.html")]
struct RunPage {
    ctx: PageContext,
    run: RunView,
    events: Vec<runs::TimelineEntry>,
    params: String,
    output: Option<String>,
    /// The runs of this run's chain, oldest first, when it has more than one.
    chain: Vec<RunView>,
    progress: Option<ChainProgress>,
    progress_url: String,
    utc: Utc,
}

impl RunPage {
    fn chain_progress(&self) -> Option<String> {
        runs::chain_progress(&self.chain)
    }

    fn run_url(&self, id: &str) -> String {
        format!("/admin/platform/runs/{id}")
    }

    fn finished(&self, run: &RunView) -> String {
        self.utc.maybe(&run.finished_at)
    }

    fn can_cancel(&self) -> bool {
        matches!(self.run.status, RunStatus::Scheduled | RunStatus::Queued)
    }

    fn can_retry(&self) -> bool {
        self.run.status == RunStatus::Failed
    }
}

async fn run(ctx: PageContext, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let run = runs::get(&state.db, &RunId::from(id.as_str()), &platform).await?.ok_or(AppError::NotFound)?;
    if let Some(ws_id) = &run.workspace_id
        && let Some(ws) = crate::db::entities::workspace::Entity::find_by_id(ws_id.as_str()).one(&state.db).await?
    {
        return Ok(redirect(format!("/admin/workspaces/{}/runs/{}", ws.slug, run.id)));
    }
    let events = runs::timeline(&state.db, &run).await?;
    let chain = runs::chain(&state.db, &run, &platform).await?;
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let page = RunPage {
        ctx,
        params: pretty(&run.params),
        output: run.output.as_ref().map(pretty),
        events,
        progress: (!chain.is_empty()).then(|| ChainProgress::of(&chain, chrono::Utc::now())).flatten(),
        progress_url: format!("/admin/platform/runs/{}/progress", run.id),
        chain,
        run,
        utc: Utc,
    };
    crate::web::page::render_with_status(actix_web::http::StatusCode::OK, &page)
}

/// `GET /admin/platform/runs/{id}/progress`: where any run's chain stands, for the live bar.
async fn progress(
    ctx: PageContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let run = runs::get(&state.db, &RunId::from(id.as_str()), &platform).await?.ok_or(AppError::NotFound)?;
    super::runs::progress_json(&state, run, &platform).await
}

/// Cancel or retry a global run (a workspace's run is acted on from its workspace's pages).
async fn act(
    ctx: PageContext,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let (id, action) = path.into_inner();
    let run = runs::get(&state.db, &RunId::from(id.as_str()), &platform).await?.ok_or(AppError::NotFound)?;
    act_on(&state, &ctx, &run, &action).await?;
    Ok(redirect(format!("/admin/platform/runs/{}", run.id)))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/schedules.html")]
struct SchedulesPage {
    ctx: PageContext,
    schedules: Vec<schedule::Model>,
    utc: Utc,
}

async fn global_schedules(ctx: PageContext, state: web::Data<AppState>) -> Result<SchedulesPage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    Ok(SchedulesPage { ctx, schedules: schedules::global(&state.db, &platform).await?, utc: Utc })
}

async fn schedule_action(
    ctx: PageContext,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let (id, action) = path.into_inner();
    let found = schedules::find_global(&state.db, &platform, &id).await?;
    match super::schedules::apply(&state, &ctx, found, &action).await? {
        Some(run_id) => Ok(redirect(format!("/admin/platform/runs/{run_id}"))),
        None => Ok(redirect("/admin/platform/schedules")),
    }
}
