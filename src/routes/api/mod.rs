//! JSON API v1, authenticated by `Authorization: Bearer <api key>`. Every handler receives an
//! `ApiScope`: the key's own workspace, and nothing else is reachable.

mod batch_starts;
mod imports;
mod openapi;
mod rate_limit;
mod runs;
mod waits;
mod workflows;
mod workspace;

pub use rate_limit::ApiRateLimit;
pub use waits::ApiWaits;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::tenancy::{Actor, Scope, authenticate_api_key};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(rate_limit::add_headers))
            .app_data(web::PayloadConfig::new(256 * 1024))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError(AppError::BadRequest(format!("A query parameter could not be read: {err}"))).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                ApiError(AppError::BadRequest(format!("The path could not be read: {err}"))).into()
            }))
            .configure(workspace::configure)
            .configure(workflows::configure)
            .configure(batch_starts::configure)
            .configure(runs::configure)
            .configure(imports::configure)
            .configure(openapi::configure)
            .default_service(web::to(not_found)),
    );
}

/// Reads a JSON body: malformed JSON is 400; JSON of the wrong shape is 422 naming the field.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // No body is `{}`. A body of whitespace alone is not JSON (schemathesis sent `' '` and got a
    // run): it is refused like any other malformed body.
    let value: serde_json::Value = if body.is_empty() {
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
        let rate_limit = req.app_data::<web::Data<ApiRateLimit>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?;
            let token = header
                .as_deref()
                .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
                .map(str::trim)
                .ok_or_else(|| AppError::Unauthorized("Send your API key as `Authorization: Bearer <key>`.".into()))?;
            let scope = authenticate_api_key(&state.db, token).await?;
            if let (Some(rate_limit), Actor::ApiKey { id, .. }) = (rate_limit, scope.actor()) {
                match rate_limit.check(id) {
                    Ok(allowance) => allowance.into_iter().for_each(|allowance| rate_limit::remember(&req, allowance)),
                    Err((allowance, wait)) => {
                        rate_limit::remember(&req, allowance);
                        let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
                        return Err(ApiError(AppError::TooManyRequests {
                            message: format!(
                                "This API key has made more requests than it may; try again in {retry_after} s \
                                 (the RateLimit header says how many are left)."
                            ),
                            retry_after,
                        }));
                    }
                }
            }
            Ok(ApiScope(scope))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_body;

    #[test]
    fn an_empty_body_is_an_empty_object_but_whitespace_alone_is_not_json() {
        let empty: serde_json::Value = parse_body(b"").unwrap();
        assert_eq!(empty, serde_json::json!({}));
        for blank in [&b" "[..], b" \t\r\n", b"\x0c"] {
            let refused = parse_body::<serde_json::Value>(blank).unwrap_err();
            assert!(refused.0.to_string().contains("not valid JSON"), "{blank:?}: {}", refused.0);
        }
    }
}
