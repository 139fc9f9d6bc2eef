//! The weekly digest's facts: workspaces whose digests ask at the same moment are read together,
//! and each is answered with its own week.

use std::sync::Arc;

use chrono::{Duration, Utc};
use offstage::domain::Role;
use offstage::workspaces::weekly_facts::WeeklyFactsReader;
use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_databases;

on_both_databases! {
    async fn workspaces_read_together_are_each_answered_with_their_own_week(app: TestApp) {
        let busy = app.create_workspace("Busy", &app.admin).await;
        let calm_owner = app.create_user("calm@example.com").await;
        let calm = app.create_workspace("Calm", &calm_owner).await;
        let (co_admin, member) = (app.create_user("co-admin@example.com").await, app.create_user("plain@example.com").await);
        app.add_member(&busy, &co_admin, Role::Admin).await;
        app.add_member(&busy, &member, Role::Member).await;
        let key = app.api_key(&busy).await;
        for _ in 0..2 {
            let params = json!({ "params": { "workspace_id": busy.id } });
            let (status, _) = app.api(reqwest::Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(params)).await;
            assert_eq!(status, StatusCode::ACCEPTED);
        }
        app.drain_jobs_due().await;

        let reader = Arc::new(WeeklyFactsReader::start(offstage::db::readers(&app.db)));
        let (week_ago, in_an_hour) = (Utc::now() - Duration::days(7), Utc::now() + Duration::hours(1));
        // Each workspace twice at once, and the busy one once more since a moment still to come.
        let asked = [(&busy.id, week_ago), (&calm.id, week_ago), (&busy.id, in_an_hour), (&busy.id, week_ago), (&calm.id, week_ago)];
        let reads: Vec<_> = asked
            .iter()
            .map(|(id, since)| {
                let (reader, id, since) = (reader.clone(), (*id).clone(), *since);
                tokio::spawn(async move { reader.read(&id, since).await })
            })
            .collect();
        let mut weeks = Vec::new();
        for read in reads {
            weeks.push(read.await.unwrap().unwrap());
        }

        let mut joined = weeks[0].members_joined.clone();
        joined.sort();
        let mut everyone = vec![app.admin.email.clone(), "co-admin@example.com".to_owned(), "plain@example.com".to_owned()];
        everyone.sort();
        assert_eq!(joined, everyone);
        assert_eq!(weeks[0].managers, [app.admin.email.clone(), "co-admin@example.com".to_owned()], "owner first, then the admin");
        assert_eq!(weeks[0].ended.counted(&app.workflows), (2, 0));
        assert!(weeks[0].health.is_some() && weeks[0].health_then.is_none(), "{:?}", weeks[0]);

        assert_eq!(weeks[1].members_joined, ["calm@example.com"]);
        assert_eq!(weeks[1].managers, ["calm@example.com"]);
        assert_eq!(weeks[1].ended.counted(&app.workflows), (0, 0));
        assert_eq!((weeks[1].health, weeks[1].health_then), (None, None));

        // Since a moment still to come nothing happened, and the latest score is from before it.
        assert!(weeks[2].members_joined.is_empty() && weeks[2].billing_events.is_empty());
        assert_eq!(weeks[2].ended.counted(&app.workflows), (0, 0));
        assert_eq!(weeks[2].managers, weeks[0].managers);
        assert_eq!(weeks[2].health_then, weeks[0].health);

        for (again, first) in [(3, 0), (4, 1)] {
            assert_eq!(format!("{:?}", weeks[again]), format!("{:?}", weeks[first]), "asked twice at once, answered alike");
        }
    }
}
