//! Workers on PostgreSQL: woken by the insert's announcement, and restarted when their
//! acknowledgement cannot be written.

use chrono::{Duration, Utc};
use offstage::engine::runs::{self, RunStatus};
use offstage::engine::{NewRun, probe};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::TestApp;

/// Workers on PostgreSQL wake on the job table's insert trigger, which announces only runs whose
/// `run_at` is not after the inserting transaction's start (`wake::ANNOUNCE_ONCE_PER_INSERT`): a run due now must be announced,
/// or it waits for the next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_run_due_now_is_announced_to_the_workers_at_once() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    let app = TestApp::spawn_web_only(crate::helpers::Backend::Postgres).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&app.database_url).await.unwrap();
    listener.listen("apalis::job::insert").await.unwrap();
    let params = probe::Params::noop(&ws.id);
    let later =
        runs::start(&app.db, NewRun::of::<probe::Probe>(&params).at(Utc::now() + Duration::hours(1))).await.unwrap();
    let now = runs::start(&app.db, NewRun::of::<probe::Probe>(&params)).await.unwrap();
    let notification = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification")
        .unwrap();
    let announced: serde_json::Value = serde_json::from_str(notification.payload()).unwrap();
    assert_eq!(
        announced["id"],
        now.id.as_str(),
        "the run due now is announced; the one due in an hour is not ({later:?})",
        later = later.id
    );
}

/// On PostgreSQL a worker's acknowledgements are written apart from the worker (`queue::postgres`).
/// When that write fails, the worker stops and the monitor starts it again; the run it had
/// finished is handed over again once the old worker's heartbeats have stopped, and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_worker_whose_acknowledgement_cannot_be_written_restarts_and_the_run_still_ends() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    let app = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    app.drain_jobs().await;
    // The next acknowledgement of a finished job fails once (a sequence is not rolled back).
    app.db
        .execute_unprepared(
            "CREATE SEQUENCE acknowledgements; \
             CREATE FUNCTION refuse_first_acknowledgement() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN IF nextval('acknowledgements') = 1 THEN RAISE EXCEPTION 'refused once'; END IF; \
               RETURN NEW; END $$; \
             CREATE TRIGGER refuse_first_acknowledgement BEFORE UPDATE OF status ON apalis.jobs FOR EACH ROW \
               WHEN (NEW.status = 'Done') EXECUTE FUNCTION refuse_first_acknowledgement();",
        )
        .await
        .unwrap();
    let params = probe::Params::noop(&ws.id);
    let run = runs::start(&app.db, NewRun::of::<probe::Probe>(&params)).await.unwrap();
    let started = std::time::Instant::now();
    loop {
        let now = runs::get(&app.db, &run.id, &offstage::tenancy::Platform::system()).await.unwrap().unwrap();
        if now.status == RunStatus::Succeeded {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(40), "the run did not end: {:?}", now.status);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let tries = app
        .db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT last_value AS n FROM acknowledgements"))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(tries, 2, "one refused acknowledgement, then the one that ended the run");
}
