//! Platform → Queue, the live system view: attempts per minute and per hour by outcome (charts),
//! depth by status, the oldest due run's wait, the worker processes alive, the busiest
//! workflows and workspaces, the largest backlogs and the latest failures. The page refreshes
//! its live part every 5 s from `/admin/platform/queue/live` (the same template, drawn by the
//! server); `/admin/platform/queue.json` gives the same figures to scripts. Platform admins only.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, TimeZone, Utc};

use crate::engine::tallies::read::Period;
use crate::error::AppError;
use crate::state::AppState;
use crate::telemetry::dashboard::QueueDashboard;
use crate::web::PageContext;
use crate::web::chart::{Stack, stacked_chart};

use super::platform::{Utc as UtcTimes, require_platform_admin};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/queue", web::get().to(page))
        .route("/platform/queue/live", web::get().to(live))
        .route("/platform/queue.json", web::get().to(json));
}

/// The figures as the template shows them.
pub struct QueueView {
    pub dash: QueueDashboard,
    pub utc: UtcTimes,
}

impl QueueView {
    /// "none waiting", "3 s", "4 min 10 s", "2 h 5 min".
    pub fn oldest_wait(&self) -> String {
        let s = self.dash.oldest_due_wait_seconds.round() as i64;
        match s {
            _ if self.dash.depth.iter().all(|d| d.status != "queued" || d.runs == 0) => "none waiting".into(),
            0..60 => format!("{s} s"),
            60..3600 => format!("{} min {} s", s / 60, s % 60),
            _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
        }
    }

    pub fn attempts_last_hour(&self) -> i64 {
        self.dash.attempts_last_hour()
    }

    /// The last hour, a column a minute, labelled every 10 minutes.
    pub fn hour_chart(&self) -> String {
        chart("Attempts per minute, the last hour, by outcome", &self.dash.last_hour, 10, "%H:%M")
    }

    /// The last day, a column an hour, labelled every 3 hours.
    pub fn day_chart(&self) -> String {
        chart("Attempts per hour, the last 24 hours, by outcome", &self.dash.last_day, 3, "%H:00")
    }

    pub fn time(&self, at: &DateTime<Utc>) -> String {
        self.utc.time(at)
    }
}

fn chart(title: &str, periods: &[Period], label_every: usize, format: &str) -> String {
    let stacks: Vec<Stack> = periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let start = Utc.timestamp_opt(p.minute * 60, 0).single().unwrap_or_default();
            let label = if i.is_multiple_of(label_every) { start.format(format).to_string() } else { String::new() };
            Stack {
                label,
                parts: vec![
                    ("succeeded", p.succeeded),
                    ("skipped", p.skipped),
                    ("retried", p.retried),
                    ("failed", p.failed),
                ],
                shown: format!(
                    "{} UTC: {} succeeded, {} skipped, {} retried, {} failed",
                    start.format("%H:%M"),
                    p.succeeded,
                    p.skipped,
                    p.retried,
                    p.failed
                ),
            }
        })
        .collect();
    stacked_chart(title, &stacks, None)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/queue.html")]
struct QueuePage {
    ctx: PageContext,
    view: QueueView,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/_queue_live.html")]
struct QueueLive {
    view: QueueView,
}

async fn read(ctx: &PageContext, state: &AppState) -> Result<QueueView, AppError> {
    let platform = require_platform_admin(ctx)?;
    let dash = QueueDashboard::read(&state.db, &platform, &state.queue_depth).await?;
    Ok(QueueView { dash, utc: UtcTimes })
}

async fn page(ctx: PageContext, state: web::Data<AppState>) -> Result<QueuePage, AppError> {
    let view = read(&ctx, &state).await?;
    Ok(QueuePage { ctx, view })
}

/// The live part of the page, for the page's script to swap in.
async fn live(ctx: PageContext, state: web::Data<AppState>) -> Result<QueueLive, AppError> {
    Ok(QueueLive { view: read(&ctx, &state).await? })
}

async fn json(ctx: PageContext, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let view = read(&ctx, &state).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(view.dash))
}
