//! `POST /webhooks/stripe`: Stripe's webhook endpoint. The signature is checked over the raw
//! body; the event and the run that will process it are committed before the 2xx answer; a
//! repeated delivery answers 200 and changes nothing but its delivery count.

use crate::telemetry::metrics::stripe_delivery;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::billing::{Envelope, Received, signature};
use crate::state::AppState;

/// Stripe's events are a few KB; anything near this is not one of them (413).
pub const BODY_LIMIT: usize = 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/stripe")
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::post().to(receive_stripe)),
    );
}

/// A delivery's outcome, as `offstage_stripe_webhook_deliveries_total` counts it, and the answer.
type Answer = (&'static str, HttpResponse);

fn refuse(reason: &str) -> Answer {
    ("refused", HttpResponse::BadRequest().json(json!({ "error": reason })))
}

async fn receive_stripe(state: web::Data<AppState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (outcome, response) = receive(&state, &request, &body).await;
    stripe_delivery(outcome);
    response
}

async fn receive(state: &AppState, request: &HttpRequest, body: &web::Bytes) -> Answer {
    let secrets = &state.config.stripe.webhook_secrets;
    if secrets.is_empty() {
        // Not a 4xx: Stripe keeps retrying, so nothing is lost while the secret is being set.
        let response = HttpResponse::ServiceUnavailable()
            .json(json!({ "error": "Stripe webhooks are not configured: set OFFSTAGE_STRIPE_WEBHOOK_SECRET" }));
        return ("unavailable", response);
    }
    let header = request.headers().get("Stripe-Signature").and_then(|value| value.to_str().ok());
    if let Err(err) = signature::verify(header, body, secrets, Utc::now()) {
        return refuse(err.reason());
    }
    let Ok(raw) = std::str::from_utf8(body) else {
        return refuse("body is not UTF-8");
    };
    let event = match Envelope::parse(body) {
        Ok(event) => event,
        Err(reason) => return refuse(&reason),
    };
    let id = event.id.clone();
    match state.stripe_intake.receive(event, raw.to_owned()).await {
        Ok(Received::New { run_id }) => {
            ("recorded", HttpResponse::Ok().json(json!({ "received": id, "run_id": run_id })))
        }
        Ok(Received::Duplicate) => ("duplicate", HttpResponse::Ok().json(json!({ "received": id, "duplicate": true }))),
        Err(err) => {
            tracing::error!(event = %id, error = %err, "recording a Stripe event failed");
            let response = HttpResponse::ServiceUnavailable()
                .json(json!({ "error": "could not record the event; Stripe will retry" }));
            ("unavailable", response)
        }
    }
}
