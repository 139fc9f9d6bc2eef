//! Stripe webhooks: signed deliveries (Stripe's own example objects as `data.object`), the
//! signature's edge cases, duplicates, arrival order, unmatched and failed events and their
//! replay (the billing and inbox pages themselves: `stripe_pages`).

use crate::helpers::{ADMIN_EMAIL, STRIPE_SECRET, TestApp};
use crate::on_both_databases;
use chrono::{Duration, Utc};
use offstage::billing::{Envelope, Received, apply, inbox};
use offstage::config::Secret;
use offstage::db::entities::{invoice, stripe_event, workflow_run, workspace};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

mod signatures;

/// Stripe's example object of `kind` (subscription, invoice, checkout.session, customer).
pub(crate) fn object(kind: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!("../../fixtures/stripe_objects.json")).unwrap();
    all[kind].clone()
}

pub(crate) fn event(id: &str, event_type: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "api_version": "2022-11-15", "created": created, "livemode": false,
        "pending_webhooks": 1, "request": { "id": null, "idempotency_key": null }, "type": event_type,
        "data": { "object": object },
    })
}

/// A subscription of `ws` in `status`, on the "pro" price, with customer `customer`.
pub(crate) fn subscription(ws: &workspace::Model, customer: &str, status: &str) -> Value {
    let mut sub = object("subscription");
    sub["customer"] = json!(customer);
    sub["status"] = json!(status);
    sub["metadata"] = json!({ "workspace_id": ws.id });
    sub["items"]["data"][0]["price"]["id"] = json!("price_pro_monthly");
    sub["trial_end"] = json!((Utc::now() + Duration::days(10)).timestamp());
    sub["current_period_end"] = json!((Utc::now() + Duration::days(30)).timestamp());
    sub["cancel_at_period_end"] = json!(false);
    sub
}

pub(crate) fn unique_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

impl TestApp {
    async fn post_stripe(&self, body: &[u8], signature: Option<String>) -> (StatusCode, String) {
        let mut request = self.anonymous().post(self.url("/webhooks/stripe")).body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Delivers `event` signed with the current secret, as Stripe would.
    pub(crate) async fn deliver(&self, event: &Value) -> (StatusCode, String) {
        let body = serde_json::to_vec(event).unwrap();
        let signature = sign(STRIPE_SECRET, Utc::now().timestamp(), &body);
        self.post_stripe(&body, Some(signature)).await
    }

    pub(crate) async fn stored_event(&self, id: &str) -> Option<stripe_event::Model> {
        stripe_event::Entity::find_by_id(id).one(&self.db).await.unwrap()
    }

    pub(crate) async fn workspace(&self, id: &str) -> workspace::Model {
        workspace::Entity::find_by_id(id).one(&self.db).await.unwrap().unwrap()
    }
}

fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    offstage::billing::signature::sign(&Secret::new(secret), timestamp, body)
}

