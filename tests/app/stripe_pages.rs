//! The Stripe pages: a workspace's Billing tab (subscription, invoices, events in the
//! workspace's timezone) and the platform's Stripe events inbox, which only platform admins see.

use crate::helpers::ADMIN_EMAIL;
use crate::on_both_databases;
use crate::stripe_webhooks::{event, object, subscription};
use chrono::Utc;
use reqwest::StatusCode;
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
}
