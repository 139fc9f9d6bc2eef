//! The metrics Offstage counts as things happen, by Prometheus's conventions: `offstage_…_total`
//! counters, `_seconds` histograms, and labels from small fixed sets (workflow names, outcomes,
//! route patterns, statuses; never ids). The recorder is the process's one global recorder,
//! installed by the first `handle()`; until then every count is a no-op.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// From 1 ms to a minute: pickups and requests at the short end, runs and slow pages at the long.
const SECONDS_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];

/// The process's recorder, installed on first use (several apps in one test process share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first: /metrics shows only the gauges");
        }
        describe();
        handle
    })
}

fn describe() {
    describe_counter!("offstage_runs_started_total", "Runs started, by workflow.");
    describe_counter!(
        "offstage_runs_finished_total",
        "Attempts ended, by workflow and outcome (succeeded, skipped, failed; retried when another attempt follows)."
    );
    describe_histogram!("offstage_run_duration_seconds", Unit::Seconds, "How long an attempt ran, by workflow.");
    describe_histogram!(
        "offstage_run_pickup_seconds",
        Unit::Seconds,
        "From a run being due to its first attempt starting, by workflow."
    );
    describe_counter!("offstage_http_requests_total", "HTTP requests answered, by route pattern, method and status.");
    describe_histogram!(
        "offstage_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route pattern and method."
    );
    describe_counter!("offstage_stripe_webhook_deliveries_total", "Stripe webhook deliveries, by outcome.");
    describe_counter!("offstage_emails_sent_total", "Emails handed to the SMTP server (or captured).");
    describe_counter!("offstage_smtp_errors_total", "Emails the SMTP server did not take (each is retried).");
    describe_gauge!("offstage_runs", "Runs not finished, by status (read at the scrape, at most 5 s old).");
    describe_gauge!("offstage_oldest_due_run_age_seconds", Unit::Seconds, "How long the oldest due run has waited.");
    describe_gauge!("offstage_stripe_events", "Stripe events recorded, by status.");
    describe_gauge!("offstage_emails", "Emails in the outbox, by status.");
    describe_gauge!("offstage_db_connections", "Database connections of this process, by state (idle, in_use).");
}

pub fn runs_started(workflow: &'static str, n: u64) {
    counter!("offstage_runs_started_total", "workflow" => workflow).increment(n);
}

/// An attempt ended: `outcome` is `succeeded`, `skipped`, `failed` or `retried`.
pub fn attempt_ended(workflow: &'static str, outcome: &'static str, ran: Duration) {
    counter!("offstage_runs_finished_total", "workflow" => workflow, "outcome" => outcome).increment(1);
    histogram!("offstage_run_duration_seconds", "workflow" => workflow).record(ran.as_secs_f64());
}

pub fn picked_up(workflow: &'static str, waited: Duration) {
    histogram!("offstage_run_pickup_seconds", "workflow" => workflow).record(waited.as_secs_f64());
}

/// `route` is the matched pattern (`/admin/workspaces/{slug}`), or `unmatched`.
pub fn http_request(route: String, method: &'static str, status: u16, took: Duration) {
    let status = status.to_string();
    counter!("offstage_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    histogram!("offstage_http_request_duration_seconds", "route" => route, "method" => method)
        .record(took.as_secs_f64());
}

/// `outcome`: `recorded`, `duplicate`, `refused` (signature or body) or `unavailable`.
pub fn stripe_delivery(outcome: &'static str) {
    counter!("offstage_stripe_webhook_deliveries_total", "outcome" => outcome).increment(1);
}

pub fn email_sent() {
    counter!("offstage_emails_sent_total").increment(1);
}

pub fn smtp_error() {
    counter!("offstage_smtp_errors_total").increment(1);
}
