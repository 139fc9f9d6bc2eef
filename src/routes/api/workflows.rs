//! Workflows over the API: list them with their parameter schemas, and start runs (now, at a
//! time, idempotently, or waiting for the result: the "return data from the API" pattern). A
//! waiting request is woken when its run ends (`runs::waiting`), not by polling, and each key
//! may hold only a few open (`waits`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiScope, ApiWaits};
use crate::engine::{AnyWorkflow, NewRun, Registry, runs};
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::tenancy::{Actor, Scope};

/// How long `"wait": true` waits for a run to finish before answering 202 with it unfinished.
const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// The longest idempotency key, in characters.
pub(super) const IDEMPOTENCY_KEY_MAX: usize = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/workflows").route(web::get().to(index)))
        .service(web::resource("/workflows/{name}/runs").route(web::post().to(start)));
}

/// The workflows an API key may run: workspace-scoped, not internal, not an operator tool.
pub fn offered(registry: &Registry) -> impl Iterator<Item = &'static dyn AnyWorkflow> + '_ {
    registry.startable_in_workspace(false)
}

pub fn describe(workflow: &dyn AnyWorkflow) -> Value {
    json!({
        "name": workflow.name(),
        "description": workflow.description(),
        "params_schema": workflow.params_schema(),
        "max_attempts": workflow.max_attempts(),
        "timeout_seconds": workflow.timeout().as_secs(),
        "priority": workflow.priority(),
        "running_per_workspace": workflow.running_per_workspace(),
    })
}

async fn index(_: ApiScope, state: web::Data<AppState>) -> HttpResponse {
    let all: Vec<Value> = offered(&state.workflows).map(describe).collect();
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
pub(super) fn params_for(scope: &Scope, params: Option<Value>) -> Result<Value, AppError> {
    let mut params = match params.unwrap_or_else(|| json!({})) {
        Value::Object(map) => map,
        _ => return Err(AppError::Unprocessable("params: must be a JSON object".into())),
    };
    match params.get("workspace_id") {
        None => {
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
    api_waits: web::Data<ApiWaits>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: StartBody = super::parse_body(&body)?;
    let workflow = offered(&state.workflows).find(|w| w.name() == name.as_str()).ok_or(AppError::NotFound)?;
    if let Some(key) = &body.idempotency_key
        && !(1..=IDEMPOTENCY_KEY_MAX).contains(&key.chars().count())
    {
        return Err(AppError::Unprocessable("idempotency_key: use 1 to 200 characters".into()).into());
    }
    if body.wait && body.run_at.is_some() {
        // Waiting is for a run that starts now: one due later would hold the request open for
        // nothing (and the wait would only end at its limit).
        return Err(AppError::Unprocessable(
            "wait: only a run that starts now can be waited for; leave out run_at, or wait".into(),
        )
        .into());
    }
    let params = params_for(&scope, body.params)?;
    let mut new = NewRun::for_workflow(workflow, params).trigger("api");
    if let Some(at) = body.run_at {
        new = new.at(at);
    }
    if let Some(key) = body.idempotency_key {
        new = new.idempotency_key(key);
    }
    let _slot = if body.wait {
        let key_id = match scope.actor() {
            Actor::ApiKey { id, .. } => id.clone(),
            other => other.label(),
        };
        let limit = state.config.limits.api_waits_per_key;
        Some(api_waits.enter(&key_id, limit).ok_or_else(|| too_many_waits(limit))?)
    } else {
        None
    };
    if body.wait {
        new = new.awaited();
    }
    let (run, duplicate) = state.starter.start_or_find(new).await?;
    if duplicate {
        return Ok(HttpResponse::Ok().json(run));
    }
    if !body.wait {
        return Ok(HttpResponse::Accepted().json(run));
    }
    let current = runs::waiting::until_finished(&state.db, &scope, &run.id, WAIT_LIMIT).await?;
    if current.status.is_finished() {
        Ok(HttpResponse::Ok().json(super::runs::with_timeline(&state.db, &current).await?))
    } else {
        Ok(HttpResponse::Accepted().json(current))
    }
}

/// 429 with `Retry-After`: the key already holds as many waits as it may.
fn too_many_waits(limit: u32) -> ApiError {
    ApiError(AppError::TooManyRequests {
        message: format!(
            "This API key already has {limit} requests waiting for runs; wait for one to finish, or start runs \
             without \"wait\" and read them with GET /api/v1/runs/{{id}}."
        ),
        retry_after: 1,
    })
}
