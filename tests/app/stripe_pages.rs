//! The Stripe pages: a workspace's Billing tab (subscription, invoices, events in the
//! workspace's timezone) and the platform's Stripe events inbox, which only platform admins see:
//! its delivery counts and the replay of every failed event.

use crate::helpers::ADMIN_EMAIL;
use crate::on_both_databases;
use crate::stripe_webhooks::{event, object, subscription};
use chrono::Utc;
use offstage::db::entities::workflow_run;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

on_both_databases! {
    async fn the_billing_page_shows_the_subscription_invoices_and_events_in_the_workspace_timezone(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.deliver(&event("evt_sub", "customer.subscription.created", Utc::now().timestamp(), subscription(&ws, "cus_page", "trialing"))).await;
        let mut paid = object("invoice");
        paid["customer"] = json!("cus_page");
        paid["id"] = json!("in_page");
        paid["amount_paid"] = json!(2000);
        app.drain_jobs_due().await;
        app.deliver(&event("evt_paid", "invoice.paid", Utc::now().timestamp(), paid)).await;
        app.drain_jobs_due().await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, html) = admin.get_html(&format!("/admin/workspaces/{}/billing", ws.slug)).await;
        assert_eq!(status, StatusCode::OK);
        for expected in ["Trialing", "pro", "ends in 9 days", "in_page", "20.00 USD", "evt_paid", "invoice.paid", "cus_page"] {
            assert!(html.contains(expected), "{expected} missing");
        }
    }

    async fn the_stripe_pages_are_not_found_for_non_platform_admins(app: TestApp) {
        let user = app.create_user("member@example.com").await;
        let visitor = app.sign_in(&user.email).await;
        for path in ["/admin/platform/stripe-events", "/admin/platform/stripe-events/evt_x"] {
            assert_eq!(visitor.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let response = visitor.post_form("/admin/platform/stripe-events/replay", &[("status", "failed")]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    async fn the_inbox_shows_how_many_times_stripe_delivered_an_event(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let evt = event("evt_thrice", "customer.subscription.updated", Utc::now().timestamp(), subscription(&ws, "cus_thrice", "active"));
        for _ in 0..3 {
            let (status, body) = app.deliver(&evt).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        app.drain_jobs_due().await;
        assert_eq!(app.stored_event("evt_thrice").await.unwrap().deliveries, 3);
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, html) = admin.get_html("/admin/platform/stripe-events").await;
        assert_eq!(status, StatusCode::OK);
        let row_start = html.find("evt_thrice").expect("the event is listed");
        let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
        assert!(row.contains("<td>3</td>"), "the row's Deliveries column says 3: {row}");
        let (_, html) = admin.get_html("/admin/platform/stripe-events/evt_thrice").await;
        assert!(html.contains("<dt>Deliveries</dt><dd>3</dd>"), "the event's page says 3 deliveries");
    }

    async fn replaying_every_failed_event_queues_one_new_run_for_each_and_says_how_many(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let now = Utc::now().timestamp();
        let failing = ["evt_fails_1", "evt_fails_2"];
        for (n, id) in failing.iter().enumerate() {
            let mut sub = subscription(&ws, "cus_fails", "active");
            sub["status"] = json!("something_new");
            app.deliver(&event(id, "customer.subscription.updated", now - 10 + n as i64, sub)).await;
        }
        app.deliver(&event("evt_fine", "customer.subscription.created", now - 20, subscription(&ws, "cus_fails", "trialing"))).await;
        app.drain_jobs_due().await;
        for id in failing {
            assert_eq!(app.stored_event(id).await.unwrap().status, "failed", "{id}");
        }
        assert_eq!(app.stored_event("evt_fine").await.unwrap().status, "processed");
        let runs_of = |id: &str| {
            let key = format!("stripe:{id}");
            let db = app.db.clone();
            async move { workflow_run::Entity::find().filter(workflow_run::Column::BusinessKey.eq(key)).count(&db).await.unwrap() }
        };

        let admin = app.sign_in(ADMIN_EMAIL).await;
        let response = admin.post_form("/admin/platform/stripe-events/replay", &[("status", "failed")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(crate::helpers::location(&response), "/admin/platform/stripe-events?status=failed");
        let (_, html) = admin.get_html("/admin/platform/stripe-events?status=failed").await;
        assert!(html.contains("2 failed event(s) queued for processing again."), "the flash says how many");
        app.drain_jobs_due().await;
        for id in failing {
            assert_eq!(runs_of(id).await, 2, "{id}: its first run and the replay");
            assert_eq!(app.stored_event(id).await.unwrap().status, "failed", "{id}: the same payload fails again");
        }
        assert_eq!(runs_of("evt_fine").await, 1, "a processed event is not replayed");
    }
}