on_both_databases! {
    async fn a_signed_subscription_event_sets_the_workspace_subscription_state(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let sub = subscription(&ws, "cus_acme", "trialing");
        let evt = event(&unique_id("evt"), "customer.subscription.created", Utc::now().timestamp(), sub.clone());
        let (status, body) = app.deliver(&evt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        let ws = app.workspace(&ws.id).await;
        assert_eq!(ws.subscription_status, "trialing");
        assert_eq!(ws.plan, "pro", "price_pro_monthly maps to the configured plan name");
        assert_eq!(ws.stripe_customer_id.as_deref(), Some("cus_acme"), "the customer is remembered");
        assert_eq!(ws.stripe_subscription_id.as_deref(), sub["id"].as_str());
        assert_eq!(ws.trial_ends_at.map(|t| t.timestamp()), sub["trial_end"].as_i64());
        assert_eq!(ws.current_period_end.map(|t| t.timestamp()), sub["current_period_end"].as_i64());
        let stored = app.stored_event(evt["id"].as_str().unwrap()).await.unwrap();
        assert_eq!(stored.status, "processed");
        assert_eq!(stored.workspace_id.as_deref(), Some(ws.id.as_str()));
        assert_eq!(stored.payload, serde_json::to_string(&evt).unwrap(), "the raw body is kept as received");
    }

    async fn every_handled_event_type_is_processed(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let customer = "cus_every_type";
        let now = Utc::now().timestamp();
        let mut session = object("checkout.session");
        session["customer"] = json!(customer);
        session["mode"] = json!("subscription");
        session["subscription"] = json!("sub_from_checkout");
        session["client_reference_id"] = json!(ws.id);
        let mut paid = object("invoice");
        paid["customer"] = json!(customer);
        paid["id"] = json!("in_paid");
        paid["amount_paid"] = json!(2000);
        let mut succeeded = paid.clone();
        succeeded["id"] = json!("in_succeeded");
        let mut failed = object("invoice");
        failed["customer"] = json!(customer);
        failed["id"] = json!("in_failed");
        let sub = subscription(&ws, customer, "active");
        let types = [
            ("checkout.session.completed", session),
            ("customer.subscription.created", sub.clone()),
            ("customer.subscription.updated", sub.clone()),
            ("customer.subscription.paused", sub.clone()),
            ("customer.subscription.resumed", sub.clone()),
            ("customer.subscription.trial_will_end", sub.clone()),
            ("customer.subscription.deleted", { let mut s = sub.clone(); s["status"] = json!("canceled"); s }),
            ("invoice.paid", paid),
            ("invoice.payment_succeeded", succeeded),
            ("invoice.payment_failed", failed),
        ];
        let mut ids = Vec::new();
        for (n, (event_type, object)) in types.into_iter().enumerate() {
            let id = unique_id("evt");
            let (status, body) = app.deliver(&event(&id, event_type, now + n as i64, object)).await;
            assert_eq!(status, StatusCode::OK, "{event_type}: {body}");
            ids.push((event_type, id));
            // In order, so the customer is linked by the checkout before the invoices need it.
            app.drain_jobs_due().await;
        }
        for (event_type, id) in ids {
            let stored = app.stored_event(&id).await.unwrap();
            assert_eq!(stored.status, "processed", "{event_type}: {:?}", stored.error);
        }
        let ws = app.workspace(&ws.id).await;
        assert_eq!(ws.subscription_status, "canceled", "the deleted event was the newest");
        let invoices = invoice::Entity::find().filter(invoice::Column::WorkspaceId.eq(&ws.id)).all(&app.db).await.unwrap();
        let mut paid: Vec<(String, i64)> = invoices.iter().map(|i| (i.id.clone(), i.amount_paid)).collect();
        paid.sort();
        assert_eq!(paid, vec![("in_paid".to_owned(), 2000), ("in_succeeded".to_owned(), 2000)], "failed payments are not revenue");
    }

    async fn an_event_type_offstage_does_not_act_on_is_kept_and_marked_ignored(app: TestApp) {
        let id = unique_id("evt");
        let (status, _) = app.deliver(&event(&id, "customer.source.created", Utc::now().timestamp(), object("customer"))).await;
        assert_eq!(status, StatusCode::OK);
        app.drain_jobs_due().await;
        assert_eq!(app.stored_event(&id).await.unwrap().status, "ignored");
    }

    async fn ten_identical_deliveries_at_once_have_one_effect(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.drain_jobs_due().await;
        let mut paid = object("invoice");
        paid["customer"] = json!("cus_dupes");
        paid["subscription_details"] = json!({ "metadata": { "workspace_id": ws.id } });
        paid["id"] = json!("in_once");
        paid["amount_paid"] = json!(4900);
        let evt = event("evt_ten_times", "invoice.paid", Utc::now().timestamp(), paid);
        let deliveries = (0..10).map(|_| app.deliver(&evt));
        for (status, body) in futures::future::join_all(deliveries).await {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        app.drain_jobs_due().await;
        let stored = app.stored_event("evt_ten_times").await.unwrap();
        assert_eq!(stored.deliveries, 10);
        assert_eq!(stored.status, "processed");
        let processing = workflow_run::Entity::find().filter(workflow_run::Column::Workflow.eq("process_stripe_event")).count(&app.db).await.unwrap();
        assert_eq!(processing, 1, "one run for ten deliveries");
        assert_eq!(invoice::Entity::find().count(&app.db).await.unwrap(), 1);
    }

    async fn every_arrival_order_of_a_subscriptions_events_ends_in_the_newest_state(app: TestApp) {
        let base = Utc::now().timestamp() - 1000;
        let sequence = [
            ("customer.subscription.created", "trialing", false),
            ("customer.subscription.updated", "active", false),
            ("customer.subscription.updated", "past_due", true),
            ("customer.subscription.deleted", "canceled", false),
        ];
        let mut finals = std::collections::BTreeSet::new();
        for (p, order) in permutations(sequence.len()).into_iter().enumerate() {
            let ws = app.create_workspace(&format!("Order {p}"), &app.admin).await;
            let events: Vec<Value> = sequence
                .iter()
                .enumerate()
                .map(|(n, (event_type, status, cancel))| {
                    let mut sub = subscription(&ws, &format!("cus_order_{p}"), status);
                    sub["cancel_at_period_end"] = json!(cancel);
                    event(&unique_id("evt"), event_type, base + n as i64, sub)
                })
                .collect();
            for &n in &order {
                let body = serde_json::to_vec(&events[n]).unwrap();
                let envelope = Envelope::parse(&body).unwrap();
                let Received::New { .. } = inbox::receive(&app.db, &envelope, std::str::from_utf8(&body).unwrap()).await.unwrap() else {
                    panic!("a new event");
                };
                apply::apply(&app.db, &app.config.stripe, &envelope.id, None).await.unwrap();
            }
            let ws = app.workspace(&ws.id).await;
            finals.insert((ws.subscription_status.clone(), ws.cancel_at_period_end));
            assert_eq!(ws.subscription_status, "canceled", "order {order:?}");
            assert!(!ws.cancel_at_period_end, "order {order:?}");
        }
        assert_eq!(finals.len(), 1, "all 24 orders agree");
    }

    async fn an_unmatched_event_is_kept_and_applies_after_the_customer_is_linked_and_it_is_replayed(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let mut sub = subscription(&ws, "cus_later", "active");
        sub["metadata"] = json!({});
        let (status, _) = app.deliver(&event("evt_unmatched", "customer.subscription.updated", Utc::now().timestamp() - 60, sub)).await;
        assert_eq!(status, StatusCode::OK);
        app.drain_jobs_due().await;
        assert_eq!(app.stored_event("evt_unmatched").await.unwrap().status, "unmatched");
        assert_eq!(app.workspace(&ws.id).await.subscription_status, "none");

        let mut session = object("checkout.session");
        session["customer"] = json!("cus_later");
        session["metadata"] = json!({ "workspace_id": ws.id });
        let (status, _) = app.deliver(&event("evt_checkout", "checkout.session.completed", Utc::now().timestamp(), session)).await;
        assert_eq!(status, StatusCode::OK);
        app.drain_jobs_due().await;
        assert_eq!(app.workspace(&ws.id).await.stripe_customer_id.as_deref(), Some("cus_later"));

        let admin = app.sign_in(ADMIN_EMAIL).await;
        let response = admin.post_form("/admin/platform/stripe-events/replay", &[("status", "unmatched")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        app.drain_jobs_due().await;
        assert_eq!(app.stored_event("evt_unmatched").await.unwrap().status, "processed");
        assert_eq!(app.workspace(&ws.id).await.subscription_status, "active");
        let (_, html) = admin.get_html("/admin/platform/stripe-events/evt_unmatched").await;
        assert!(html.contains("processed") && html.contains("&#34;cus_later&#34;"), "the page shows status and payload");
    }

    async fn an_event_that_cannot_be_applied_is_marked_failed_with_the_reason_and_can_be_replayed(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let mut sub = subscription(&ws, "cus_odd", "active");
        sub["status"] = json!("something_new");
        let (status, _) = app.deliver(&event("evt_odd", "customer.subscription.updated", Utc::now().timestamp(), sub)).await;
        assert_eq!(status, StatusCode::OK, "a signed event is accepted whatever its object's shape");
        app.drain_jobs_due().await;
        let stored = app.stored_event("evt_odd").await.unwrap();
        assert_eq!(stored.status, "failed");
        assert!(stored.error.as_deref().unwrap_or_default().contains("something_new"), "{:?}", stored.error);
        assert_eq!(app.workspace(&ws.id).await.subscription_status, "none", "nothing was applied");
        assert_eq!(stored.workspace_id.as_deref(), Some(ws.id.as_str()), "it still shows on the workspace's billing timeline");
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (_, html) = admin.get_html("/admin/platform/stripe-events?status=failed").await;
        assert!(html.contains("evt_odd") && html.contains("Replay every failed event"), "{html}");
        let response = admin.post_form("/admin/platform/stripe-events/evt_odd/replay", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        app.drain_jobs_due().await;
        assert_eq!(app.stored_event("evt_odd").await.unwrap().status, "failed", "the same payload fails the same way");
        let runs = workflow_run::Entity::find().filter(workflow_run::Column::BusinessKey.eq("stripe:evt_odd")).count(&app.db).await.unwrap();
        assert_eq!(runs, 2, "the replay ran again");
    }

    async fn a_legacy_2017_subscription_with_a_top_level_plan_is_applied(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let sub = json!({
            "id": "sub_legacy", "object": "subscription", "customer": "cus_legacy", "status": "active",
            "plan": { "id": "price_team_monthly", "object": "plan", "amount": 9900, "currency": "usd", "interval": "month" },
            "current_period_end": (Utc::now() + Duration::days(30)).timestamp(), "cancel_at_period_end": false,
            "trial_end": null, "metadata": { "workspace_id": ws.id },
        });
        let mut evt = event("evt_legacy", "customer.subscription.created", Utc::now().timestamp(), sub);
        evt["api_version"] = json!("2017-08-15");
        app.deliver(&evt).await;
        app.drain_jobs_due().await;
        let ws = app.workspace(&ws.id).await;
        assert_eq!((ws.subscription_status.as_str(), ws.plan.as_str()), ("active", "team"));
    }

    async fn a_moved_trial_end_reschedules_the_reminder_three_days_before_it(app: TestApp) {
        use offstage::engine::runs::{self, RunFilter, RunStatus};
        let ws = app.create_workspace("Acme", &app.admin).await;
        let now = Utc::now().timestamp();
        let first_end = now + 10 * 86_400;
        let mut sub = subscription(&ws, "cus_trial", "trialing");
        sub["trial_end"] = json!(first_end);
        app.deliver(&event("evt_trial_1", "customer.subscription.created", now - 20, sub.clone())).await;
        app.drain_jobs_due().await;
        let filter = RunFilter { workflow: Some("send_trial_ending_email".into()), limit: 10, ..RunFilter::default() };
        let reminders = runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap();
        assert_eq!(reminders.len(), 1);
        assert_eq!(reminders[0].status, RunStatus::Scheduled);
        assert_eq!(reminders[0].scheduled_for.unwrap().timestamp(), first_end - 3 * 86_400);

        let second_end = now + 20 * 86_400;
        sub["trial_end"] = json!(second_end);
        app.deliver(&event("evt_trial_2", "customer.subscription.updated", now - 10, sub.clone())).await;
        app.drain_jobs_due().await;
        let mut reminders = runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap();
        reminders.sort_by_key(|r| r.created_at);
        let statuses: Vec<RunStatus> = reminders.iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![RunStatus::Cancelled, RunStatus::Scheduled], "the old reminder is cancelled, a new one scheduled");
        assert_eq!(reminders[1].scheduled_for.unwrap().timestamp(), second_end - 3 * 86_400);

        // Two days left: the reminder is due at once and records itself.
        sub["trial_end"] = json!(now + 2 * 86_400);
        app.deliver(&event("evt_trial_3", "customer.subscription.updated", now, sub)).await;
        app.drain_jobs_due().await;
        let reminders = runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap();
        assert_eq!(reminders.iter().filter(|r| r.status == RunStatus::Succeeded).count(), 1, "{reminders:?}");
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (_, html) = admin.get_html(&format!("/admin/workspaces/{}", ws.slug)).await;
        assert!(html.contains("reminder emailed to admin@example.com"), "the overview's activity shows the reminder");
    }

    async fn one_batch_with_a_repeated_event_records_it_once_and_counts_every_delivery(app: TestApp) {
        let first = serde_json::to_vec(&event("evt_batch_a", "customer.created", Utc::now().timestamp(), object("customer"))).unwrap();
        let second = serde_json::to_vec(&event("evt_batch_b", "customer.created", Utc::now().timestamp(), object("customer"))).unwrap();
        let (a, b) = (Envelope::parse(&first).unwrap(), Envelope::parse(&second).unwrap());
        let (raw_a, raw_b) = (std::str::from_utf8(&first).unwrap(), std::str::from_utf8(&second).unwrap());
        let received = inbox::receive_all(&app.db, &[(&a, raw_a), (&b, raw_b), (&a, raw_a)]).await.unwrap();
        assert!(matches!(received[0], Received::New { .. }) && matches!(received[1], Received::New { .. }), "{received:?}");
        assert_eq!(received[2], Received::Duplicate);
        // Each new event's answer names the run that processes that event.
        for (received, event_id) in received.iter().zip(["evt_batch_a", "evt_batch_b"]) {
            let Received::New { run_id } = received else { unreachable!() };
            let run = workflow_run::Entity::find_by_id(run_id.as_str()).one(&app.db).await.unwrap().unwrap();
            assert_eq!(run.business_key.as_deref(), Some(format!("stripe:{event_id}").as_str()));
        }
        let again = inbox::receive_all(&app.db, &[(&b, raw_b)]).await.unwrap();
        assert_eq!(again, vec![Received::Duplicate]);
        assert_eq!(app.stored_event("evt_batch_a").await.unwrap().deliveries, 2);
        assert_eq!(app.stored_event("evt_batch_b").await.unwrap().deliveries, 2);
        let runs = workflow_run::Entity::find().filter(workflow_run::Column::Workflow.eq("process_stripe_event")).count(&app.db).await.unwrap();
        assert_eq!(runs, 2, "one processing run per event");
    }
}

/// Every order of 0..n.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut order = rest.clone();
            order.insert(at, n - 1);
            all.push(order);
        }
    }
    all
}
