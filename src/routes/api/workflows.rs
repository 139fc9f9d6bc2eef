//! Workflows over the API: list them with their parameter schemas, and start runs (now, at a
//! time, idempotently, or waiting for the result: the "return data from the API" pattern).

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiScope;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::workflows::{self, AnyWorkflow, NewRun, runs};

/// How long `"wait": true` waits for a run to finish before answering 202 with it unfinished.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workflows", web::get().to(index)).route("/workflows/{name}/runs", web::post().to(start));
}

/// The workflows an API key may run: workspace-scoped and not internal.
pub fn offered() -> impl Iterator<Item = &'static dyn AnyWorkflow> {
    workflows::registry().iter().copied().filter(|w| !w.internal() && w.workspace_scoped())
}

pub fn describe(workflow: &dyn AnyWorkflow) -> Value {
    json!({
        "name": workflow.name(),
        "description": workflow.description(),
        "params_schema": workflow.params_schema(),
        "max_attempts": workflow.max_attempts(),
        "timeout_seconds": workflow.timeout().as_secs(),
    })
}

async fn index(_: ApiScope) -> HttpResponse {
    let all: Vec<Value> = offered().map(describe).collect();
    HttpResponse::Ok().json(json!({ "workflows": all }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    params: Option<Value>,
    run_at: Option<DateTime<Utc>>,
    idempotency_key: Option<String>,
    #[serde(default)]
    wait: bool,
}

/// Fills in the key's workspace; a different workspace is as unknown as any other id.
fn params_for(scope: &Scope, params: Option<Value>) -> Result<Value, AppError> {
    let mut params = match params.unwrap_or_else(|| json!({})) {
        Value::Object(map) => map,
        _ => return Err(AppError::Unprocessable("params: must be a JSON object".into())),
    };
    match params.get("workspace_id") {
        None | Some(Value::Null) => {
            params.insert("workspace_id".into(), Value::String(scope.workspace_id().to_owned()));
        }
        Some(Value::String(id)) if id == scope.workspace_id() => {}
        Some(_) => return Err(AppError::NotFound),
    }
    Ok(Value::Object(params))
}

async fn start(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: StartBody = super::parse_body(&body)?;
    let workflow = offered().find(|w| w.name() == name.as_str()).ok_or(AppError::NotFound)?;
    if let Some(key) = &body.idempotency_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(AppError::Unprocessable("idempotency_key: use 1 to 200 characters".into()).into());
    }
    let params = params_for(&scope, body.params)?;
    let mut new = NewRun::named(workflow.name(), params)?.trigger("api");
    if let Some(at) = body.run_at {
        new = new.at(at);
    }
    if let Some(key) = &body.idempotency_key {
        let existing = runs::find_by_idempotency(&state.db, scope.workspace_id(), key).await?;
        if let Some(run) = existing {
            return Ok(HttpResponse::Ok().json(run));
        }
        new = new.idempotency_key(key.clone());
    }
    let run = runs::start(&state.db, new).await?;
    if !body.wait {
        return Ok(HttpResponse::Accepted().json(run));
    }
    let started = Instant::now();
    let mut current = run;
    while !current.status.is_finished() && started.elapsed() < WAIT_LIMIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
        current = runs::get(&state.db, &current.id, Some(scope.workspace_id())).await?.ok_or(AppError::NotFound)?;
    }
    if current.status.is_finished() {
        Ok(HttpResponse::Ok().json(super::runs::with_timeline(&state.db, &current).await?))
    } else {
        Ok(HttpResponse::Accepted().json(current))
    }
}
