//! Platform → Revenue: a month's revenue per workspace (picked with a month picker; last month
//! by default), totals per currency, workspaces ranked by net revenue, the last 12 months as a
//! chart, the rows as CSV, and "recalculate" with the calculation's progress.

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use serde::Deserialize;

use super::platform::{Utc as UtcTimes, require_platform_admin};
use crate::db::entities::revenue_month;
use crate::domain::Month;
use crate::engine::Workflow;
use crate::engine::runs::{self, ChainProgress, NewRun, RunFilter, RunView};
use crate::error::AppError;
use crate::revenue::report::{self, Row, Total};
use crate::revenue::workflows::calculate_monthly_revenue::{self as calculation, CalculateMonthlyRevenue};
use crate::state::AppState;
use crate::tenancy::Platform;
use crate::web::chart::{Bar, bar_chart};
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/revenue", web::get().to(show))
        .route("/platform/revenue/export", web::get().to(export))
        .route("/platform/revenue/recalculate", web::post().to(recalculate));
}

/// Workspaces listed on the page; the CSV has them all.
const ROWS_SHOWN: usize = 200;

#[derive(Deserialize)]
struct MonthQuery {
    month: Option<String>,
}

fn month_of(query: &MonthQuery) -> Result<Month, AppError> {
    match query.month.as_deref().filter(|m| !m.is_empty()) {
        Some(text) => Month::parse(text).map_err(AppError::Unprocessable),
        None => Ok(Month::last(Utc::now())),
    }
}

/// The newest calculation of a month, as one chain: its first run and how far it got.
pub struct Calculation {
    pub run: RunView,
    pub progress: ChainProgress,
    pub progress_url: String,
}

async fn calculation_of(state: &AppState, platform: &Platform, month: Month) -> Result<Option<Calculation>, AppError> {
    let filter = RunFilter { workflow: Some(CalculateMonthlyRevenue::NAME.into()), limit: 50, ..RunFilter::default() };
    let recent = runs::list(&state.db, platform, &filter).await?;
    // A scheduled calculation is started without a month; its first run's output names it.
    let names = |run: &RunView| {
        let named = run.params["month"].as_str().or_else(|| run.output.as_ref()?["month"].as_str());
        named == Some(month.to_string().as_str())
    };
    let Some(newest) = recent.into_iter().find(names) else {
        return Ok(None);
    };
    let mut chain = runs::chain(&state.db, &newest, platform).await?;
    if chain.is_empty() {
        chain.push(newest);
    }
    let Some(progress) = ChainProgress::of(&chain, Utc::now()) else { return Ok(None) };
    Ok(chain.into_iter().next().map(|run| Calculation {
        progress_url: format!("/admin/platform/runs/{}/progress", run.id),
        run,
        progress,
    }))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/revenue.html")]
struct RevenuePage {
    ctx: PageContext,
    month: Month,
    computed: Option<revenue_month::Model>,
    totals: Vec<Total>,
    rows: Vec<Row>,
    more_rows: usize,
    /// (currency, SVG) per currency, the last 12 months of net revenue.
    charts: Vec<(String, String)>,
    calculation: Option<Calculation>,
    utc: UtcTimes,
}

impl RevenuePage {
    fn calculating(&self) -> bool {
        self.calculation.as_ref().is_some_and(|c| c.progress.in_progress)
    }
}

async fn show(
    ctx: PageContext,
    state: web::Data<AppState>,
    query: web::Query<MonthQuery>,
) -> Result<RevenuePage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let month = month_of(&query)?;
    let mut rows = report::month_rows(&state.db, &platform, month).await?;
    let totals = report::totals(&rows);
    let more_rows = rows.len().saturating_sub(ROWS_SHOWN);
    rows.truncate(ROWS_SHOWN);
    let months = month.last_n(12);
    let charts = report::platform_series(&state.db, &platform, &months).await?.iter().map(net_chart).collect();
    Ok(RevenuePage {
        computed: report::computed(&state.db, month).await?,
        calculation: calculation_of(&state, &platform, month).await?,
        ctx,
        month,
        totals,
        rows,
        more_rows,
        charts,
        utc: UtcTimes,
    })
}

/// A currency's net revenue per month as a bar chart: "Nov" under each bar, the amount on hover.
pub(super) fn net_chart(series: &report::Series) -> (String, String) {
    let currency = series.currency.to_uppercase();
    let (first, last) = (series.points.first().map(|p| p.0), series.points.last().map(|p| p.0));
    let title = match (first, last) {
        (Some(first), Some(last)) => format!("Net revenue in {currency}, {first} to {last}"),
        _ => format!("Net revenue in {currency}"),
    };
    let bars: Vec<Bar> = series
        .points
        .iter()
        .map(|(month, net)| Bar {
            label: month.label().split(' ').next().unwrap_or_default().to_owned(),
            value: *net,
            shown: format!("{} {}", month.label(), crate::domain::Money::new(*net, &series.currency)),
        })
        .collect();
    (currency, bar_chart(&title, &bars))
}

async fn export(
    ctx: PageContext,
    state: web::Data<AppState>,
    query: web::Query<MonthQuery>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let month = month_of(&query)?;
    if report::computed(&state.db, month).await?.is_none() {
        Flash::error(&ctx.session, format!("{month} has not been calculated yet: recalculate it first."));
        return Ok(redirect(format!("/admin/platform/revenue?month={month}")));
    }
    let rows = report::month_rows(&state.db, &platform, month).await?;
    let body = report::csv(&rows).map_err(|err| AppError::Internal(err.into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"revenue-{month}.csv\"")))
        .body(body))
}

#[derive(Deserialize)]
struct RecalculateForm {
    /// Defaulted, so that anyone but a platform admin gets 404 whatever the form holds.
    #[serde(default)]
    month: String,
}

async fn recalculate(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<RecalculateForm>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let month = Month::parse(&form.month).map_err(AppError::Unprocessable)?;
    let page = format!("/admin/platform/revenue?month={month}");
    if calculation_of(&state, &platform, month).await?.is_some_and(|c| c.progress.in_progress) {
        Flash::info(&ctx.session, format!("{month} is being calculated already; its progress is below."));
        return Ok(redirect(page));
    }
    let params = calculation::Params { month: Some(month.to_string()), ..Default::default() };
    runs::start(&state.db, NewRun::of::<CalculateMonthlyRevenue>(&params).trigger("ui")).await?;
    Flash::success(&ctx.session, format!("Recalculating {month}: the progress shows below."));
    Ok(redirect(page))
}
