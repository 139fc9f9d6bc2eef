//! Starting up to 1,000 runs of one workflow in one request
//! (`POST /api/v1/workflows/{name}/runs/batch`): every item is checked first, and a single bad
//! item refuses the whole batch with a 422 naming its index and field; then all start in one
//! transaction, and each item is answered in order (a repeated idempotency key answers with the
//! first run, marked as a duplicate).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiScope;
use super::workflows::{IDEMPOTENCY_KEY_MAX, offered, params_for};
use crate::engine::{NewRun, runs};
use crate::error::{ApiError, AppError};
use crate::state::AppState;

/// The most runs one batch may start.
pub const BATCH_MAX: usize = 1_000;
/// The largest batch body: 1,000 items of about 2 KB each.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/workflows/{name}/runs/batch")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::post().to(start_batch)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    runs: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    #[serde(default)]
    params: Option<Value>,
    run_at: Option<DateTime<Utc>>,
    idempotency_key: Option<String>,
}

async fn start_batch(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let workflow = offered(&state.workflows).find(|w| w.name() == name.as_str()).ok_or(AppError::NotFound)?;
    let body: BatchBody = super::parse_body(&body)?;
    if !(1..=BATCH_MAX).contains(&body.runs.len()) {
        let message = format!("runs: give 1 to {BATCH_MAX} runs (this batch has {})", body.runs.len());
        return Err(AppError::Unprocessable(message).into());
    }
    let mut news = Vec::with_capacity(body.runs.len());
    for (index, item) in body.runs.into_iter().enumerate() {
        let invalid =
            |field: &str, problem: String| AppError::Unprocessable(format!("runs[{index}].{field}: {problem}"));
        if let Some(key) = &item.idempotency_key
            && !(1..=IDEMPOTENCY_KEY_MAX).contains(&key.chars().count())
        {
            return Err(invalid("idempotency_key", format!("use 1 to {IDEMPOTENCY_KEY_MAX} characters")).into());
        }
        let params = match params_for(&scope, item.params) {
            Err(AppError::Unprocessable(problem)) => {
                return Err(invalid("params", problem.trim_start_matches("params: ").to_owned()).into());
            }
            other => other?,
        };
        workflow.check_params(&params).map_err(|err| match err.path.as_str() {
            "" => invalid("params", err.problem),
            path => invalid(&format!("params.{path}"), err.problem),
        })?;
        let mut new = NewRun::for_workflow(workflow, params).trigger("api");
        if let Some(at) = item.run_at {
            new = new.at(at);
        }
        if let Some(key) = item.idempotency_key {
            new = new.idempotency_key(key);
        }
        news.push(new);
    }
    let started = runs::start_batch(&state.db, &news).await?;
    let answers: Vec<Value> = started
        .into_iter()
        .map(|run| json!({ "id": run.id, "status": run.status, "duplicate": run.duplicate }))
        .collect();
    Ok(HttpResponse::Accepted().json(json!({ "runs": answers })))
}
