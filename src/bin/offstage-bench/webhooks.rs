//! `offstage-bench webhooks --db sqlite|postgres --events N`: Offstage receives unique signed
//! `invoice.paid` events over HTTP, `concurrency` requests in flight. Measures events/s durably
//! accepted by a web process (no workers) and then the time a worker process takes to process
//! them; the same with web and workers in one process; response latency p50/p99 at a steady 500
//! events/s, to the web process alone and to the one process; and — on the same database, with
//! the same durability — the floor: single-row inserts of the same payloads, one transaction
//! each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use offstage::billing::signature;
use offstage::config::Secret;
use offstage::startup::Mode;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;

use crate::common::{BenchDb, Db, WEBHOOK_SECRET, percentile, round};
use crate::process::OffstageProcess;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Events per second in the latency phase, and how long it lasts.
const STEADY_RATE: u64 = 500;
const STEADY_SECONDS: u64 = 10;

/// A signed, ~1 KB `invoice.paid` event for `workspace_id`.
fn event(n: u64, workspace_id: &str) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&json!({
        "id": format!("evt_bench_{n:09}"), "object": "event", "type": "invoice.paid", "api_version": "2022-11-15",
        "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "data": { "object": {
            "id": format!("in_bench_{n:09}"), "object": "invoice", "customer": "cus_bench", "amount_paid": 2000,
            "amount_due": 2000, "currency": "usd", "status": "paid", "billing_reason": "subscription_cycle",
            "subscription_details": { "metadata": { "workspace_id": workspace_id } },
            "lines": { "object": "list", "data": [{ "id": format!("il_bench_{n:09}"), "amount": 2000, "currency": "usd",
                "description": "1 × Pro (at $20.00 / month)", "period": { "start": 1_795_000_000, "end": 1_797_600_000 } }] },
            "status_transitions": { "paid_at": chrono::Utc::now().timestamp() },
        } },
    }))
    .expect("JSON");
    let header = signature::sign(&Secret::new(WEBHOOK_SECRET), chrono::Utc::now().timestamp(), &body);
    (body, header)
}

/// Posts one event; returns the response status and how long the answer took.
async fn post(client: &HttpClient, url: &str, n: u64, workspace_id: &str) -> anyhow::Result<(u16, Duration)> {
    let (body, header) = event(n, workspace_id);
    let request = hyper::Request::post(url)
        .header("Stripe-Signature", header)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let started = Instant::now();
    let response = client.request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok((status, started.elapsed()))
}

