//! Runs for later: a fan-out spread out in time, and schedule ticks that start one run each,
//! keyed by schedule and tick rather than by the process that fires them (so a restart that
//! fires a tick again starts nothing new).

use crate::helpers::*;
use crate::on_both_databases;
use chrono::{DateTime, Duration, Utc};
use offstage::db::entities::{schedule, workflow_run};
use offstage::engine::runs::{self, RunStatus};
use offstage::engine::schedules;
use offstage::engine::{NewRun, probe};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// `at` lies between `from` and `to`, give or take `slack`.
fn assert_between(at: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>, slack: Duration, what: &str) {
    assert!(at >= from - slack && at <= to + slack, "{what}: {at} is not within {from} .. {to} (± {slack})");
}

async fn schedule_runs(app: &TestApp, schedule_id: &str) -> Vec<workflow_run::Model> {
    workflow_run::Entity::find()
        .filter(workflow_run::Column::Trigger.eq("schedule"))
        .filter(workflow_run::Column::IdempotencyKey.starts_with(format!("schedule:{schedule_id}:")))
        .order_by_asc(workflow_run::Column::ScheduledFor)
        .all(&app.db)
        .await
        .unwrap()
}

async fn stored(app: &TestApp, id: &str) -> schedule::Model {
    schedule::Entity::find_by_id(id).one(&app.db).await.unwrap().expect("the schedule")
}

on_both_databases! {
    async fn a_fan_out_with_spacing_starts_each_item_one_spacing_after_the_one_before(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let params = probe::Params::noop(&ws.id);
        let items: Vec<NewRun> = (0..3).map(|_| NewRun::of::<probe::Probe>(&params)).collect();
        let before = Utc::now();
        let ids = runs::fan_out(&app.db, items, Some(std::time::Duration::from_secs(600))).await.unwrap();
        let after = Utc::now();
        assert_eq!(ids.len(), 3);
        let mut started = Vec::new();
        for id in &ids {
            started.push(runs::get(&app.db, id, &offstage::tenancy::Platform::system()).await.unwrap().expect("the run"));
        }
        for (n, run) in started.iter().enumerate() {
            let offset = Duration::minutes(10 * n as i64);
            // The requested time, and the queue's (whole seconds on SQLite).
            let slack = Duration::seconds(1);
            assert_between(run.requested_for, before + offset, after + offset, slack, &format!("run {n} requested"));
            assert_between(run.scheduled_for.unwrap(), before + offset, after + offset, slack, &format!("run {n} queued"));
        }
        assert_eq!(started[2].requested_for - started[1].requested_for, Duration::minutes(10), "exactly one spacing apart");
        assert_eq!(started[1].status, RunStatus::Scheduled);
        assert_eq!(started[2].status, RunStatus::Scheduled);
        app.drain_jobs_due().await;
        let mut statuses = Vec::new();
        for id in &ids {
            statuses.push(runs::get(&app.db, id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap().status);
        }
        assert_eq!(statuses, [RunStatus::Succeeded, RunStatus::Scheduled, RunStatus::Scheduled], "only the first is due");
    }

    async fn a_tick_fired_again_after_a_restart_starts_no_second_run_and_the_next_tick_starts_one(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let created = crate::schedules::yearly_probe(&app, &ws).await;
        // Every minute from a tick two hours ahead: the app's own scheduler, firing at the real
        // time, leaves it to this test.
        let tick = DateTime::from_timestamp((Utc::now().timestamp() / 60 + 120) * 60, 0).unwrap();
        let next_tick = tick + Duration::minutes(1);
        let mut active: schedule::ActiveModel = created.into();
        active.cron = Set("* * * * *".into());
        active.next_run_at = Set(Some(tick));
        let found = active.update(&app.db).await.unwrap();
        let key = |at: DateTime<Utc>| format!("schedule:{}:{}", found.id, at.timestamp());
        // Two hours ahead, the built-in schedules (the 03:00 health refresh, a digest) may be due
        // too: only this one fires here.
        schedule::Entity::update_many()
            .col_expr(schedule::Column::Paused, sea_orm::sea_query::Expr::value(true))
            .filter(schedule::Column::Id.ne(found.id.clone()))
            .exec(&app.db)
            .await
            .unwrap();

        assert_eq!(schedules::fire_due(&app.db, &app.workflows, tick).await.unwrap(), 1);
        let fired = stored(&app, &found.id).await;
        assert_eq!(fired.next_run_at, Some(next_tick));
        let first = schedule_runs(&app, &found.id).await;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].idempotency_key.as_deref(), Some(key(tick).as_str()));
        assert_eq!(first[0].scheduled_for, tick);

        // A restarted process (its own connection) that still sees the tick as due fires it again.
        let mut rewound: schedule::ActiveModel = fired.into();
        rewound.next_run_at = Set(Some(tick));
        rewound.update(&app.db).await.unwrap();
        let restarted = offstage::db::connect(&app.database_url, app.config.database_kind).await.unwrap();
        assert_eq!(schedules::fire_due(&restarted, &app.workflows, tick).await.unwrap(), 0, "the tick already has its run");
        assert_eq!(schedules::fire_due(&restarted, &app.workflows, tick).await.unwrap(), 0);
        let again = schedule_runs(&app, &found.id).await;
        assert_eq!(again.len(), 1, "still one run for the tick");
        assert_eq!(again[0].id, first[0].id);
        let moved_on = stored(&app, &found.id).await;
        assert_eq!(moved_on.next_run_at, Some(next_tick), "the schedule moved on past the tick");
        assert_eq!(moved_on.last_run_id.as_deref(), Some(first[0].id.as_str()), "the tick's run stays the last one");

        assert_eq!(schedules::fire_due(&restarted, &app.workflows, next_tick).await.unwrap(), 1, "the next tick starts its run");
        let both = schedule_runs(&app, &found.id).await;
        let keys: Vec<Option<String>> = both.iter().map(|r| r.idempotency_key.clone()).collect();
        assert_eq!(keys, [Some(key(tick)), Some(key(next_tick))]);
        assert_eq!(both[1].scheduled_for, next_tick);
        let last = stored(&app, &found.id).await;
        assert_eq!(last.next_run_at, Some(next_tick + Duration::minutes(1)));
        assert_eq!(last.last_run_id.as_deref(), Some(both[1].id.as_str()));
        restarted.close().await.unwrap();
    }
}
