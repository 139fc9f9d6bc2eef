//! Requests per API key (`OFFSTAGE_API_RATE_LIMIT`, e.g. `20/s burst 100`), counted in this web
//! process by `governor`'s GCRA: a key may spend its burst at once, and gets one request back
//! every `1/rate`. Beyond that the request is answered 429 with `Retry-After`, before any work.
//! Every answer to a known key carries the IETF `RateLimit-Policy` and `RateLimit` fields
//! (draft-ietf-httpapi-ratelimit-headers): the quota and window, and what is left and when it
//! is whole again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::domain::Rate;

type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The limiter of one web process, shared by its workers.
#[derive(Clone)]
pub struct ApiRateLimit {
    limiter: Option<Arc<KeyedLimiter>>,
    rate: Option<Rate>,
    checks: Arc<AtomicU64>,
}

/// Every so many checks, keys whose allowance is whole again are forgotten (the limiter holds
/// one entry per key seen).
const FORGET_EVERY: u64 = 10_000;

/// What a request's key has left, for the response's headers.
#[derive(Debug, Clone)]
pub struct Allowance {
    policy: String,
    remaining: u32,
    /// Seconds until the key's whole burst is back.
    reset: u64,
}

impl ApiRateLimit {
    /// `None` counts nothing.
    pub fn new(rate: Option<Rate>) -> ApiRateLimit {
        let limiter = rate.and_then(|rate| {
            let quota = Quota::with_period(rate.replenish_every())?.allow_burst(rate.burst);
            Some(Arc::new(RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()))
        });
        ApiRateLimit { limiter, rate, checks: Arc::new(AtomicU64::new(0)) }
    }

    /// Spends one request of `key_id`'s allowance: what is left, or how long to wait.
    pub fn check(&self, key_id: &str) -> Result<Option<Allowance>, (Allowance, Duration)> {
        let (Some(limiter), Some(rate)) = (&self.limiter, self.rate) else { return Ok(None) };
        let every = rate.replenish_every();
        let burst = rate.burst.get();
        // The window: the time an empty burst takes to fill again.
        let window = (every * burst).as_secs().max(1);
        let policy = format!("\"per-key\";q={burst};w={window}");
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        match limiter.check_key(&key_id.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let reset = (every * (burst - remaining)).as_secs_f64().ceil() as u64;
                Ok(Some(Allowance { policy, remaining, reset }))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let reset = (every * burst).as_secs_f64().ceil() as u64;
                Err((Allowance { policy, remaining: 0, reset }, wait))
            }
        }
    }
}

/// Remembers the allowance on the request, for `add_headers`.
pub fn remember(request: &actix_web::HttpRequest, allowance: Allowance) {
    request.extensions_mut().insert(allowance);
}

/// Middleware of the API scope: copies the request's allowance, if any, into its response.
pub async fn add_headers(
    request: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    let allowance = response.request().extensions().get::<Allowance>().cloned();
    if let Some(allowance) = allowance {
        let headers = response.headers_mut();
        let fields = [
            ("ratelimit-policy", allowance.policy.clone()),
            ("ratelimit", format!("\"per-key\";r={};t={}", allowance.remaining, allowance.reset)),
        ];
        for (name, value) in fields {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
    Ok(response)
}
