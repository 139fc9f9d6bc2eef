//! Retention: the prune removes what has outlived its age and keeps what must stay (runs not
//! finished, failed runs awaiting a decision, chains in progress, invoices, each workspace's
//! latest health score, the rows behind emptied payloads and bodies).

use std::time::Duration;

use chrono::{DateTime, Utc};
use offstage::db::entities::{email, health_score, invoice, login_attempt, stripe_event, workflow_run};
use offstage::engine::probe::{Params, Probe};
use offstage::engine::runs::{self, NewRun, RunStatus, RunView};
use offstage::tenancy::Platform;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Statement};

use crate::helpers::TestApp;
use crate::on_both_databases;

const HOUR: Duration = Duration::from_secs(3600);

fn probe(ws: &str) -> Params {
    Params::noop(ws)
}

async fn start(app: &TestApp, new: NewRun) -> RunView {
    runs::start(&app.db, new).await.unwrap()
}

async fn status(app: &TestApp, run: &RunView) -> Option<RunStatus> {
    runs::get(&app.db, &run.id, &Platform::system()).await.unwrap().map(|r| r.status)
}

/// Moves the end of every finished job two hours back: the runs "ended long ago".
async fn age_finished_jobs(app: &TestApp) {
    let sql = match app.db.get_database_backend() {
        DbBackend::Postgres => {
            "UPDATE apalis.jobs SET done_at = done_at - interval '2 hours' WHERE done_at IS NOT NULL"
        }
        _ => "UPDATE Jobs SET done_at = done_at - 7200 WHERE done_at IS NOT NULL",
    };
    app.db.execute_unprepared(sql).await.unwrap();
}

