//! Runs over the API: read one, list (filtered by workflow and status), cancel one that has not
//! started. Always within the key's workspace.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiScope;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::tenancy::Actor;
use crate::workflows::runs::{self, RunFilter, RunStatus, RunView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/runs", web::get().to(index))
        .route("/runs/{id}", web::get().to(show))
        .route("/runs/{id}", web::delete().to(cancel));
}

#[derive(Deserialize)]
struct ListQuery {
    workflow: Option<String>,
    status: Option<String>,
    limit: Option<u64>,
}

async fn index(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = query.status.as_deref().map(RunStatus::parse).transpose().map_err(AppError::Unprocessable)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::Unprocessable("limit: use a number from 1 to 200".into()).into());
    }
    let filter = RunFilter {
        workspace_id: Some(scope.workspace_id().to_owned()),
        workflow: query.workflow.clone(),
        status,
        limit,
        ..RunFilter::default()
    };
    let found = runs::list(&state.db, &filter).await?;
    Ok(HttpResponse::Ok().json(json!({ "runs": found })))
}

async fn show(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let run = runs::get(&state.db, &id, Some(scope.workspace_id())).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(with_timeline(&state.db, &run).await?))
}

/// A run as `GET /api/v1/runs/{id}` shows it: its fields and its timeline (`events`).
pub(super) async fn with_timeline(db: &sea_orm::DatabaseConnection, run: &RunView) -> Result<Value, AppError> {
    let timeline = runs::timeline(db, run).await?;
    let mut body = serde_json::to_value(run).map_err(|err| AppError::Internal(err.into()))?;
    body["events"] = json!(timeline);
    Ok(body)
}

async fn cancel(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let run = runs::get(&state.db, &id, Some(scope.workspace_id())).await?.ok_or(AppError::NotFound)?;
    let by = match scope.actor() {
        Actor::ApiKey { name, .. } => format!("API key “{name}”"),
        other => other.label(),
    };
    let cancelled = runs::cancel(&state.db, &run, &by).await?;
    Ok(HttpResponse::Ok().json(cancelled))
}
