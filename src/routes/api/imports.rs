//! `POST /api/v1/imports/members` (a CSV body) starts inviting the people of the file;
//! `GET /api/v1/imports/{id}` says how far it got and what failed; `DELETE` cancels it. A file
//! that cannot be an import (too large, not UTF-8, a wrong header, too many rows) or that asks
//! for more invitations than the workspace may still send today is refused whole (413 or 422),
//! and nothing starts.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::ApiScope;
use crate::error::{ApiError, AppError};
use crate::imports::csv_file::{self, MAX_BYTES};
use crate::imports::summary::summary;
use crate::imports::workflows::import_members;
use crate::imports::{over_limit, record};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/imports/members").route(web::post().to(create)))
        .service(web::resource("/imports/{id}").route(web::get().to(show)).route(web::delete().to(cancel)));
}

async fn create(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    scope.require_manager()?;
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.trim_start().to_lowercase().starts_with("text/csv") {
        return Err(AppError::Unprocessable("Send the file as the body, with Content-Type: text/csv.".into()).into());
    }
    let body = crate::web::upload::body(payload, MAX_BYTES).await?;
    let rows = csv_file::parse_members(&body, false).map_err(AppError::Unprocessable)?;
    let wanted = rows.iter().filter(|r| r.fields.is_ok()).count() as u64;
    if let Some(refusal) = over_limit(&state.db, &scope, &state.config, wanted).await? {
        return Err(AppError::Unprocessable(refusal).into());
    }
    let import = record::create(&state.db, &scope, &rows, "running").await?;
    import_members::start(&state.db, &import, "api").await?;
    Ok(HttpResponse::Accepted().json(json!({ "id": import.id, "status": "running", "total_rows": import.total_rows })))
}

async fn show(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let import = record::find_in(&state.db, &scope, &id).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(summary(&state.db, &scope, import).await.map_err(AppError::Internal)?))
}

async fn cancel(
    ApiScope(scope): ApiScope,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    scope.require_manager()?;
    let import = record::find_in(&state.db, &scope, &id).await?.ok_or(AppError::NotFound)?;
    if !record::cancel(&state.db, &import.id).await? {
        return Err(AppError::Conflict(format!(
            "The import has ended ({}); there is nothing to cancel.",
            import.status
        ))
        .into());
    }
    let import = record::find_in(&state.db, &scope, &id).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(summary(&state.db, &scope, import).await.map_err(AppError::Internal)?))
}
