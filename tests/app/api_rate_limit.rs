//! Requests per API key (`OFFSTAGE_API_RATE_LIMIT`): a key may spend its burst, then is answered
//! 429 with `Retry-After` until its allowance comes back; every answer carries the IETF
//! `RateLimit-Policy` and `RateLimit` fields; another key is not slowed by the first.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::helpers::*;
use offstage::domain::Rate;
use reqwest::StatusCode;

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

async fn a_key_spends_its_burst_then_waits_as_the_headers_say(backend: Backend) {
    // 2 a second, bursts of 3: one request back every 500 ms.
    let rate =
        Rate { requests: NonZeroU32::new(2).unwrap(), per: Duration::from_secs(1), burst: NonZeroU32::new(3).unwrap() };
    let app = TestApp::spawn_web_only_with(backend, |config| config.limits.api_rate_per_key = Some(rate)).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let (key, other_key) = (app.api_key(&ws).await, app.api_key(&ws).await);
    let get = |key: String| {
        let request = app.anonymous().get(app.url("/api/v1/workspace")).bearer_auth(key);
        async move { request.send().await.unwrap() }
    };
    for left in [2, 1, 0] {
        let response = get(key.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-policy"), "\"per-key\";q=3;w=1");
        let state = header(&response, "ratelimit");
        assert!(state.starts_with(&format!("\"per-key\";r={left};t=")), "{state}");
    }
    let refused = get(key.clone()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), "1");
    assert!(header(&refused, "ratelimit").starts_with("\"per-key\";r=0;t="), "{}", header(&refused, "ratelimit"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    assert!(body["error"]["message"].as_str().unwrap().contains("try again in 1 s"), "{body}");
    // Another key of the same workspace has its own allowance.
    assert_eq!(get(other_key).await.status(), StatusCode::OK);
    // A request comes back every 500 ms.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = get(key.clone()).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(header(&again, "ratelimit").starts_with("\"per-key\";r=0;"), "{}", header(&again, "ratelimit"));
    // A wrong key is refused as before (401), counted against nobody.
    let response = get("osk_not_a_key".into()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&response, "ratelimit"), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_key_spends_its_burst_then_waits_as_the_headers_say() {
    a_key_spends_its_burst_then_waits_as_the_headers_say(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_key_spends_its_burst_then_waits_as_the_headers_say() {
    if postgres_configured() {
        a_key_spends_its_burst_then_waits_as_the_headers_say(Backend::Postgres).await;
    }
}
