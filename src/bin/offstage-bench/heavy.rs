//! `offstage-bench heavy --db sqlite|postgres --workspaces N`: heavy work off the request
//! path. Revenue: N workspaces with 12 paid invoices each (one a month, a monthly price; every
//! 10th in EUR, every 50th in JPY, every 20th refunded a part), and the time the
//! `calculate_monthly_revenue` chain takes for the last of those months, workers running.

use std::time::{Duration, Instant};

use chrono::Duration as Days;
use offstage::domain::Month;
use offstage::engine::{NewRun, queue, runs};
use offstage::revenue::workflows::calculate_monthly_revenue::{CalculateMonthlyRevenue, Params};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::common::{BenchDb, Db, count, insert_workspaces, round};

/// Rows per INSERT (8 values each, well under either database's limit on parameters).
const ROWS_PER_INSERT: usize = 500;

pub async fn run(which: Db, workspaces: u64, concurrency: usize) -> anyhow::Result<Value> {
    let bench = BenchDb::create(which, concurrency).await?;
    let db = bench.db.clone();
    insert_workspaces(&db, workspaces).await?;
    let month = Month::last(chrono::Utc::now());
    let invoices = insert_invoices(&db, workspaces, month).await?;
    let refunds = insert_refunds(&db, workspaces, month).await?;

    let mailer = offstage::mail::Mailer::from_settings(&bench.config.mail)?;
    let ctx = crate::common::job_context(&db, &bench.config, mailer)?;
    let workers = tokio::spawn(queue::run_workers(ctx, std::future::pending::<std::io::Result<()>>()));
    let started = Instant::now();
    let params = Params { month: Some(month.to_string()), ..Params::default() };
    runs::start(&db, NewRun::of::<CalculateMonthlyRevenue>(&params)).await?;
    wait_until_computed(&db, month).await?;
    let revenue = started.elapsed();
    workers.abort();
    let rows = count(&db, &format!("SELECT COUNT(*) AS n FROM monthly_revenue WHERE month = '{month}'")).await?;
    anyhow::ensure!(rows as u64 >= workspaces, "{rows} revenue rows for {workspaces} workspaces");
    let line = json!({
        "bench": "heavy",
        "db": which.name(),
        "concurrency": concurrency,
        "revenue_workspaces": workspaces,
        "revenue_invoices": invoices,
        "revenue_refunds": refunds,
        "revenue_rows": rows,
        "revenue_s": round(revenue.as_secs_f64()),
        "revenue_workspaces_per_s": round(workspaces as f64 / revenue.as_secs_f64()),
    });
    bench.drop().await?;
    Ok(line)
}

fn currency(i: u64) -> &'static str {
    match i {
        i if i % 50 == 0 => "jpy",
        i if i % 10 == 0 => "eur",
        _ => "usd",
    }
}

/// 12 invoices a workspace, paid on the 5th of each month up to `last`, each for a month.
async fn insert_invoices(db: &DatabaseConnection, workspaces: u64, last: Month) -> anyhow::Result<u64> {
    let months = last.last_n(12);
    let rows: Vec<Vec<sea_orm::Value>> = (0..workspaces)
        .flat_map(|i| {
            months.iter().map(move |month| {
                let paid_at = month.start() + Days::days(4);
                let amount = 1_000 + (i % 7) as i64 * 500;
                vec![
                    format!("in_bench{i:08}_{month}").into(),
                    format!("ws_bench{i:08}").into(),
                    amount.into(),
                    currency(i).into(),
                    paid_at.into(),
                    (paid_at + Days::days(30)).into(),
                    paid_at.into(),
                    format!("ch_bench{i:08}_{month}").into(),
                    amount.into(),
                ]
            })
        })
        .collect();
    insert(
        db,
        "INSERT INTO invoices (id, workspace_id, amount_paid, currency, period_start, period_end, paid_at, charge_id, mrr, \
         stripe_event_id, lines_read) VALUES",
        "'evt_bench', true",
        &rows,
    )
    .await
}

/// A part of the last month's invoice refunded, for every 20th workspace.
async fn insert_refunds(db: &DatabaseConnection, workspaces: u64, last: Month) -> anyhow::Result<u64> {
    let rows: Vec<Vec<sea_orm::Value>> = (0..workspaces)
        .filter(|i| i % 20 == 0)
        .map(|i| {
            vec![
                format!("ch_bench{i:08}_{last}:300").into(),
                format!("ws_bench{i:08}").into(),
                format!("ch_bench{i:08}_{last}").into(),
                300_i64.into(),
                currency(i).into(),
                (last.start() + Days::days(10)).into(),
            ]
        })
        .collect();
    insert(
        db,
        "INSERT INTO refunds (id, workspace_id, charge_id, amount, currency, refunded_at, stripe_event_id) VALUES",
        "'evt_bench'",
        &rows,
    )
    .await
}

/// Multi-row INSERTs of bound `rows`, each row followed by the literal `tail`.
async fn insert(db: &DatabaseConnection, head: &str, tail: &str, rows: &[Vec<sea_orm::Value>]) -> anyhow::Result<u64> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut values = Vec::new();
        let mut tuples = Vec::new();
        for row in chunk {
            let first = values.len();
            let marks: Vec<String> = (1..=row.len()).map(|n| format!("${}", first + n)).collect();
            tuples.push(format!("({}, {tail})", marks.join(", ")));
            values.extend(row.iter().cloned());
        }
        let sql = format!("{head} {}", tuples.join(", "));
        db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await?;
    }
    Ok(rows.len() as u64)
}

async fn wait_until_computed(db: &DatabaseConnection, month: Month) -> anyhow::Result<()> {
    let started = Instant::now();
    let readers = offstage::db::readers(db);
    let sql = format!("SELECT COUNT(*) AS n FROM revenue_months WHERE month = '{month}'");
    while count(&readers, &sql).await? == 0 {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the revenue of {month} took over 600 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
