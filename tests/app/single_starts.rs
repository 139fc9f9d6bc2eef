//! Single starts under load share commits (`runs::Starter`, group commit): concurrent API calls
//! each get their own run, answered after its commit; a bad start among them fails alone; and
//! one idempotency key sent many times at once starts one run. An absent key is stored as
//! absent, and an empty one is refused (runs are written from arrays where '' means absent).

use std::collections::HashSet;

use crate::on_both_databases;
use offstage::db::entities::workflow_run;
use offstage::engine::NewRun;
use offstage::engine::runs::Starter;
use offstage::workspaces::workflows::refresh_workspace_health::{Params, RefreshWorkspaceHealth};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const AT_ONCE: usize = 64;

fn health(workspace_id: &str) -> NewRun {
    NewRun::of::<RefreshWorkspaceHealth>(&Params { workspace_id: workspace_id.to_owned() })
}

on_both_databases! {
    async fn concurrent_single_starts_share_commits_and_each_gets_its_own_run(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let key = app.api_key(&ws).await;
        let path = "/api/v1/workflows/refresh_workspace_health/runs";
        let calls = (0..AT_ONCE).map(|_| app.api(Method::POST, &key, path, Some(serde_json::json!({}))));
        let answers = futures::future::join_all(calls).await;
        let mut ids = HashSet::new();
        for (status, body) in &answers {
            assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
            ids.insert(body["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), AT_ONCE, "two calls were answered with one run");
        let stored = workflow_run::Entity::find().filter(workflow_run::Column::Trigger.eq("api")).all(&app.db).await.unwrap();
        assert_eq!(stored.len(), AT_ONCE);
        assert!(stored.iter().all(|run| ids.contains(&run.id)));
        // Runs started in one commit share its instant: fewer instants than runs means shared commits.
        let instants: HashSet<_> = stored.iter().map(|run| run.created_at).collect();
        assert!(instants.len() < AT_ONCE, "each of the {AT_ONCE} starts had a commit of its own");
    }

    async fn a_bad_start_among_concurrent_ones_fails_alone(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let starter = Starter::new(app.db.clone());
        let starts = (0..AT_ONCE).map(|i| {
            let workspace = if i == AT_ONCE / 2 { "ws_deleted_meanwhile".to_owned() } else { ws.id.to_string() };
            starter.start_quietly(health(&workspace))
        });
        let answers = futures::future::join_all(starts).await;
        for (i, answer) in answers.iter().enumerate() {
            if i == AT_ONCE / 2 {
                let err = answer.as_ref().expect_err("a run of a workspace that does not exist started");
                assert!(matches!(err, offstage::engine::Error::Invalid(_)), "{err:?}");
            } else {
                assert!(answer.as_ref().is_ok_and(|started| !started.duplicate), "start {i}: {answer:?}");
            }
        }
        let stored = workflow_run::Entity::find().filter(workflow_run::Column::WorkspaceId.eq(ws.id.to_string()));
        let stored = stored.filter(workflow_run::Column::Workflow.eq("refresh_workspace_health")).all(&app.db).await.unwrap();
        assert_eq!(stored.len(), AT_ONCE - 1);
    }

    async fn one_idempotency_key_sent_many_times_at_once_starts_one_run(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let starter = Starter::new(app.db.clone());
        let starts = (0..AT_ONCE).map(|_| starter.start_quietly(health(&ws.id).idempotency_key("import:1")));
        let answers: Vec<_> = futures::future::join_all(starts).await.into_iter().map(Result::unwrap).collect();
        let ids: HashSet<_> = answers.iter().map(|started| started.id.clone()).collect();
        assert_eq!(ids.len(), 1, "one key started {} runs", ids.len());
        assert_eq!(answers.iter().filter(|started| !started.duplicate).count(), 1);
    }

    async fn absent_keys_are_stored_as_absent_and_an_empty_key_is_refused(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let plain = offstage::engine::runs::start(&app.db, health(&ws.id)).await.unwrap();
        let stored = workflow_run::Entity::find_by_id(plain.id.to_string()).one(&app.db).await.unwrap().unwrap();
        assert_eq!((stored.idempotency_key, stored.business_key), (None, None));
        assert_eq!(stored.workspace_id.as_deref(), Some(ws.id.as_str()));
        for new in [health(&ws.id).idempotency_key(""), health(&ws.id).business_key("")] {
            let err = offstage::engine::runs::start(&app.db, new).await.expect_err("an empty key was taken");
            assert!(matches!(err, offstage::engine::Error::Invalid(_)), "{err:?}");
        }
        let keyed = offstage::engine::runs::start(&app.db, health(&ws.id).idempotency_key("k").business_key("b")).await.unwrap();
        let stored = workflow_run::Entity::find_by_id(keyed.id.to_string()).one(&app.db).await.unwrap().unwrap();
        assert_eq!((stored.idempotency_key.as_deref(), stored.business_key.as_deref()), (Some("k"), Some("b")));
    }
}
