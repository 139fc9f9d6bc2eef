//! Platform → Queue, the live system view: real runs end (succeeded, skipped, failed after its
//! retries), and the page, its live part and its JSON show them counted by outcome and by
//! workflow, the depth by status, the worker process alive, the busiest workspaces and the
//! failure; a workspace's overview charts its runs per day in its own timezone and its health
//! scores. Everyone but a platform admin gets 404.

use chrono::{Duration, TimeZone, Utc};
use offstage::db::entities::{health_score, workspace};
use offstage::engine::{NewRun, probe, runs};
use offstage::workspaces::trends;
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel, Statement};
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

fn probe(ws: &workspace::Model, fail_attempts: u32, skip: bool) -> NewRun {
    NewRun::of::<probe::Probe>(&probe::Params {
        workspace_id: ws.id.clone(),
        value: None,
        sleep_ms: 0,
        fail_attempts,
        skip,
    })
}

async fn dashboard(admin: &Visitor) -> Value {
    let response = admin.get("/admin/platform/queue.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// The probe workflow's row of the busiest workflows: (attempts, failed).
fn probe_row(dash: &Value) -> Option<(i64, i64)> {
    let row = dash["busiest_workflows"].as_array()?.iter().find(|w| w["workflow"] == "probe")?;
    Some((row["attempts"].as_i64()?, row["failed"].as_i64()?))
}

fn depth(dash: &Value, status: &str) -> i64 {
    dash["depth"].as_array().unwrap().iter().find(|d| d["status"] == status).unwrap()["runs"].as_i64().unwrap()
}

fn outcome_in_last_hour(dash: &Value, outcome: &str) -> i64 {
    dash["last_hour"].as_array().unwrap().iter().map(|p| p[outcome].as_i64().unwrap()).sum()
}

on_both_databases! {
    async fn the_queue_dashboard_shows_ended_attempts_by_outcome_the_depth_the_workers_and_the_failures(app: TestApp) {
        let (alpha, beta) = (app.create_workspace("Alpha", &app.admin).await, app.create_workspace("Beta", &app.admin).await);
        app.drain_jobs().await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let before = dashboard(&admin).await;
        assert_eq!(probe_row(&before), None, "no probe has run yet");
        assert_eq!(before["last_hour"].as_array().unwrap().len(), 60);
        assert_eq!(before["last_day"].as_array().unwrap().len(), 24);

        for _ in 0..3 {
            runs::start(&app.db, probe(&alpha, 0, false)).await.unwrap();
        }
        runs::start(&app.db, probe(&beta, 0, true)).await.unwrap();
        // Failing more attempts than the probe's 3 ends it failed: two retried, one failed.
        let failing = runs::start(&app.db, probe(&beta, 9, false)).await.unwrap().id;
        runs::start(&app.db, probe(&beta, 0, false).at(Utc::now() + Duration::hours(2))).await.unwrap();
        app.drain_jobs_due().await;

        // The workers add their counts every 5 s, and the depth is read again behind the page
        // when it is over 2 s old: both show within seconds.
        let added = |status: &str, dash: &Value| depth(dash, status) - depth(&before, status);
        let mut dash = dashboard(&admin).await;
        for _ in 0..100 {
            if probe_row(&dash) == Some((7, 3)) && added("scheduled", &dash) == 1 && added("failed", &dash) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            dash = dashboard(&admin).await;
        }
        assert_eq!(probe_row(&dash), Some((7, 3)), "3 + 1 + 3 attempts, 3 of them failed: {dash}");
        for (outcome, added) in [("succeeded", 3), ("skipped", 1), ("retried", 2), ("failed", 1)] {
            assert!(outcome_in_last_hour(&dash, outcome) - outcome_in_last_hour(&before, outcome) >= added, "{outcome}: {dash}");
        }
        assert_eq!(added("scheduled", &dash), 1, "{dash}");
        assert_eq!(added("failed", &dash), 1, "{dash}");

        let failure = &dash["recent_failures"][0];
        assert_eq!(failure["id"], failing.to_string());
        assert_eq!((failure["status"].as_str(), failure["attempts"].as_i64()), (Some("failed"), Some(3)));
        assert_eq!(failure["workspace"]["name"], "Beta");
        assert!(failure["error"].as_str().unwrap().contains("probe"), "{failure}");

        let busy: Vec<(&str, i64, i64)> = dash["busiest_workspaces"].as_array().unwrap().iter()
            .map(|b| (b["workspace"]["name"].as_str().unwrap(), b["runs"].as_i64().unwrap(), b["failed"].as_i64().unwrap()))
            .collect();
        let of = |name: &str| busy.iter().find(|b| b.0 == name).copied().unwrap_or_else(|| panic!("{name} in {busy:?}"));
        assert!(of("Alpha").1 >= 3 && of("Alpha").2 == 0, "{busy:?}");
        assert!(of("Beta").1 >= 2 && of("Beta").2 == 1, "the failed run is one run, however many attempts: {busy:?}");

        let workers = dash["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 1, "this test's process runs the workers: {workers:?}");
        assert_eq!(workers[0]["pid"], std::process::id().to_string());
        assert_eq!(workers[0]["queues"][0], "workflows");

        let (status, page) = admin.get_html("/admin/platform/queue").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("data-live-url=\"/admin/platform/queue/live\""));
        assert!(page.contains("aria-label=\"Attempts per minute, the last hour, by outcome\""));
        assert!(page.contains("class=\"bar failed\"") && page.contains("class=\"bar succeeded\""), "the charts draw the outcomes");
        assert!(page.contains(&format!("/admin/platform/runs/{failing}")), "the failure links to its run");
        assert!(page.contains("<tr data-worker><td>"), "{page}");
        let (status, live) = admin.get_html("/admin/platform/queue/live").await;
        assert_eq!(status, StatusCode::OK);
        assert!(live.contains("Workers alive") && live.contains("Attempts per hour, the last 24 hours"));
        assert!(!live.contains("<html") && !live.contains("<nav"), "only the live part");
    }

    async fn the_queue_dashboard_is_not_found_for_anyone_but_a_platform_admin(app: TestApp) {
        let user = app.create_user("ada@example.com").await;
        let visitor = app.sign_in(&user.email).await;
        for path in ["/admin/platform/queue.json", "/admin/platform/queue/live"] {
            assert_eq!(visitor.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    async fn a_workspace_overview_charts_its_runs_per_day_in_its_timezone_and_its_health_scores(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let mut tokyo = ws.clone().into_active_model();
        tokyo.timezone = Set("Asia/Tokyo".into());
        let ws = tokyo.update(&app.db).await.unwrap();
        // 20:00 UTC on 2 June is 05:00 on 3 June in Tokyo; 10:00 UTC is 19:00 on the 2nd. (Months
        // before the workspace's own runs, which are counted as they end, now.)
        let now = Utc.with_ymd_and_hms(2026, 6, 3, 12, 0, 0).unwrap();
        let hour = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 6, d, h, 0, 0).unwrap().timestamp() / 3600;
        let other = app.create_workspace("Other", &app.admin).await;
        let this_hour = Utc::now().timestamp() / 3600;
        let rows = [(&ws.id, hour(2, 20), 5, 1), (&ws.id, hour(2, 10), 2, 0), (&other.id, hour(2, 20), 50, 0), (&ws.id, this_hour - 2, 4, 0)];
        for (id, at, runs, failed) in rows {
            app.db.execute_raw(Statement::from_sql_and_values(
                app.db.get_database_backend(),
                "INSERT INTO workspace_run_tallies (workspace_id, hour, runs, failed) VALUES ($1, $2, $3, $4)",
                [id.clone().into(), at.into(), runs.into(), failed.into()],
            )).await.unwrap();
        }
        let days = trends::runs_per_day(&app.db, &app.scope(&ws), 30, now).await.unwrap();
        assert_eq!(days.len(), 30);
        let today = days.last().unwrap();
        assert_eq!((today.date.to_string(), today.runs, today.failed), ("2026-06-03".into(), 5, 1));
        let yesterday = &days[28];
        assert_eq!((yesterday.date.to_string(), yesterday.runs), ("2026-06-02".into(), 2), "another workspace's runs are not counted");

        for (days_ago, score) in [(2, 40), (1, 55), (0, 72)] {
            health_score::Entity::insert(health_score::ActiveModel {
                workspace_id: Set(ws.id.clone()),
                score: Set(score),
                factors: Set("{}".into()),
                computed_at: Set(Utc::now() - Duration::days(days_ago)),
                ..Default::default()
            }).exec(&app.db).await.unwrap();
        }
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, page) = admin.get_html(&format!("/admin/workspaces/{}", ws.slug)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Health score: 72 of 100"), "{page}");
        assert!(page.contains("aria-label=\"Health score, the latest computations\""));
        assert_eq!(page.matches("class=\"bar score\"").count(), 3);
        assert!(page.contains(": 72 of 100 ("), "each score and its time on hover");
        assert!(page.contains("aria-label=\"Runs ended per day, the last 30 days\""));
        assert!(page.contains("runs ended in the last 30 days, by day in Asia/Tokyo"), "{page}");

        let (_, other_page) = admin.get_html(&format!("/admin/workspaces/{}", other.slug)).await;
        assert!(other_page.contains("No health score yet."), "an empty state instead of an empty chart");
    }

    async fn the_prune_removes_counts_older_than_any_chart_shows(app: TestApp) {
        let now = Utc::now();
        let (minute, hour) = (now.timestamp() / 60, now.timestamp() / 3600);
        let insert = |sql: &'static str, values: Vec<sea_orm::Value>| {
            let db = app.db.clone();
            async move { db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await.unwrap() }
        };
        for ago in [3 * 1440, 1440] {
            insert("INSERT INTO run_tallies (minute, workflow, outcome, runs, millis) VALUES ($1, 'old_counts', 'succeeded', 1, 1)", vec![(minute - ago).into()]).await;
        }
        for ago in [40 * 24, 10 * 24] {
            insert("INSERT INTO workspace_run_tallies (workspace_id, hour, runs, failed) VALUES ('ws_gone', $1, 1, 0)", vec![(hour - ago).into()]).await;
        }
        let pruned = offstage::retention::prune(&app.db, &offstage::config::Retention::default(), now).await.unwrap();
        assert_eq!(pruned.run_counts, 2, "{pruned:?}");
        let left = |sql: &str| {
            let db = app.db.clone();
            let sql = sql.to_owned();
            async move {
                let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
                row.try_get::<i64>("", "n").unwrap()
            }
        };
        let minutes = left(&format!("SELECT COUNT(*) AS n FROM run_tallies WHERE workflow = 'old_counts' AND minute = {}", minute - 1440)).await;
        let hours = left(&format!("SELECT COUNT(*) AS n FROM workspace_run_tallies WHERE workspace_id = 'ws_gone' AND hour = {}", hour - 240)).await;
        assert_eq!((minutes, hours), (1, 1), "the last day's minutes and the last month's hours stay");
    }
}
