//! `GET /metrics`, Prometheus's text format. With `OFFSTAGE_METRICS_TOKEN` set, the main server
//! answers it to `Authorization: Bearer <token>` only (401 otherwise); `OFFSTAGE_METRICS_BIND`
//! serves it without a token on a listener of its own (an address only the scraper reaches);
//! with neither it is off, and the main server answers 404.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;
use crate::telemetry::gauges::Gauges;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape_with_token));
}

async fn scrape_with_token(
    state: web::Data<AppState>,
    gauges: web::Data<Gauges>,
    request: HttpRequest,
) -> HttpResponse {
    let Some(token) = &state.config.metrics_token else {
        return HttpResponse::NotFound().body("Metrics are off: set OFFSTAGE_METRICS_TOKEN or OFFSTAGE_METRICS_BIND.");
    };
    let sent = request
        .headers()
        .get("Authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")));
    if !sent.is_some_and(|sent| crate::tokens::constant_time_eq(sent, token.expose())) {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer"))
            .body("Send OFFSTAGE_METRICS_TOKEN as `Authorization: Bearer <token>`.");
    }
    scrape(state, gauges).await
}

/// The metrics, with the database's gauges at most a few seconds old.
pub async fn scrape(state: web::Data<AppState>, gauges: web::Data<Gauges>) -> HttpResponse {
    if let Err(err) = gauges.refresh(&state.db).await {
        tracing::warn!(error = %err, "metrics: could not read the database's gauges; showing the last values");
    }
    let handle = crate::telemetry::metrics::handle();
    handle.run_upkeep();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render())
}
