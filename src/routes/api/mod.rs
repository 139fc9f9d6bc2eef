//! JSON API v1, authenticated by `Authorization: Bearer <api key>`. Every handler receives an
//! `ApiScope`: the key's own workspace, and nothing else is reachable.

mod workspace;

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
            .app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(|err, _| {
                ApiError(AppError::BadRequest(format!("The request body is not valid JSON: {err}"))).into()
            }))
            .configure(workspace::configure)
            .default_service(web::to(not_found)),
    );
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
