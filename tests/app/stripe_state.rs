//! What Stripe events leave on a workspace: paused and resumed subscriptions, a paid invoice's
//! stored fields, ties between events of the same second, and customers linked by their own events.

use crate::helpers::{ADMIN_EMAIL, TestApp};
use crate::on_both_databases;
use crate::stripe_webhooks::{event, object, subscription, unique_id};
use chrono::{DateTime, Utc};
use offstage::billing::{Envelope, Received, apply, inbox};
use offstage::db::entities::invoice;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

/// Records `evt` in the inbox and applies it at once, as its run would: the arrival order is
/// exactly the order of the calls.
async fn arrive(app: &TestApp, evt: &Value) {
    let body = serde_json::to_vec(evt).unwrap();
    let envelope = Envelope::parse(&body).unwrap();
    let received = inbox::receive(&app.db, &envelope, std::str::from_utf8(&body).unwrap()).await.unwrap();
    assert!(matches!(received, Received::New { .. }), "{received:?}");
    apply::apply(&app.db, &app.config.stripe, &envelope.id, None).await.unwrap();
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

on_both_databases! {
    async fn a_paused_subscription_pauses_the_workspace_and_a_later_resume_makes_it_active_again(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let now = Utc::now().timestamp();
        let paused = subscription(&ws, "cus_pause", "paused");
        let (status, body) = app.deliver(&event("evt_paused", "customer.subscription.paused", now - 10, paused)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        assert_eq!(app.stored_event("evt_paused").await.unwrap().status, "processed");
        let after_pause = app.workspace(&ws.id).await;
        assert_eq!(after_pause.subscription_status, "paused");
        assert_eq!(after_pause.plan, "pro");

        let resumed = subscription(&ws, "cus_pause", "active");
        let (status, body) = app.deliver(&event("evt_resumed", "customer.subscription.resumed", now, resumed)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        assert_eq!(app.stored_event("evt_resumed").await.unwrap().status, "processed");
        let after_resume = app.workspace(&ws.id).await;
        assert_eq!(after_resume.subscription_status, "active");
        assert_eq!(after_resume.stripe_customer_id.as_deref(), Some("cus_pause"));
    }

    async fn a_paid_invoice_is_stored_with_its_currency_line_period_and_payment_time(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let (start, end, paid_at) = (1_700_000_000_i64, 1_702_592_000_i64, 1_700_000_321_i64);
        let mut paid = object("invoice");
        paid["id"] = json!("in_state");
        paid["customer"] = json!("cus_invoice");
        paid["subscription_details"] = json!({ "metadata": { "workspace_id": ws.id } });
        paid["currency"] = json!("eur");
        paid["amount_paid"] = json!(1234);
        paid["lines"]["data"][0]["period"] = json!({ "start": start, "end": end });
        // The invoice's own period differs: the line's period is the one billed.
        paid["period_start"] = json!(start - 86_400);
        paid["period_end"] = json!(start - 3_600);
        paid["status_transitions"]["paid_at"] = json!(paid_at);
        let (status, body) = app.deliver(&event("evt_invoice_state", "invoice.paid", Utc::now().timestamp(), paid)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        let stored = app.stored_event("evt_invoice_state").await.unwrap();
        assert_eq!(stored.status, "processed", "{:?}", stored.error);
        let row = invoice::Entity::find_by_id("in_state").one(&app.db).await.unwrap().expect("the invoice is stored");
        let expected = invoice::Model {
            id: "in_state".into(),
            workspace_id: ws.id.clone(),
            amount_paid: 1234,
            currency: "eur".into(),
            period_start: Some(at(start)),
            period_end: Some(at(end)),
            paid_at: at(paid_at),
            stripe_event_id: "evt_invoice_state".into(),
            charge_id: None,
            mrr: None,
            lines_read: true,
        };
        assert_eq!(row, expected);
        assert_eq!(app.workspace(&ws.id).await.stripe_customer_id.as_deref(), Some("cus_invoice"));
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (_, html) = admin.get_html(&format!("/admin/workspaces/{}/billing", ws.slug)).await;
        assert!(html.contains("in_state") && html.contains("12.34 EUR"), "the billing page lists it");
    }

    async fn within_one_second_a_deletion_outranks_the_creation_in_either_arrival_order(app: TestApp) {
        let created = Utc::now().timestamp() - 100;
        for (n, order) in [[0, 1], [1, 0]].into_iter().enumerate() {
            let ws = app.create_workspace(&format!("Tie {n}"), &app.admin).await;
            let customer = format!("cus_tie_{n}");
            let events = [
                event(&unique_id("evt"), "customer.subscription.created", created, subscription(&ws, &customer, "trialing")),
                event(&unique_id("evt"), "customer.subscription.deleted", created, subscription(&ws, &customer, "canceled")),
            ];
            for i in order {
                arrive(&app, &events[i]).await;
            }
            let ws = app.workspace(&ws.id).await;
            assert_eq!(ws.subscription_status, "canceled", "order {order:?}");
            let deleted_id = events[1]["id"].as_str().unwrap();
            assert_eq!(ws.billing_event_key, Some(format!("{created:012}:2:{deleted_id}")), "order {order:?}");
        }
    }

    async fn two_updates_within_one_second_are_settled_by_the_higher_event_id_in_either_arrival_order(app: TestApp) {
        let created = Utc::now().timestamp() - 100;
        for (n, order) in [[0, 1], [1, 0]].into_iter().enumerate() {
            let ws = app.create_workspace(&format!("Same second {n}"), &app.admin).await;
            let customer = format!("cus_same_{n}");
            // Event ids are unique in the inbox: each order has its own pair, a before b.
            let (a, b) = (format!("evt_same_a_{n}"), format!("evt_same_b_{n}"));
            let events = [
                event(&a, "customer.subscription.updated", created, subscription(&ws, &customer, "active")),
                event(&b, "customer.subscription.updated", created, subscription(&ws, &customer, "past_due")),
            ];
            for i in order {
                arrive(&app, &events[i]).await;
            }
            let ws = app.workspace(&ws.id).await;
            assert_eq!(ws.subscription_status, "past_due", "order {order:?}: {b} sorts after {a}");
            assert_eq!(ws.billing_event_key, Some(format!("{created:012}:1:{b}")), "order {order:?}");
            for id in [&a, &b] {
                assert_eq!(app.stored_event(id).await.unwrap().status, "processed", "order {order:?}: {id}");
            }
        }
    }

    async fn a_customer_event_links_the_customer_its_metadata_names_and_later_events_match_by_customer(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let now = Utc::now().timestamp();
        let mut customer = object("customer");
        customer["id"] = json!("cus_meta");
        customer["metadata"] = json!({ "workspace_id": ws.id });
        let (status, body) = app.deliver(&event("evt_customer_created", "customer.created", now - 10, customer)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        let stored = app.stored_event("evt_customer_created").await.unwrap();
        assert_eq!(stored.status, "processed", "{:?}", stored.error);
        assert_eq!(stored.workspace_id.as_deref(), Some(ws.id.as_str()));
        let linked = app.workspace(&ws.id).await;
        assert_eq!(linked.stripe_customer_id.as_deref(), Some("cus_meta"));
        assert_eq!(linked.subscription_status, "none", "a customer alone is no subscription");

        let mut sub = subscription(&ws, "cus_meta", "active");
        sub["metadata"] = json!({});
        let (status, body) = app.deliver(&event("evt_by_customer", "customer.subscription.updated", now, sub.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        let stored = app.stored_event("evt_by_customer").await.unwrap();
        assert_eq!(stored.status, "processed", "{:?}", stored.error);
        assert_eq!(stored.workspace_id.as_deref(), Some(ws.id.as_str()));
        let ws = app.workspace(&ws.id).await;
        assert_eq!((ws.subscription_status.as_str(), ws.plan.as_str()), ("active", "pro"));
        assert_eq!(ws.stripe_subscription_id.as_deref(), sub["id"].as_str());
    }

    async fn a_customer_event_that_names_no_workspace_is_kept_as_unmatched(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let mut customer = object("customer");
        customer["id"] = json!("cus_nobody");
        customer["metadata"] = json!({});
        let (status, body) = app.deliver(&event("evt_customer_nobody", "customer.updated", Utc::now().timestamp(), customer)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        let stored = app.stored_event("evt_customer_nobody").await.unwrap();
        assert_eq!((stored.status.as_str(), stored.workspace_id.as_deref()), ("unmatched", None));
        assert_eq!(app.workspace(&ws.id).await.stripe_customer_id, None);
    }
}
