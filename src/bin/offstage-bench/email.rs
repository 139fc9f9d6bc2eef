//! `offstage-bench email`: emails/s delivered over SMTP through the outbox (every email a row and
//! a `send_email` run) to a sink in this process — a minimal SMTP server that accepts and counts
//! messages, so the figure is Offstage's and lettre's, not a mail server's — and the time to
//! compute and queue the weekly digest of N workspaces whose schedules all fall due at once, and
//! to have sent every digest.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use offstage::config::Secret;
use offstage::engine::queue;
use offstage::mail::templates::{Email, Footer, Welcome};
use offstage::mail::{Category, NewEmail, outbox};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::common::{BenchDb, Db, count, round};

/// Accepts SMTP on 127.0.0.1 and counts the messages it was given.
async fn start_sink() -> anyhow::Result<(u16, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        counter.fetch_add(1, Ordering::Relaxed);
                        b"250 queued\r\n"
                    } else {
                        match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                            Some("EHLO") => b"250-sink\r\n250 8BITMIME\r\n",
                            Some("DATA") => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            Some("QUIT") => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok((port, received))
}

async fn wait_for(db: &DatabaseConnection, sql: &str, n: i64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    // Counted beside SQLite's one writer connection, not on it (`db::readers`).
    let db = &offstage::db::readers(db);
    while count(db, sql).await? < n {
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("gave up after 600 s waiting for {n}: {sql}");
        }
        // Each count reads the whole table: every 20 ms, it took a fifth of the database's time.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(started.elapsed())
}

pub async fn run(which: Db, emails: u64, workspaces: u64, concurrency: usize) -> anyhow::Result<Value> {
    let (port, received) = start_sink().await?;
    let mut bench = BenchDb::create(which, concurrency).await?;
    bench.config.mail.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
    let db = bench.db.clone();
    let ws = bench.workspace().await?;
    let mailer = offstage::mail::Mailer::from_settings(&bench.config.mail)?;
    let ctx = crate::common::job_context(&db, &bench.config, mailer)?;
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    wait_for(&db, "SELECT COUNT(*) AS n FROM emails WHERE status = 'sent'", 1).await?;

    // Delivery: `emails` rows written in transactions of 1,000, sent by the workers.
    let footer = Footer { reason: "Bench".into(), unsubscribe_url: None };
    let rendered = Welcome { workspace_name: "Bench".into(), timezone: "UTC".into(), workspace_url: "http://x".into() }
        .render(&footer)?;
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    for chunk in (0..emails).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<NewEmail> = chunk
            .iter()
            .map(|i| NewEmail {
                workspace_id: Some(ws.id.clone()),
                recipient: format!("person{i}@bench.test"),
                kind: "bench",
                category: Category::Transactional,
                dedupe_key: format!("bench:{i}"),
                rendered: rendered.clone(),
            })
            .collect();
        let txn = offstage::db::begin_write(&db).await?;
        outbox::enqueue_in(&txn, &batch, "bench.test").await?;
        txn.commit().await?;
    }
    let queued = started.elapsed();
    wait_for(&db, "SELECT COUNT(*) AS n FROM emails WHERE kind = 'bench' AND status = 'sent'", emails as i64).await?;
    let delivered = started.elapsed();
    let sink_count = received.load(Ordering::Relaxed) - before;

    // Weekly digests: N workspaces whose Sunday schedules all fall due now.
    crate::common::insert_workspaces(&db, workspaces).await?;
    offstage::workspaces::workflows::generate_weekly_digest::ensure_every_workspace_has_one(&db).await?;
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE schedules SET next_run_at = $1 WHERE workflow = 'generate_weekly_digest' AND workspace_id LIKE 'ws_bench%'",
        [Utc::now().into()],
    ))
    .await?;
    let digest_queued = wait_for(
        &db,
        "SELECT COUNT(*) AS n FROM emails WHERE kind = 'weekly_digest' AND workspace_id LIKE 'ws_bench%'",
        workspaces as i64,
    )
    .await?;
    let digest_sent = digest_queued
        + wait_for(
            &db,
            "SELECT COUNT(*) AS n FROM emails WHERE kind = 'weekly_digest' AND workspace_id LIKE 'ws_bench%' \
             AND status = 'sent'",
            workspaces as i64,
        )
        .await?;
    workers.abort();
    let line = json!({
        "bench": "email",
        "db": which.name(),
        "concurrency": concurrency,
        "emails": emails,
        "enqueue_s": round(queued.as_secs_f64()),
        "delivered_per_s": round(emails as f64 / delivered.as_secs_f64()),
        "sink_received": sink_count,
        "duplicates_at_sink": sink_count.saturating_sub(emails),
        "digest_workspaces": workspaces,
        "digest_queued_s": round(digest_queued.as_secs_f64()),
        "digests_per_s": round(workspaces as f64 / digest_queued.as_secs_f64()),
        "digest_sent_s": round(digest_sent.as_secs_f64()),
        "peak_rss_mb": crate::common::peak_rss_mb(),
    });
    bench.drop().await?;
    Ok(line)
}
