//! JSON API v1, authenticated by `Authorization: Bearer <api key>`. Every handler receives an
//! `ApiScope`: the key's own workspace, and nothing else is reachable.

mod openapi;
mod runs;
mod waits;
mod workflows;
mod workspace;

pub use waits::ApiWaits;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::tenancy::{Scope, authenticate_api_key};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(web::PayloadConfig::new(256 * 1024))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError(AppError::BadRequest(format!("A query parameter could not be read: {err}"))).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                ApiError(AppError::BadRequest(format!("The path could not be read: {err}"))).into()
            }))
            .configure(workspace::configure)
            .configure(workflows::configure)
            .configure(runs::configure)
            .configure(openapi::configure)
            .default_service(web::to(not_found)),
    );
}

/// Reads a JSON body: malformed JSON is 400; JSON of the wrong shape is 422 naming the field.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|err| AppError::BadRequest(format!("The request body is not valid JSON: {err}")))?
    };
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = if path == "." { err.into_inner().to_string() } else { format!("{path}: {}", err.into_inner()) };
        ApiError(AppError::Unprocessable(message))
    })
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError(AppError::NotFound))
}

/// The scope of the API key in the `Authorization` header.
pub struct ApiScope(pub Scope);

impl FromRequest for ApiScope {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?;
            let token = header
                .as_deref()
                .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
                .map(str::trim)
                .ok_or_else(|| AppError::Unauthorized("Send your API key as `Authorization: Bearer <key>`.".into()))?;
            Ok(ApiScope(authenticate_api_key(&state.db, token).await?))
        })
    }
}
