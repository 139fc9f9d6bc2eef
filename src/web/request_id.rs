//! `X-Request-Id` on every request: accepted or made (`telemetry::request_id`), echoed on the
//! response, and the request's work runs inside a `request` span carrying it (so every log line
//! of the request names it) and with it as the id of any run it starts.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::telemetry::request_id;

pub const HEADER: &str = "x-request-id";

pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let sent = request.headers().get(HEADER).and_then(|value| value.to_str().ok());
    let id = request_id::accept_or_make(sent);
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = request_id::within(id.clone(), next.call(request).instrument(span)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(HEADER), value);
    }
    Ok(response)
}