async fn count_jobs(app: &TestApp, id: &str) -> i64 {
    let table = app.jobs_table();
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE id = $1");
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(app.db.get_database_backend(), sql, [id.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// A run's chain id as stored (`RunView` shows a chain's first run's own id instead of none).
async fn stored_chain_id(app: &TestApp, id: &str) -> Option<String> {
    workflow_run::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap().chain_id
}

on_both_databases! {
    async fn the_prune_removes_finished_runs_past_retention_and_keeps_unfinished_failed_and_chained_ones(app: TestApp) {
        let owner = app.create_user("owner@example.com").await;
        let ws = app.create_workspace("Acme", &owner).await;
        app.drain_jobs_due().await;
        let succeeded = start(&app, NewRun::of::<Probe>(&probe(&ws.id))).await;
        let skipped = start(&app, NewRun::of::<Probe>(&Params { skip: true, ..probe(&ws.id) })).await;
        let failed = start(&app, NewRun::of::<Probe>(&Params { fail_attempts: 9, ..probe(&ws.id) })).await;
        let later = Utc::now() + chrono::Duration::days(1);
        let to_cancel = start(&app, NewRun::of::<Probe>(&probe(&ws.id)).at(later)).await;
        runs::cancel(&app.db, &to_cancel, "owner@example.com").await.unwrap();
        let scheduled = start(&app, NewRun::of::<Probe>(&probe(&ws.id)).at(later)).await;
        // A chain in progress: its first run ended, its continuation waits for tomorrow.
        let chain_first = start(&app, NewRun::of::<Probe>(&probe(&ws.id))).await;
        let chain_id = chain_first.chain_id.clone().unwrap().to_string();
        // A chain that is over: both of its runs ended.
        let over_first = start(&app, NewRun::of::<Probe>(&probe(&ws.id))).await;
        let over_id = over_first.chain_id.clone().unwrap().to_string();
        for _ in 0..300 {
            if status(&app, &failed).await == Some(RunStatus::Failed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.drain_jobs_due().await;
        let continuation = start(&app, NewRun::of::<Probe>(&probe(&ws.id)).continuing(&chain_id).at(later)).await;
        let over_second = start(&app, NewRun::of::<Probe>(&probe(&ws.id)).continuing(&over_id)).await;
        app.drain_jobs_due().await;
        assert_eq!(status(&app, &failed).await, Some(RunStatus::Failed));
        assert_eq!(status(&app, &over_second).await, Some(RunStatus::Succeeded));
        // A chain's first run stores no chain id, shows its own, and the chain lists it first.
        assert_eq!(stored_chain_id(&app, chain_first.id.as_ref()).await, None);
        assert_eq!(chain_first.chain_id.as_ref(), Some(&chain_first.id));
        let listed: Vec<_> = runs::chain(&app.db, &chain_first, &Platform::system()).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(listed, [chain_first.id.clone(), continuation.id.clone()]);
        age_finished_jobs(&app).await;
        // Ended a moment ago: inside the retention window.
        let recent = start(&app, NewRun::of::<Probe>(&probe(&ws.id))).await;
        app.drain_jobs_due().await;
        assert_eq!(status(&app, &recent).await, Some(RunStatus::Succeeded));

        let retention = offstage::config::Retention { runs: HOUR, ..Default::default() };
        let pruned = offstage::retention::prune(&app.db, &retention, Utc::now()).await.unwrap();

        for gone in [&succeeded, &skipped, &to_cancel, &over_first, &over_second] {
            assert_eq!(status(&app, gone).await, None, "{} should be pruned", gone.id);
            assert_eq!(count_jobs(&app, gone.id.as_ref()).await, 0);
        }
        for kept in [&failed, &scheduled, &chain_first, &continuation, &recent] {
            assert!(status(&app, kept).await.is_some(), "{} should stay", kept.id);
            assert_eq!(count_jobs(&app, kept.id.as_ref()).await, 1);
        }
        // The workspace's own runs at creation (its welcome email and the like) ended too.
        assert!(pruned.runs >= 5, "{pruned:?}");
        let timeline_left: u64 = offstage::db::entities::run_event::Entity::find().count(&app.db).await.unwrap();
        let runs_left: u64 = workflow_run::Entity::find().count(&app.db).await.unwrap();
        assert!(runs_left >= 5, "{runs_left}");
        // The failed run's attempts are written down and stay; nothing points at a pruned run.
        assert!(timeline_left >= 1);

        let again = offstage::retention::prune(&app.db, &retention, Utc::now()).await.unwrap();
        assert_eq!(again.runs, 0, "a second prune finds nothing more");
    }

    async fn a_chain_whose_first_run_stored_its_own_id_as_chain_id_is_listed_whole_and_kept_while_in_progress(app: TestApp) {
        let owner = app.create_user("owner@example.com").await;
        let ws = app.create_workspace("Acme", &owner).await;
        let first = start(&app, NewRun::of::<Probe>(&probe(&ws.id))).await;
        // As first runs were stored before 2026-12-05.
        app.db
            .execute_raw(Statement::from_sql_and_values(
                app.db.get_database_backend(),
                "UPDATE workflow_runs SET chain_id = id WHERE id = $1",
                [first.id.to_string().into()],
            ))
            .await
            .unwrap();
        app.drain_jobs_due().await;
        let later = Utc::now() + chrono::Duration::days(1);
        let continuation =
            start(&app, NewRun::of::<Probe>(&probe(&ws.id)).continuing(first.id.as_ref()).at(later)).await;
        let first = runs::get(&app.db, &first.id, &Platform::system()).await.unwrap().unwrap();
        assert_eq!(first.chain_id.as_ref(), Some(&first.id));
        let listed: Vec<_> = runs::chain(&app.db, &first, &Platform::system()).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(listed, [first.id.clone(), continuation.id.clone()]);

        age_finished_jobs(&app).await;
        let retention = offstage::config::Retention { runs: HOUR, ..Default::default() };
        offstage::retention::prune(&app.db, &retention, Utc::now()).await.unwrap();
        assert_eq!(status(&app, &first).await, Some(RunStatus::Succeeded), "its chain is in progress");
        assert_eq!(status(&app, &continuation).await, Some(RunStatus::Scheduled));
    }

    async fn offstage_prune_prunes_now_by_the_retention_settings_and_prints_one_json_line(app: TestApp) {
        let owner = app.create_user("owner@example.com").await;
        let ws = app.create_workspace("Acme", &owner).await;
        let finished: Vec<RunView> = {
            let mut started = Vec::new();
            for _ in 0..3 {
                started.push(start(&app, NewRun::of::<Probe>(&probe(&ws.id))).await);
            }
            started
        };
        app.drain_jobs_due().await;
        age_finished_jobs(&app).await;
        let prune = |runs: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_offstage"))
                .arg("prune")
                .env("OFFSTAGE_DATABASE_URL", &app.database_url)
                .env("OFFSTAGE_DATA_DIR", &app.config.data_dir)
                .env("OFFSTAGE_SECRET_KEY", app.config.secret_key.expose())
                .env("OFFSTAGE_LOG", "warn")
                .env("OFFSTAGE_RETENTION_RUNS", runs)
                .output()
                .unwrap()
        };
        let kept = prune("3h");
        assert!(kept.status.success(), "{}", String::from_utf8_lossy(&kept.stderr));
        let line: serde_json::Value = serde_json::from_slice(&kept.stdout).unwrap();
        assert_eq!(line["runs"], 0, "ended two hours ago, kept for three: {line}");
        assert!(status(&app, &finished[0]).await.is_some());

        let output = prune("1h");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        let line: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert!(line["runs"].as_u64().unwrap() >= 3, "{line}");
        for key in ["event_payloads", "email_bodies", "sign_in_attempts", "health_scores", "seconds"] {
            assert!(line[key].is_number(), "{key} in {line}");
        }
        for run in &finished {
            assert_eq!(status(&app, run).await, None);
        }
    }

    async fn the_daily_prune_is_a_built_in_schedule_whose_run_reports_what_it_removed(app: TestApp) {
        let schedule = offstage::db::entities::schedule::Entity::find_by_id("sch_builtin_prune_expired_data")
            .one(&app.db)
            .await
            .unwrap()
            .expect("the built-in schedule");
        assert_eq!((schedule.workflow.as_str(), schedule.cron.as_str()), ("prune_expired_data", "0 4 * * *"));
        let params = offstage::retention::workflows::prune_expired_data::Params {};
        let run = start(
            &app,
            NewRun::of::<offstage::retention::workflows::prune_expired_data::PruneExpiredData>(&params),
        )
        .await;
        app.drain_jobs_due().await;
        let run = runs::get(&app.db, &run.id, &Platform::system()).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
        let output = run.output.unwrap();
        assert!(output["runs"].is_number() && output["email_bodies"].is_number(), "{output}");
    }

    async fn the_prune_empties_old_payloads_and_bodies_and_removes_old_sign_in_records_and_scores(app: TestApp) {
        let owner = app.create_user("owner@example.com").await;
        let ws = app.create_workspace("Acme", &owner).await;
        let other = app.create_workspace("Globex", &owner).await;
        app.drain_jobs_due().await;
        health_score::Entity::delete_many().exec(&app.db).await.unwrap();
        let now = Utc::now();
        let old = now - chrono::Duration::days(100);
        event(&app, "evt_old", "processed", old).await;
        event(&app, "evt_old_failed", "failed", old).await;
        event(&app, "evt_new", "processed", now).await;
        sent_email(&app, "em_old", "sent", old).await;
        sent_email(&app, "em_old_failed", "failed", old).await;
        sent_email(&app, "em_new", "sent", now).await;
        for (id, at) in [(1, old), (2, now - chrono::Duration::hours(2))] {
            login_attempt::Entity::insert(login_attempt::ActiveModel {
                id: Set(id),
                email: Set("someone@example.com".into()),
                ip: Set("192.0.2.1".into()),
                attempted_at: Set(at),
            })
            .exec(&app.db)
            .await
            .unwrap();
        }
        for (score, at) in [(10, old - chrono::Duration::days(400)), (20, old - chrono::Duration::days(399)), (30, now)]
        {
            score_of(&app, &ws.id, score, at).await;
        }
        score_of(&app, &other.id, 40, old - chrono::Duration::days(400)).await;
        let invoices_before = invoice::Entity::find().count(&app.db).await.unwrap();

        let retention = offstage::config::Retention::default();
        let pruned = offstage::retention::prune(&app.db, &retention, now).await.unwrap();

        assert_eq!(pruned.event_payloads, 1, "{pruned:?}");
        assert_eq!(payload(&app, "evt_old").await, "", "the processed event's payload is emptied");
        assert_ne!(payload(&app, "evt_old_failed").await, "", "a failed event may still be replayed");
        assert_ne!(payload(&app, "evt_new").await, "");
        assert_eq!(pruned.email_bodies, 1, "{pruned:?}");
        let old_email = email::Entity::find_by_id("em_old").one(&app.db).await.unwrap().expect("the row stays");
        assert_eq!((old_email.html.as_str(), old_email.text.as_str()), ("", ""));
        assert_eq!(old_email.dedupe_key, "dedupe:em_old", "the dedupe key stays: it is never sent again");
        let failed_email = email::Entity::find_by_id("em_old_failed").one(&app.db).await.unwrap().unwrap();
        assert_ne!(failed_email.html, "");
        assert_ne!(email::Entity::find_by_id("em_new").one(&app.db).await.unwrap().unwrap().html, "");
        assert_eq!(pruned.sign_in_attempts, 1, "{pruned:?}");
        let attempts: Vec<i64> =
            login_attempt::Entity::find().all(&app.db).await.unwrap().into_iter().map(|a| a.id).collect();
        assert_eq!(attempts, vec![2]);
        assert_eq!(pruned.health_scores, 2, "{pruned:?}");
        let mut scores: Vec<i32> =
            health_score::Entity::find().all(&app.db).await.unwrap().into_iter().map(|s| s.score).collect();
        scores.sort_unstable();
        assert_eq!(scores, vec![30, 40], "each workspace's latest score stays, however old");
        assert_eq!(invoice::Entity::find().count(&app.db).await.unwrap(), invoices_before);

        let admin = app.sign_in(crate::helpers::ADMIN_EMAIL).await;
        let (_, page) = admin.get_html("/admin/platform/mailbox/em_old").await;
        assert!(page.contains("Removed 90 days after it was sent"), "{page}");
        let (_, page) = admin.get_html("/admin/platform/stripe-events/evt_old").await;
        assert!(page.contains("Removed 90 days after the event was processed"), "{page}");
        let (_, page) = admin.get_html("/admin/platform/stripe-events/evt_new").await;
        assert!(page.contains("evt_new") && !page.contains("Removed 90 days"), "{page}");
    }
}

async fn event(app: &TestApp, id: &str, status: &str, at: DateTime<Utc>) {
    stripe_event::Entity::insert(stripe_event::ActiveModel {
        id: Set(id.into()),
        event_type: Set("invoice.paid".into()),
        api_version: Set(None),
        stripe_created_at: Set(at),
        payload: Set(format!(r#"{{"id":"{id}"}}"#)),
        status: Set(status.into()),
        error: Set(None),
        workspace_id: Set(None),
        deliveries: Set(1),
        received_at: Set(at),
        processed_at: Set(Some(at)),
    })
    .exec(&app.db)
    .await
    .unwrap();
}

async fn payload(app: &TestApp, id: &str) -> String {
    stripe_event::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap().payload
}

async fn sent_email(app: &TestApp, id: &str, status: &str, at: DateTime<Utc>) {
    email::Entity::insert(email::ActiveModel {
        id: Set(id.into()),
        workspace_id: Set(None),
        recipient: Set("someone@example.com".into()),
        kind: Set("test".into()),
        category: Set("transactional".into()),
        subject: Set("Hello".into()),
        html: Set("<p>Hello</p>".into()),
        text: Set("Hello".into()),
        dedupe_key: Set(format!("dedupe:{id}")),
        message_id: Set(format!("<{id}@example.com>")),
        status: Set(status.into()),
        attempts: Set(1),
        last_error: Set(None),
        transport: Set(None),
        created_at: Set(at),
        sent_at: Set((status == "sent").then_some(at)),
    })
    .exec(&app.db)
    .await
    .unwrap();
}

async fn score_of(app: &TestApp, workspace_id: &str, score: i32, at: DateTime<Utc>) {
    health_score::Entity::insert(health_score::ActiveModel {
        workspace_id: Set(workspace_id.into()),
        score: Set(score),
        factors: Set("{}".into()),
        computed_at: Set(at),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap();
}