async fn received_left(db: &DatabaseConnection) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM stripe_events WHERE status = 'received'",
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// Posts events `first..first + count` with `concurrency` requests in flight; returns the
/// seconds until every one was answered, and how many were not answered 200.
async fn post_all(
    client: &HttpClient,
    url: &str,
    first: u64,
    count: u64,
    concurrency: usize,
    workspace_id: &str,
) -> anyhow::Result<(f64, u64)> {
    let next = Arc::new(AtomicU64::new(first));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next, refused, ws_id) =
            (client.clone(), url.to_owned(), next.clone(), refused.clone(), workspace_id.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= first + count {
                    return anyhow::Ok(());
                }
                if post(&client, &url, n, &ws_id).await?.0 != 200 {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((started.elapsed().as_secs_f64(), refused.load(Ordering::Relaxed)))
}

async fn wait_until_processed(db: &DatabaseConnection) -> anyhow::Result<f64> {
    let started = Instant::now();
    while received_left(db).await? > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(started.elapsed().as_secs_f64())
}

pub async fn run(which: Db, events: u64, concurrency: usize) -> anyhow::Result<serde_json::Value> {
    // The workers' default concurrency for each database (see OFFSTAGE_WORKER_CONCURRENCY).
    let workers = if which == Db::Sqlite { 4 } else { 16 };
    let bench = BenchDb::create(which, workers).await?;
    let ws = bench.workspace().await?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(concurrency).build_http();

    let steady_count = STEADY_RATE * STEADY_SECONDS;

    // 1. A web process (`offstage web`, no workers) accepts N events, then a steady stream (its
    // latency is the web tier's, with the workers on other machines); then a worker process
    // (`offstage worker`) processes them all.
    eprintln!(
        "webhooks: a web process accepts {events} events, then a steady {STEADY_RATE} events/s for {STEADY_SECONDS} s"
    );
    let web = OffstageProcess::start(bench.config.clone(), Mode::Web).await?;
    let (web_accept_s, mut refused) = post_all(&client, &web.webhook_url(), 0, events, concurrency, &ws.id).await?;
    let (web_latencies, more_refused) = steady(&client, &web.webhook_url(), events, &ws.id).await?;
    refused += more_refused;
    web.kill();
    eprintln!("webhooks: a worker process processes them");
    let worker = OffstageProcess::start(bench.config.clone(), Mode::Worker).await?;
    let worker_processed_s = wait_until_processed(&bench.db).await?;
    worker.kill();

    // 2. Web and workers in one process (`offstage serve`): N more events accepted while they
    // are being processed.
    eprintln!("webhooks: web and workers in one process, {events} more events");
    let serve = OffstageProcess::start(bench.config.clone(), Mode::Serve).await?;
    let url = serve.webhook_url();
    let started = Instant::now();
    let first = events + steady_count;
    let (serve_accept_s, more_refused) = post_all(&client, &url, first, events, concurrency, &ws.id).await?;
    refused += more_refused;
    wait_until_processed(&bench.db).await?;
    let serve_processed_s = started.elapsed().as_secs_f64();

    // 3. The steady stream again, while the same process's workers process it.
    eprintln!("webhooks: a steady {STEADY_RATE} events/s for {STEADY_SECONDS} s to that process");
    let (latencies, more_refused) = steady(&client, &url, first + events, &ws.id).await?;
    refused += more_refused;
    let steady_backlog_s = wait_until_processed(&bench.db).await?;
    serve.kill();

    eprintln!("webhooks: the floor, {events} inserts");
    let floor = insert_floor(&bench.db, events, concurrency, &ws.id).await?;
    let web_accepted = events as f64 / web_accept_s;
    let serve_accepted = events as f64 / serve_accept_s;
    let mut steady_figures = latency_figures(&latencies);
    steady_figures["backlog_after_last_answer_s"] = json!(round(steady_backlog_s));
    let line = json!({
        "bench": "webhooks",
        "db": which.name(),
        "events": events,
        "concurrency": concurrency,
        "refused": refused,
        "web_process": { "accepted_per_s": round(web_accepted), "accepted_over_floor": (web_accepted / floor * 100.0).round() / 100.0,
            "steady": latency_figures(&web_latencies) },
        "worker_process": { "processed_after_s": round(worker_processed_s),
            "processed_per_s": round((events + steady_count) as f64 / worker_processed_s) },
        "one_process": { "accepted_per_s": round(serve_accepted), "accepted_over_floor": (serve_accepted / floor * 100.0).round() / 100.0,
            "all_processed_after_s": round(serve_processed_s), "processed_per_s": round(events as f64 / serve_processed_s) },
        "steady": steady_figures,
        "floor_inserts_per_s": round(floor),
    });
    bench.drop().await?;
    Ok(line)
}

/// Posts `STEADY_RATE` events a second for `STEADY_SECONDS`, numbered from `first`, open loop:
/// each request is sent on time, whatever the others do. Returns every answer's latency in
/// milliseconds, sorted, and how many were not answered 200.
async fn steady(client: &HttpClient, url: &str, first: u64, workspace_id: &str) -> anyhow::Result<(Vec<f64>, u64)> {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / STEADY_RATE));
    let mut sent = Vec::new();
    for n in first..first + STEADY_RATE * STEADY_SECONDS {
        tick.tick().await;
        let (client, url, ws_id) = (client.clone(), url.to_owned(), workspace_id.to_owned());
        sent.push(tokio::spawn(async move { post(&client, &url, n, &ws_id).await }));
    }
    let (mut latencies, mut refused) = (Vec::new(), 0);
    for request in sent {
        let (status, took) = request.await??;
        if status != 200 {
            refused += 1;
        }
        latencies.push(took.as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok((latencies, refused))
}

fn latency_figures(latencies: &[f64]) -> serde_json::Value {
    json!({ "rate_per_s": STEADY_RATE, "seconds": STEADY_SECONDS, "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99), "max_ms": percentile(latencies, 1.0) })
}

/// The durable-insert floor: the same payloads inserted straight into a table through the same
/// pool (same durability settings), one transaction each, `concurrency` at a time.
async fn insert_floor(
    db: &DatabaseConnection,
    rows: u64,
    concurrency: usize,
    workspace_id: &str,
) -> anyhow::Result<f64> {
    db.execute_unprepared("CREATE TABLE bench_floor (id VARCHAR(64) PRIMARY KEY, payload TEXT NOT NULL)").await?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (db, next, ws_id) = (db.clone(), next.clone(), workspace_id.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= rows {
                    return anyhow::Ok(());
                }
                let (body, _) = event(n, &ws_id);
                db.execute_raw(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    "INSERT INTO bench_floor (id, payload) VALUES ($1, $2)",
                    [format!("evt_floor_{n:09}").into(), String::from_utf8(body)?.into()],
                ))
                .await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}
