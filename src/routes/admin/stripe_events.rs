//! The platform's Stripe events inbox (platform admins only): every received event with its
//! status, deliveries and error, one event's pretty payload and processing runs, and replay of
//! one failed or unmatched event or of all of them.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::platform::{Utc, require_platform_admin};
use crate::billing::{EventStatus, inbox};
use crate::db::entities::stripe_event;
use crate::engine::runs::{self, RunFilter, RunView};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/stripe-events", web::get().to(index))
        .route("/platform/stripe-events/replay", web::post().to(replay_all))
        .route("/platform/stripe-events/{id}", web::get().to(show))
        .route("/platform/stripe-events/{id}/replay", web::post().to(replay));
}

#[derive(Deserialize, Default)]
struct EventsQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    event_type: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/stripe_events.html")]
struct EventsPage {
    ctx: PageContext,
    events: Vec<stripe_event::Model>,
    counts: Vec<(EventStatus, u64)>,
    statuses: [EventStatus; 5],
    types: Vec<&'static str>,
    status: String,
    event_type: String,
    utc: Utc,
}

async fn index(
    ctx: PageContext,
    state: web::Data<AppState>,
    query: web::Query<EventsQuery>,
) -> Result<EventsPage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let status = match query.status.as_str() {
        "" => None,
        other => Some(
            EventStatus::parse(other)
                .ok_or_else(|| AppError::BadRequest(format!("“{other}” is not an event status")))?,
        ),
    };
    let event_type = Some(query.event_type.as_str()).filter(|t| !t.is_empty());
    Ok(EventsPage {
        events: inbox::list(&state.db, &platform, status, event_type, 100).await?,
        counts: inbox::counts(&state.db, &platform).await?,
        statuses: EventStatus::ALL,
        types: crate::billing::apply::handled_types().collect(),
        status: query.status.clone(),
        event_type: query.event_type.clone(),
        utc: Utc,
        ctx,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/stripe_event.html")]
struct EventPage {
    ctx: PageContext,
    event: stripe_event::Model,
    payload: String,
    runs: Vec<RunView>,
    can_replay: bool,
    /// How long a processed event's payload is kept (`OFFSTAGE_RETENTION_EVENTS`).
    payloads_kept: String,
    utc: Utc,
}

async fn show(ctx: PageContext, state: web::Data<AppState>, id: web::Path<String>) -> Result<EventPage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let event = inbox::get(&state.db, &platform, &id).await?;
    let payload = serde_json::from_str::<serde_json::Value>(&event.payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| event.payload.clone());
    let filter = RunFilter { business_key: Some(format!("stripe:{}", event.id)), limit: 20, ..RunFilter::default() };
    let runs = runs::list(&state.db, &platform, &filter).await?;
    let can_replay = EventStatus::parse(&event.status).is_some_and(EventStatus::can_replay);
    let payloads_kept = crate::domain::describe_duration(state.config.retention.event_payloads);
    Ok(EventPage { ctx, event, payload, runs, can_replay, payloads_kept, utc: Utc })
}

async fn replay(
    ctx: PageContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    if inbox::replay(&state.db, &platform, &id).await? {
        Flash::success(&ctx.session, "Event queued for processing again.");
    } else {
        Flash::error(&ctx.session, "Only failed or unmatched events can be replayed.");
    }
    Ok(redirect(format!("/admin/platform/stripe-events/{id}")))
}

#[derive(Deserialize)]
struct ReplayAllForm {
    status: String,
}

async fn replay_all(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ReplayAllForm>,
) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let status = EventStatus::parse(&form.status)
        .filter(|s| s.can_replay())
        .ok_or_else(|| AppError::Unprocessable("Only failed or unmatched events can be replayed.".into()))?;
    let queued = inbox::replay_all(&state.db, &platform, status).await?;
    Flash::success(&ctx.session, format!("{queued} {} event(s) queued for processing again.", status.as_str()));
    Ok(redirect(format!("/admin/platform/stripe-events?status={}", status.as_str())))
}
