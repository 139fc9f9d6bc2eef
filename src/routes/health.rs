//! `GET /healthz`: 200 with `{"status":"ok","database":"ok","queue":"ok",…}` when the database
//! answers and the job queue's table is readable; 503 with the failing part named otherwise.

use actix_web::{HttpResponse, web};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbErr, Statement};
use serde_json::json;

use crate::engine::queue;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
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
