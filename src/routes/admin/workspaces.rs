//! Workspace pages: the list (search, pages), creating one, its overview and its settings.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::WorkspaceNav;
use crate::db::entities::{activity, workspace};
use crate::domain::{Slug, Timezone, WorkspaceName};
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::chart::{Stack, stacked_chart};
use crate::web::page::unprocessable;
use crate::web::{CsrfForm, Flash, PageContext, redirect};
use crate::workspaces::{self, MAX_PAGE, NewWorkspace, PAGE_SIZE};
use crate::workspaces::{InvitationForYou, invitations_for, trends};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces", web::get().to(index))
        .route("/workspaces", web::post().to(create))
        .route("/workspaces/new", web::get().to(new))
        .route("/workspaces/{slug}", web::get().to(show))
        .route("/workspaces/{slug}/settings", web::get().to(settings))
        .route("/workspaces/{slug}/settings", web::post().to(update_settings));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/workspaces/index.html")]
struct IndexPage {
    ctx: PageContext,
    /// Invitations addressed to the signed-in person, waiting for their answer.
    invitations: Vec<InvitationForYou>,
    workspaces: Vec<workspace::Model>,
    total: u64,
    q: String,
    page: u64,
    pages: u64,
}

impl IndexPage {
    fn created(&self, ws: &workspace::Model) -> String {
        ws.tz().format(ws.created_at)
    }
    /// An invitation's expiry, in UTC (the person may belong to no workspace yet).
    fn expires(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        crate::domain::Timezone::from_stored("UTC").format(*at)
    }
    fn page_link(&self, page: &u64) -> String {
        let q: String = url::form_urlencoded::byte_serialize(self.q.as_bytes()).collect();
        format!("/admin/workspaces?q={q}&page={page}")
    }
}

#[derive(Deserialize)]
struct IndexQuery {
    q: Option<String>,
    /// Read as text, so any value gets the same clear answer.
    page: Option<String>,
}

async fn index(
    ctx: PageContext,
    state: web::Data<AppState>,
    query: web::Query<IndexQuery>,
) -> Result<IndexPage, AppError> {
    let q = query.q.clone().unwrap_or_default();
    let page = match query.page.as_deref().map(str::trim) {
        None | Some("") => 1,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|page| (1..=MAX_PAGE).contains(page))
            .ok_or_else(|| AppError::BadRequest(format!("page: use a number from 1 to {MAX_PAGE}")))?,
    };
    let (workspaces, total) = workspaces::list_visible(&state.db, ctx.user.user(), &q, page - 1).await?;
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    // An unconfirmed address may be someone else's: it sees no invitations until confirmed.
    let invitations =
        if ctx.user.user().email_verified() { invitations_for(&state.db, ctx.user.user()).await? } else { Vec::new() };
    Ok(IndexPage { ctx, invitations, workspaces, total, q, page, pages })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/workspaces/new.html")]
struct NewPage {
    ctx: PageContext,
    name: String,
    slug: String,
    timezone: String,
    error: Option<String>,
    timezones: &'static [&'static str],
}

fn timezone_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect())
}

async fn new(ctx: PageContext) -> NewPage {
    NewPage {
        ctx,
        name: String::new(),
        slug: String::new(),
        timezone: "UTC".into(),
        error: None,
        timezones: timezone_names(),
    }
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    timezone: String,
}

fn parse_new(form: &CreateForm, trial_days: Option<u32>) -> Result<NewWorkspace, String> {
    let name = WorkspaceName::parse(&form.name)?;
    let slug = if form.slug.trim().is_empty() { None } else { Some(Slug::parse(&form.slug)?) };
    let timezone = Timezone::parse(&form.timezone)?;
    Ok(NewWorkspace { name, slug, timezone, trial_days })
}

