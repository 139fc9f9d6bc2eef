//! Runs over the API: read one, list (filtered by workflow and status), cancel one that has not
//! started, retry one that failed (`POST /runs/{id}/cancel`, `/retry`, as GitHub's Actions API
//! does: the run is not deleted, so these are not DELETE). Always within the key's workspace;
//! Offstage's own runs there (dunning steps, trial reminders) can be read but not changed.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiScope;
use crate::domain::RunId;
use crate::engine::runs::{self, RunFilter, RunStatus, RunView};
use crate::error::{ApiError, AppError};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/runs").route(web::get().to(index)))
        .service(web::resource("/runs/{id}").route(web::get().to(show)))
        .service(web::resource("/runs/{id}/cancel").route(web::post().to(cancel)))
        .service(web::resource("/runs/{id}/retry").route(web::post().to(retry)));
}

#[derive(Deserialize)]
struct ListQuery {
    workflow: Option<String>,
    status: Option<String>,
    /// Read as text, so a wrong value is answered naming the parameter.
    limit: Option<String>,
}

async fn index(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = query.status.as_deref().map(RunStatus::parse).transpose().map_err(AppError::Unprocessable)?;
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(text) => {
            let number = text
                .parse::<i128>()
                .map_err(|_| AppError::BadRequest(format!("limit: “{text}” is not a whole number")))?;
            u64::try_from(number)
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| AppError::Unprocessable("limit: use a number from 1 to 200".into()))?
        }
    };
    let filter = RunFilter { workflow: query.workflow.clone(), status, limit, ..RunFilter::default() };
    let found = runs::list(&state.db, &scope, &filter).await?;
    Ok(HttpResponse::Ok().json(json!({ "runs": found })))
}

async fn show(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let run = runs::get(&state.db, &RunId::from(id.as_str()), &scope).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(with_timeline(&state.db, &run).await?))
}

/// A run as `GET /api/v1/runs/{id}` shows it: its fields and its timeline (`events`).
pub(super) async fn with_timeline(db: &sea_orm::DatabaseConnection, run: &RunView) -> Result<Value, AppError> {
    let timeline = runs::timeline(db, run).await?;
    let mut body = serde_json::to_value(run).map_err(|err| AppError::Internal(err.into()))?;
    body["events"] = json!(timeline);
    Ok(body)
}

async fn cancel(scope: ApiScope, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    change(scope, &state, &id, Change::Cancel).await
}

async fn retry(scope: ApiScope, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    change(scope, &state, &id, Change::Retry).await
}

enum Change {
    Cancel,
    Retry,
}

/// Cancels or retries a run of the key's workspace that the key may change.
async fn change(
    ApiScope(scope): ApiScope,
    state: &AppState,
    id: &str,
    change: Change,
) -> Result<HttpResponse, ApiError> {
    let run = runs::get(&state.db, &RunId::from(id), &scope).await?.ok_or(AppError::NotFound)?;
    scope.require_may_change_run(state.workflows.is_internal(&run.workflow))?;
    let by = scope.actor().label();
    let changed = match change {
        Change::Cancel => runs::cancel(&state.db, &run, &by).await?,
        Change::Retry => runs::retry(&state.db, &state.workflows, &run, &by).await?,
    };
    Ok(HttpResponse::Ok().json(changed))
}
