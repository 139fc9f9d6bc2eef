//! A workspace's workflow runs in the admin UI: the history with filters (workflow, status, time)
//! and search by id, one run's detail (parameters, output, error, the skipped-because
//! explanation, its timeline), and cancel / retry.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use serde::Deserialize;

use super::WorkspaceNav;
use crate::domain::RunId;
use crate::engine::runs::{self, ChainProgress, Period, RunFilter, RunStatus, RunView};
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::{Reach, Scope};
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/runs", web::get().to(index))
        .route("/workspaces/{slug}/runs/bulk", web::post().to(bulk))
        .route("/workspaces/{slug}/runs/{id}", web::get().to(show))
        .route("/workspaces/{slug}/runs/{id}/progress", web::get().to(progress))
        .route("/workspaces/{slug}/runs/{id}/{action}", web::post().to(act));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/runs/index.html")]
struct RunsPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    runs: Vec<RunView>,
    workflows: Vec<&'static str>,
    statuses: [RunStatus; 7],
    periods: [Period; 3],
    workflow: String,
    status: String,
    within: String,
    q: String,
    error: Option<String>,
    counts: Vec<(RunStatus, i64)>,
    last_hour: i64,
}

impl RunsPage {
    fn bulk_url(&self) -> String {
        format!("/admin/workspaces/{}/runs/bulk", self.nav.workspace.slug)
    }

    fn filtered(&self) -> bool {
        !self.workflow.is_empty() || !self.status.is_empty() || !self.within.is_empty()
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    workflow: Option<String>,
    status: Option<String>,
    within: Option<String>,
    q: Option<String>,
}

const PAGE_LIMIT: u64 = 100;

async fn index(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    query: web::Query<RunsQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.q.clone().unwrap_or_default().trim().to_owned();
    if !q.is_empty() && runs::get(&state.db, &RunId::from(q.as_str()), &scope).await?.is_some() {
        return Ok(redirect(format!("/admin/workspaces/{}/runs/{q}", scope.workspace().slug)));
    }
    let workflow = query.workflow.clone().unwrap_or_default();
    let status_text = query.status.clone().unwrap_or_default();
    let (status, mut error) = match status_text.as_str() {
        "" => (None, None),
        text => match RunStatus::parse(text) {
            Ok(s) => (Some(s), None),
            Err(msg) => (None, Some(msg)),
        },
    };
    let within = query.within.clone().unwrap_or_default();
    let period = match within.as_str() {
        "" => None,
        text => Period::parse(text).map_err(|msg| error = Some(msg)).ok(),
    };
    if !q.is_empty() {
        error = Some(format!("No run of this workspace has the id “{q}”."));
    }
    let filter = RunFilter {
        workflow: Some(workflow.clone()).filter(|w| !w.is_empty()),
        status,
        created_since: period.map(|p| p.since(Utc::now())),
        limit: PAGE_LIMIT,
        ..RunFilter::default()
    };
    let found = runs::list(&state.db, &scope, &filter).await?;
    let (counts, last_hour) = runs::counts(&state.db, &scope).await?;
    let page = RunsPage {
        counts,
        last_hour,
        ctx,
        nav: WorkspaceNav::new(&scope, "runs"),
        runs: found,
        workflows: state.workflows.all().iter().filter(|w| w.workspace_scoped()).map(|w| w.name()).collect(),
        statuses: RunStatus::ALL,
        periods: Period::ALL,
        workflow,
        status: status_text,
        within,
        q,
        error,
    };
    crate::web::page::render_with_status(actix_web::http::StatusCode::OK, &page)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/runs/show.html")]
struct RunPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    run: RunView,
    events: Vec<runs::TimelineEntry>,
    params: String,
    output: Option<String>,
    /// The runs of this run's chain, oldest first, when it has more than one.
    chain: Vec<RunView>,
    progress: Option<ChainProgress>,
    progress_url: String,
    /// Whether the viewer may cancel or retry it (tenants: not Offstage's own runs).
    may_change: bool,
}

impl RunPage {
    fn chain_progress(&self) -> Option<String> {
        runs::chain_progress(&self.chain)
    }

    fn run_url(&self, id: &str) -> String {
        format!("/admin/workspaces/{}/runs/{id}", self.nav.workspace.slug)
    }

    fn finished(&self, run: &RunView) -> String {
        self.nav.maybe_precise(&run.finished_at)
    }