async fn create(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let outcome = match parse_new(&form, state.config.trial_days) {
        _ if !ctx.user.user().email_verified() => Err(AppError::BadRequest(
            "Confirm your email address first: open the link we sent you, then create your workspace.".into(),
        )),
        Ok(new) => workspaces::create(&state.db, new, ctx.user.user()).await.map_err(AppError::from),
        Err(msg) => Err(AppError::BadRequest(msg)),
    };
    match outcome {
        Ok(ws) => {
            Flash::success(&ctx.session, format!("Workspace “{}” created.", ws.name));
            Ok(redirect(format!("/admin/workspaces/{}", ws.slug)))
        }
        Err(AppError::BadRequest(msg) | AppError::Conflict(msg)) => unprocessable(&NewPage {
            ctx,
            name: form.name,
            slug: form.slug,
            timezone: form.timezone,
            error: Some(msg),
            timezones: timezone_names(),
        }),
        Err(other) => Err(other),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/workspaces/show.html")]
struct ShowPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    member_count: u64,
    api_key_count: usize,
    activity: Vec<activity::Model>,
    trends: Trends,
}

async fn show(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<ShowPage, AppError> {
    let member_count = scope.member_count(&state.db).await?;
    let api_key_count = scope.api_keys(&state.db).await?.iter().filter(|k| k.revoked_at.is_none()).count();
    let activity = scope.recent_activity(&state.db, 15).await?;
    let days = trends::runs_per_day(&state.db, &scope, TREND_DAYS, chrono::Utc::now()).await?;
    let scores = trends::health_scores(&state.db, &scope, TREND_SCORES).await?;
    let nav = WorkspaceNav::new(&scope, "overview");
    let trends = Trends::draw(&nav, &days, &scores);
    Ok(ShowPage { ctx, nav, member_count, api_key_count, activity, trends })
}

/// Days of runs and health scores the overview charts.
const TREND_DAYS: i64 = 30;
const TREND_SCORES: u64 = 30;

/// The overview's two charts, drawn.
struct Trends {
    runs: String,
    runs_total: i64,
    health: Option<String>,
    latest_score: Option<i32>,
}

impl Trends {
    fn draw(nav: &WorkspaceNav, days: &[trends::DayRuns], scores: &[(chrono::DateTime<chrono::Utc>, i32)]) -> Trends {
        let label =
            |i: usize, len: usize, text: String| if (len - 1 - i).is_multiple_of(7) { text } else { String::new() };
        let runs: Vec<Stack> = days
            .iter()
            .enumerate()
            .map(|(i, d)| Stack {
                label: label(i, days.len(), d.date.format("%-d %b").to_string()),
                parts: vec![("succeeded", d.runs - d.failed), ("failed", d.failed)],
                shown: format!("{} runs, {} failed", d.runs, d.failed),
            })
            .collect();
        let tz = nav.workspace.tz().tz();
        let health: Vec<Stack> = scores
            .iter()
            .enumerate()
            .map(|(i, (at, score))| Stack {
                label: label(i, scores.len(), at.with_timezone(&tz).format("%-d %b").to_string()),
                parts: vec![("score", i64::from(*score))],
                shown: format!("{score} of 100 ({})", nav.time(at)),
            })
            .collect();
        Trends {
            runs: stacked_chart("Runs ended per day, the last 30 days", &runs, None),
            runs_total: days.iter().map(|d| d.runs).sum(),
            health: (!scores.is_empty())
                .then(|| stacked_chart("Health score, the latest computations", &health, Some(100))),
            latest_score: scores.last().map(|(_, score)| *score),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/workspaces/settings.html")]
struct SettingsPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    name: String,
    timezone: String,
    error: Option<String>,
    timezones: &'static [&'static str],
}

async fn settings(ctx: PageContext, scope: Scope) -> SettingsPage {
    let ws = scope.workspace();
    SettingsPage {
        name: ws.name.clone(),
        timezone: ws.timezone.clone(),
        ctx,
        nav: WorkspaceNav::new(&scope, "settings"),
        error: None,
        timezones: timezone_names(),
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    name: String,
    timezone: String,
}

async fn update_settings(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_manager()?;
    let parsed = WorkspaceName::parse(&form.name).and_then(|n| Timezone::parse(&form.timezone).map(|t| (n, t)));
    match parsed {
        Ok((name, timezone)) => {
            let updated = workspaces::update_settings(&state.db, &scope, name, timezone).await?;
            Flash::success(&ctx.session, "Settings saved.");
            Ok(redirect(format!("/admin/workspaces/{}/settings", updated.slug)))
        }
        Err(msg) => unprocessable(&SettingsPage {
            ctx,
            nav: WorkspaceNav::new(&scope, "settings"),
            name: form.name,
            timezone: form.timezone,
            error: Some(msg),
            timezones: timezone_names(),
        }),
    }
}
