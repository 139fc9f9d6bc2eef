//! A workspace's schedules in the admin UI: list with next and last run, create one (workflow,
//! cron, timezone, parameters), pause, resume, run now, delete.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::WorkspaceNav;
use crate::db::entities::schedule;
use crate::domain::{CronExpr, Timezone};
use crate::engine::AnyWorkflow;
use crate::engine::schedules::{self, NewSchedule};
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::page::unprocessable;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/schedules", web::get().to(index))
        .route("/workspaces/{slug}/schedules", web::post().to(create))
        .route("/workspaces/{slug}/schedules/{id}/{action}", web::post().to(act));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/schedules/index.html")]
struct SchedulesPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    schedules: Vec<schedule::Model>,
    workflows: Vec<&'static str>,
    form: ScheduleForm,
    error: Option<String>,
}

impl SchedulesPage {
    /// Built-in schedules (the weekly digest) are paused, not deleted.
    fn built_in(&self, s: &schedule::Model) -> bool {
        schedules::is_built_in(s)
    }

    fn zone(&self, s: &schedule::Model) -> String {
        s.timezone.clone().unwrap_or_else(|| format!("{} (workspace)", self.nav.workspace.timezone))
    }
}

#[derive(Deserialize, Default)]
struct ScheduleForm {
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    params: String,
}

fn runnable(state: &AppState, scope: &Scope) -> Vec<&'static str> {
    state.workflows.startable_in_workspace(scope.is_operator()).map(|w| w.name()).collect()
}

async fn page(
    ctx: PageContext,
    scope: &Scope,
    state: &AppState,
    form: ScheduleForm,
    error: Option<String>,
) -> Result<SchedulesPage, AppError> {
    Ok(SchedulesPage {
        ctx,
        nav: WorkspaceNav::new(scope, "schedules"),
        schedules: schedules::for_workspace(&state.db, scope).await?,
        workflows: runnable(state, scope),
        form,
        error,
    })
}

async fn index(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<SchedulesPage, AppError> {
    let form = ScheduleForm { params: "{}".into(), ..ScheduleForm::default() };
    page(ctx, &scope, &state, form, None).await
}

fn parse(state: &AppState, form: &ScheduleForm, scope: &Scope, by: &str) -> Result<NewSchedule, String> {
    let workflow: &'static dyn AnyWorkflow = state
        .workflows
        .startable_in_workspace(scope.is_operator())
        .find(|w| w.name() == form.workflow)
        .ok_or_else(|| format!("workflow: choose one of {}", runnable(state, scope).join(", ")))?;
    let cron = CronExpr::parse(&form.cron).map_err(|e| format!("cron: {e}"))?;
    let timezone = if form.timezone.trim().is_empty() { None } else { Some(Timezone::parse(&form.timezone)?) };
    let text = if form.params.trim().is_empty() { "{}" } else { form.params.trim() };
    let params: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("parameters: not valid JSON ({e})"))?;
    if !params.is_object() {
        return Err("parameters: write a JSON object such as {}".into());
    }
    Ok(NewSchedule {
        workflow,
        workspace: Some(scope.workspace().clone()),
        cron,
        timezone,
        params,
        created_by: by.to_owned(),
    })
}

async fn create(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ScheduleForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_manager()?;
    let created = match parse(&state, &form, &scope, ctx.user_email()) {
        Ok(new) => schedules::create(&state.db, new, &state.config.limits).await.map_err(AppError::from),
        Err(msg) => Err(AppError::Unprocessable(msg)),
    };
    match created {
        Ok(s) => {
            let next = s.next_run_at.map(|at| scope.workspace().tz().format(at)).unwrap_or_default();
            Flash::success(&ctx.session, format!("Schedule created: {} runs next at {next}.", s.workflow));
            Ok(redirect(format!("/admin/workspaces/{}/schedules", scope.workspace().slug)))
        }
        Err(AppError::Unprocessable(msg)) => unprocessable(&page(ctx, &scope, &state, form, Some(msg)).await?),
        Err(other) => Err(other),
    }
}

async fn act(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let (_, id, action) = path.into_inner();
    let found = schedules::find_in_workspace(&state.db, &scope, &id).await?;
    scope.require_manager()?;
    let slug = scope.workspace().slug.clone();
    match apply(&state, &ctx, found, &action).await? {
        Some(run_id) => Ok(redirect(format!("/admin/workspaces/{slug}/runs/{run_id}"))),
        None => Ok(redirect(format!("/admin/workspaces/{slug}/schedules"))),
    }
}

/// Pause, resume, run now or delete, with the flash that says so. Returns the run started by
/// "run now".
pub(super) async fn apply(
    state: &AppState,
    ctx: &PageContext,
    found: schedule::Model,
    action: &str,
) -> Result<Option<String>, AppError> {
    match action {
        "pause" => {
            schedules::set_paused(&state.db, found, true).await?;
            Flash::success(&ctx.session, "Schedule paused; it starts no runs until resumed.");
        }
        "resume" => {
            schedules::set_paused(&state.db, found, false).await?;
            Flash::success(&ctx.session, "Schedule resumed from now on (missed ticks are not replayed).");
        }
        "run-now" => {
            let run = schedules::run_now(&state.db, &state.workflows, &found).await?;
            Flash::success(&ctx.session, "Run started.");
            return Ok(Some(run.id.into_string()));
        }
        "delete" => {
            schedules::delete(&state.db, found).await?;
            Flash::success(&ctx.session, "Schedule deleted; runs it already started are kept.");
        }
        _ => return Err(AppError::NotFound),
    }
    Ok(None)
}