    fn observed(&self) -> String {
        self.run
            .skipped
            .as_ref()
            .map(|s| serde_json::to_string_pretty(&s.observed).unwrap_or_default())
            .unwrap_or_default()
    }
    fn can_cancel(&self) -> bool {
        matches!(self.run.status, RunStatus::Scheduled | RunStatus::Queued) && self.may_change
    }
    fn can_retry(&self) -> bool {
        self.run.status == RunStatus::Failed && self.may_change
    }
}

async fn load(scope: &Scope, state: &AppState, id: &str) -> Result<RunView, AppError> {
    runs::get(&state.db, &RunId::from(id), scope).await?.ok_or(AppError::NotFound)
}

async fn show(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<RunPage, AppError> {
    let run = load(&scope, &state, &path.1).await?;
    let events = runs::timeline(&state.db, &run).await?;
    let chain = runs::chain(&state.db, &run, &scope).await?;
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    Ok(RunPage {
        ctx,
        nav: WorkspaceNav::new(&scope, "runs"),
        may_change: scope.may_change_run(state.workflows.is_internal(&run.workflow)),
        params: pretty(&run.params),
        output: run.output.as_ref().map(pretty),
        events,
        progress: (!chain.is_empty()).then(|| ChainProgress::of(&chain, Utc::now())).flatten(),
        progress_url: format!("/admin/workspaces/{}/runs/{}/progress", scope.workspace().slug, run.id),
        chain,
        run,
    })
}

/// `GET …/runs/{id}/progress`: where the run's chain stands, for the live progress bar.
async fn progress(
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let run = load(&scope, &state, &path.1).await?;
    progress_json(&state, run, &scope).await
}

/// The progress of `run`'s chain (or of the run alone) as JSON, read within `reach`.
pub(super) async fn progress_json<'a>(
    state: &AppState,
    run: RunView,
    reach: impl Into<Reach<'a>> + Copy,
) -> Result<HttpResponse, AppError> {
    let mut chain = runs::chain(&state.db, &run, reach).await?;
    if chain.is_empty() {
        chain.push(run);
    }
    let progress = ChainProgress::of(&chain, Utc::now()).ok_or(AppError::NotFound)?;
    let mut body = serde_json::to_value(&progress).map_err(|err| AppError::Internal(err.into()))?;
    body["label"] = progress.label().into();
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body))
}

fn actor(ctx: &PageContext) -> String {
    ctx.user_email().to_owned()
}

/// Cancel (a run that has not started) or retry (a failed run); a refusal is a flash.
async fn act(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let (_, id, action) = path.into_inner();
    let run = load(&scope, &state, &id).await?;
    scope.require_may_change_run(state.workflows.is_internal(&run.workflow))?;
    act_on(&state, &ctx, &run, &action).await?;
    Ok(redirect(format!("/admin/workspaces/{}/runs/{}", scope.workspace().slug, run.id)))
}

/// Cancels or retries `run` as the signed-in person (`action`: `cancel` or `retry`) and says so
/// in a flash; a refusal (the run already started, or has not failed) is an error flash.
pub(super) async fn act_on(state: &AppState, ctx: &PageContext, run: &RunView, action: &str) -> Result<(), AppError> {
    let done = match action {
        "cancel" => runs::cancel(&state.db, run, &actor(ctx))
            .await
            .map(|_| "Run cancelled; it will not start.")
            .map_err(AppError::from),
        "retry" => runs::retry(&state.db, &state.workflows, run, &actor(ctx))
            .await
            .map(|_| "Run queued again with a fresh set of attempts.")
            .map_err(AppError::from),
        _ => return Err(AppError::NotFound),
    };
    match done {
        Ok(message) => Flash::success(&ctx.session, message),
        Err(AppError::Conflict(msg)) => Flash::error(&ctx.session, msg),
        Err(other) => return Err(other),
    }
    Ok(())
}

/// The run filters a page shows (`workflow`, `status`, `within`; empty means any), as a
/// `RunFilter`.
pub(super) fn filter_from(workflow: &str, status: &str, within: &str, limit: u64) -> Result<RunFilter, AppError> {
    let status = match status {
        "" => None,
        text => Some(RunStatus::parse(text).map_err(AppError::BadRequest)?),
    };
    let period = match within {
        "" => None,
        text => Some(Period::parse(text).map_err(AppError::BadRequest)?),
    };
    Ok(RunFilter {
        workflow: Some(workflow.to_owned()).filter(|w| !w.is_empty()),
        status,
        created_since: period.map(|p| p.since(Utc::now())),
        limit,
        ..RunFilter::default()
    })
}

/// The bulk-action form under a run list: the action and the list's filters.
#[derive(Deserialize)]
pub(super) struct BulkForm {
    action: String,
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    within: String,
}

impl BulkForm {
    /// Cancels or retries up to 1,000 matching runs that `reach` sees and may change, says so in
    /// a flash, and returns the query string that shows the same list again.
    pub(super) async fn apply(
        &self,
        state: &AppState,
        ctx: &PageContext,
        reach: Reach<'_>,
    ) -> Result<String, AppError> {
        let filter = filter_from(&self.workflow, &self.status, &self.within, 1000)?;
        let action = runs::BulkAction::parse(&self.action).map_err(AppError::BadRequest)?;
        let message = runs::bulk(&state.db, &state.workflows, reach, &filter, action, &actor(ctx)).await?;
        Flash::success(&ctx.session, message);
        Ok(url::form_urlencoded::Serializer::new(String::new())
            .append_pair("workflow", &self.workflow)
            .append_pair("status", &self.status)
            .append_pair("within", &self.within)
            .finish())
    }
}

/// Cancel or retry every run of this workspace that matches the page's filters.
async fn bulk(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_manager()?;
    let query = form.apply(&state, &ctx, Reach::Workspace(&scope)).await?;
    Ok(redirect(format!("/admin/workspaces/{}/runs?{query}", scope.workspace().slug)))
}
