//! Counts every HTTP request for `/metrics`: by the route pattern it matched (never a path with
//! ids in it, so the label set stays small), method and status, with the time to answer.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(request.method());
    let response = next.call(request).await?;
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    crate::telemetry::metrics::http_request(route, method, response.status().as_u16(), started.elapsed());
    Ok(response)
}

/// The standard methods by name; anything else (which only a scanner sends) as `other`.
fn method_label(method: &Method) -> &'static str {
    [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD, Method::OPTIONS]
        .into_iter()
        .zip(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
        .find_map(|(known, name)| (known == method).then_some(name))
        .unwrap_or("other")
}
