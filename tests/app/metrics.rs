//! `GET /metrics`: Prometheus's text format behind a token (or on a listener of its own), which
//! parses, and whose counts move when runs finish and requests are answered. The recorder is
//! the test process's one global recorder, shared with every other test: counts are compared
//! before and after, never to a fixed number.

use offstage::engine::probe::{Params, Probe};
use offstage::engine::runs::{self, NewRun};
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp};

const TOKEN: &str = "metrics-token-for-the-tests";

async fn spawn_with_token(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |c| c.metrics_token = Some(offstage::config::Secret::new(TOKEN))).await
}

/// One scrape, checked line by line against the text format, then parsed.
async fn scrape(app: &TestApp) -> Scrape {
    let response = app.anonymous().get(app.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok() || value == "+Inf", "not a number: {line}");
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("offstage_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        assert!(!series.contains("ws_") && !series.contains("usr_"), "no ids in labels: {line}");
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none yet).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

fn probe(ws: &str) -> Params {
    Params::noop(ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_parse_and_move_when_runs_finish_and_requests_are_answered_on_sqlite() {
    counts_move(spawn_with_token(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_parse_and_move_when_runs_finish_and_requests_are_answered_on_postgres() {
    if crate::helpers::postgres_configured() {
        counts_move(spawn_with_token(Backend::Postgres).await).await;
    }
}

async fn counts_move(app: TestApp) {
    {
        for auth in [None, Some("wrong-token-of-enough-length")] {
            let mut request = app.anonymous().get(app.url("/metrics"));
            if let Some(token) = auth {
                request = request.bearer_auth(token);
            }
            assert_eq!(request.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
        }
        let owner = app.create_user("owner@example.com").await;
        let ws = app.create_workspace("Acme", &owner).await;
        app.drain_jobs_due().await;
        let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
        runs::start(&app.db, NewRun::of::<Probe>(&probe(&ws.id)).at(tomorrow)).await.unwrap();
        let before = scrape(&app).await;
        assert!(value(&before, "offstage_runs", &[("status", "scheduled")]) >= 1.0);
        for name in [
            "offstage_db_connections",
            "offstage_emails",
            "offstage_stripe_events",
            "offstage_oldest_due_run_age_seconds",
        ] {
            assert!(before.samples.iter().any(|s| s.metric == name), "{name}");
        }

        for _ in 0..3 {
            runs::start(&app.db, NewRun::of::<Probe>(&probe(&ws.id))).await.unwrap();
        }
        runs::start(&app.db, NewRun::of::<Probe>(&Params { skip: true, ..probe(&ws.id) })).await.unwrap();
        app.drain_jobs_due().await;
        let health = app.anonymous().get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let after = scrape(&app).await;

        let moved = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
        assert!(moved("offstage_runs_finished_total", &[("workflow", "probe"), ("outcome", "succeeded")]) >= 3.0);
        assert!(moved("offstage_runs_finished_total", &[("workflow", "probe"), ("outcome", "skipped")]) >= 1.0);
        assert!(moved("offstage_runs_started_total", &[("workflow", "probe")]) >= 4.0);
        assert!(moved("offstage_run_duration_seconds_count", &[("workflow", "probe")]) >= 4.0);
        assert!(moved("offstage_run_pickup_seconds_count", &[("workflow", "probe")]) >= 4.0);
        let healthz = [("route", "/healthz"), ("method", "GET"), ("status", "200")];
        assert!(moved("offstage_http_requests_total", &healthz) >= 1.0);
        assert!(value(&after, "offstage_http_request_duration_seconds_count", &[("route", "/healthz")]) >= 1.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_without_a_token_or_a_listener_of_their_own() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.anonymous().get(app.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_listener_of_its_own_serves_them_without_a_token_and_nothing_else() {
    let port = crate::helpers::process::free_port();
    let bind: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.metrics_bind = Some(bind)).await;
    let client = app.anonymous();
    let response = client.get(format!("http://{bind}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.contains("offstage_db_connections"), "{text}");
    let elsewhere = client.get(format!("http://{bind}/healthz")).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    let main = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND, "the main server does not serve them without a token");
}
