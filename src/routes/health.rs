//! `GET /healthz`: 200 with `{"status":"ok","database":"ok","queue":"ok",…}` when the database
//! answers and the job queue's table is readable; 503 with the failing part named otherwise.
//! `GET /readyz`, for load balancers and orchestrators: 200 once the database answers, every
//! migration this build knows is applied and, in a process that runs workers, they have sent a
//! heartbeat; 503 naming what is not ready otherwise.

use actix_web::{HttpResponse, web};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbErr, Statement};
use serde_json::json;

use crate::engine::queue;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz)).route("/readyz", web::get().to(readyz));
}

/// A check that takes longer than this counts as failed: a load balancer wants an answer.
const CHECK_LIMIT: Duration = Duration::from_secs(3);

async fn within_limit<T>(check: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
    tokio::time::timeout(CHECK_LIMIT, check).await.unwrap_or_else(|_| Err(DbErr::Custom("timed out".into())))
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.get_database_backend();
    let database = within_limit(state.db.query_one_raw(Statement::from_string(backend, "SELECT 1"))).await;
    let queue = within_limit(queue::pending_count(&state.db)).await;
    let database_ok = database.is_ok();
    let body = json!({
        "status": if database_ok && queue.is_ok() { "ok" } else { "unavailable" },
        "database": if database_ok { "ok" } else { "unavailable" },
        "queue": if queue.is_ok() { "ok" } else { "unavailable" },
        "queue_pending": queue.as_ref().ok(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    if let Err(err) = &database {
        tracing::error!(error = %err, "health check: database unavailable");
    }
    if let Err(err) = &queue {
        tracing::error!(error = %err, "health check: queue unavailable");
    }
    if database_ok && queue.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.get_database_backend();
    let database = within_limit(state.db.query_one_raw(Statement::from_string(backend, "SELECT 1"))).await.is_ok();
    let pending = if database { within_limit(crate::db::pending_migrations(&state.db)).await.ok() } else { None };
    let beating =
        !state.runs_workers || (database && within_limit(queue::workers::alive_here(&state.db)).await.unwrap_or(false));
    let workers = match (state.runs_workers, beating) {
        (false, _) => "not run by this process",
        (true, true) => "ok",
        (true, false) => "not yet registered",
    };
    let migrations = match pending {
        Some(0) => "ok",
        Some(_) => "pending: run offstage migrate",
        None => "unknown",
    };
    let ready = database && pending == Some(0) && beating;
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": if database { "ok" } else { "unavailable" },
        "migrations": migrations,
        "workers": workers,
    });
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}
