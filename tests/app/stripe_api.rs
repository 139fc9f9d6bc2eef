//! Offstage calling Stripe: against localstripe (a fake Stripe that sends signed webhooks) for
//! the customer, a subscription made there and its webhooks; against a recording stand-in for
//! Checkout and the billing portal, which localstripe does not have; and the page without a key.

use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::{ADMIN_EMAIL, Backend, STRIPE_SECRET, TestApp, location};
use actix_web::{App, HttpResponse, HttpServer, web};
use offstage::config::Secret;
use offstage::db::entities::workspace;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

/// CI sets OFFSTAGE_TEST_LOCALSTRIPE=1 after `pip install localstripe`.
fn localstripe_configured() -> bool {
    std::env::var("OFFSTAGE_TEST_LOCALSTRIPE").is_ok_and(|v| v == "1")
}

/// localstripe on a free port of 127.0.0.1, stopped (by its PID) when dropped.
struct LocalStripe {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl LocalStripe {
    async fn start() -> LocalStripe {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/run_localstripe.py");
        let child =
            Command::new("python3").arg(script).arg(port.to_string()).spawn().expect("python3 runs localstripe");
        let ls = LocalStripe { child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() };
        for _ in 0..100 {
            if ls
                .http
                .get(format!("{}/v1/plans", ls.base))
                .basic_auth("sk_test_offstage", Some(""))
                .send()
                .await
                .is_ok()
            {
                return ls;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("localstripe did not start on port {port}");
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth("sk_test_offstage", Some(""))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "localstripe {path}: {status} {body}");
        body
    }

    async fn delete(&self, path: &str) -> Value {
        let response = self
            .http
            .delete(format!("{}{path}", self.base))
            .basic_auth("sk_test_offstage", Some(""))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth("sk_test_offstage", Some(""))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn until_workspace(
    app: &TestApp,
    id: &str,
    what: &str,
    done: impl Fn(&workspace::Model) -> bool,
) -> workspace::Model {
    for _ in 0..200 {
        let ws = workspace::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
        if done(&ws) {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the workspace never reached: {what}");
}

async fn subscription_made_at_localstripe_reaches_the_workspace_through_signed_webhooks(backend: Backend) {
    if !localstripe_configured() {
        eprintln!("OFFSTAGE_TEST_LOCALSTRIPE is not set: the localstripe test does not run here");
        return;
    }
    let stripe = LocalStripe::start().await;
    let base = stripe.base.clone();
    let app = TestApp::spawn_with(backend, |config| {
        config.stripe.secret_key = Some(Secret::new("sk_test_offstage"));
        config.stripe.api_base = Some(base);
    })
    .await;
    stripe
        .post("/_config/webhooks/offstage", &[("url", &app.url("/webhooks/stripe")), ("secret", STRIPE_SECRET)])
        .await;
    let ws = app.create_workspace("Acme", &app.admin).await;

    let admin = app.sign_in(ADMIN_EMAIL).await;
    let response = admin.post_form(&format!("/admin/workspaces/{}/billing/customer", ws.slug), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let linked = workspace::Entity::find_by_id(&ws.id).one(&app.db).await.unwrap().unwrap();
    let customer = linked.stripe_customer_id.clone().expect("Offstage created and linked the customer");
    let at_stripe = stripe.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(at_stripe["metadata"]["workspace_id"], ws.id.as_str(), "{at_stripe}");
    assert_eq!(at_stripe["email"], ADMIN_EMAIL);

    stripe
        .post(
            "/v1/plans",
            &[
                ("id", "price_pro_monthly"),
                ("amount", "2000"),
                ("currency", "usd"),
                ("interval", "month"),
                ("product[name]", "Pro"),
            ],
        )
        .await;
    let token = stripe
        .post(
            "/v1/tokens",
            &[
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    stripe.post(&format!("/v1/customers/{customer}/sources"), &[("source", token["id"].as_str().unwrap())]).await;
    let sub = stripe
        .post(
            "/v1/subscriptions",
            &[("customer", &customer), ("items[0][plan]", "price_pro_monthly"), ("metadata[workspace_id]", &ws.id)],
        )
        .await;
    let active = until_workspace(&app, &ws.id, "active on pro", |w| w.subscription_status == "active").await;
    assert_eq!(active.plan, "pro");
    assert_eq!(active.stripe_subscription_id.as_deref(), sub["id"].as_str());
    assert!(active.current_period_end.is_some());

    stripe.delete(&format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap())).await;
    until_workspace(&app, &ws.id, "canceled", |w| w.subscription_status == "canceled").await;
    let (_, html) = admin.get_html(&format!("/admin/workspaces/{}/billing", ws.slug)).await;
    assert!(html.contains("customer.subscription.deleted") && html.contains("Canceled"), "the billing page shows it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_at_localstripe_reaches_the_workspace_through_signed_webhooks_on_sqlite() {
    subscription_made_at_localstripe_reaches_the_workspace_through_signed_webhooks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_at_localstripe_reaches_the_workspace_through_signed_webhooks_on_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    subscription_made_at_localstripe_reaches_the_workspace_through_signed_webhooks(Backend::Postgres).await;
}

/// Every request the stand-in received: (method, path, body).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// `current_period_end` of the stand-in's subscription `sub_latest`.
const LATEST_PERIOD_END: i64 = 1_900_000_000;

/// `sub_latest` as the stand-in's API returns it now: active on team, no trial, cancelling.
fn latest_subscription() -> Value {
    let mut sub = crate::stripe_webhooks::object("subscription");
    sub["id"] = json!("sub_latest");
    sub["customer"] = json!("cus_latest");
    sub["status"] = json!("active");
    sub["trial_end"] = Value::Null;
    sub["current_period_end"] = json!(LATEST_PERIOD_END);
    sub["items"]["data"][0]["price"]["id"] = json!("price_team_monthly");
    sub["cancel_at_period_end"] = json!(true);
    sub
}

/// Stands in for Stripe's Checkout and billing portal endpoints (localstripe has neither) and
/// for reading subscription `sub_latest`: records each request it receives and answers with the
/// fields Offstage reads.
async fn recording_stripe() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let recorded = seen.clone();
    let server = HttpServer::new(move || {
        let seen = recorded.clone();
        App::new().default_service(web::to(move |request: actix_web::HttpRequest, body: String| {
            let seen = seen.clone();
            async move {
                let (method, path) = (request.method().as_str().to_owned(), request.path().to_owned());
                seen.lock().unwrap().push((method.clone(), path.clone(), body));
                let answer = match (method.as_str(), path.as_str()) {
                    ("GET", "/v1/subscriptions/sub_latest") => latest_subscription(),
                    (_, "/v1/customers") => serde_json::json!({ "id": "cus_recorded", "object": "customer" }),
                    (_, "/v1/checkout/sessions") => {
                        serde_json::json!({ "id": "cs_test_1", "url": "https://checkout.stripe.test/c/pay/cs_test_1" })
                    }
                    (_, "/v1/billing_portal/sessions") => {
                        serde_json::json!({ "id": "bps_1", "url": "https://billing.stripe.test/p/session/bps_1" })
                    }
                    _ => {
                        return HttpResponse::NotFound()
                            .json(serde_json::json!({ "error": { "message": "no such endpoint" } }));
                    }
                };
                HttpResponse::Ok().json(answer)
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let address = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{address}"), seen)
}

/// An app (SQLite) whose Stripe API is the recording stand-in.
async fn app_with_recording_stripe() -> (TestApp, Seen) {
    let (base, seen) = recording_stripe().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.stripe.secret_key = Some(Secret::new("sk_test_offstage"));
        config.stripe.api_base = Some(base);
    })
    .await;
    (app, seen)
}

fn form_of(seen: &Seen, path: &str) -> Vec<(String, String)> {
    let body = seen.lock().unwrap().iter().find(|(_, p, _)| p == path).map(|(_, _, b)| b.clone()).unwrap_or_default();
    serde_urlencoded::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_sends_the_owner_to_a_checkout_session_for_the_chosen_plan_and_manage_billing_to_the_portal() {
    let (app, seen) = app_with_recording_stripe().await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let (_, html) = admin.get_html(&format!("/admin/workspaces/{}/billing", ws.slug)).await;
    assert!(html.contains("Upgrade to pro") && html.contains("Upgrade to team"), "one button per configured plan");

    let response = admin
        .post_form(&format!("/admin/workspaces/{}/billing/upgrade", ws.slug), &[("price", "price_pro_monthly")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "https://checkout.stripe.test/c/pay/cs_test_1");
    let checkout = form_of(&seen, "/v1/checkout/sessions");
    let has = |k: &str, v: &str| checkout.iter().any(|(key, value)| key == k && value == v);
    assert!(has("mode", "subscription"), "{checkout:?}");
    assert!(has("customer", "cus_recorded"));
    assert!(has("line_items[0][price]", "price_pro_monthly"));
    assert!(has("client_reference_id", &ws.id));
    assert!(has("subscription_data[metadata][workspace_id]", &ws.id), "the subscription carries the workspace id");
    let linked = workspace::Entity::find_by_id(&ws.id).one(&app.db).await.unwrap().unwrap();
    assert_eq!(linked.stripe_customer_id.as_deref(), Some("cus_recorded"));

    let response = admin.post_form(&format!("/admin/workspaces/{}/billing/portal", ws.slug), &[]).await;
    assert_eq!(location(&response), "https://billing.stripe.test/p/session/bps_1");
    let portal = form_of(&seen, "/v1/billing_portal/sessions");
    assert!(portal.iter().any(|(k, v)| k == "customer" && v == "cus_recorded"), "{portal:?}");
    let customers = seen.lock().unwrap().iter().filter(|(_, p, _)| p == "/v1/customers").count();
    assert_eq!(customers, 1, "the customer is created once");

    let response =
        admin.post_form(&format!("/admin/workspaces/{}/billing/upgrade", ws.slug), &[("price", "price_unknown")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "only configured prices");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_billing_action_is_404_before_stripe_is_called() {
    let (app, seen) = app_with_recording_stripe().await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    for action in ["frobnicate", "customers", "Upgrade"] {
        let response = admin.post_form(&format!("/admin/workspaces/{}/billing/{action}", ws.slug), &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    assert!(seen.lock().unwrap().is_empty(), "Stripe was not called: {:?}", seen.lock().unwrap());
    let untouched = workspace::Entity::find_by_id(&ws.id).one(&app.db).await.unwrap().unwrap();
    assert_eq!(untouched.stripe_customer_id, None, "no customer was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_stripe_key_a_subscription_event_applies_the_subscription_as_the_api_returns_it() {
    let (app, seen) = app_with_recording_stripe().await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    // The event's copy is older: trialing on pro, another period end, not cancelling.
    let mut outdated = crate::stripe_webhooks::subscription(&ws, "cus_latest", "trialing");
    outdated["id"] = json!("sub_latest");
    outdated["current_period_end"] = json!(LATEST_PERIOD_END - 30 * 86_400);
    let created = chrono::Utc::now().timestamp();
    let evt = crate::stripe_webhooks::event("evt_latest", "customer.subscription.updated", created, outdated);
    let (status, body) = app.deliver(&evt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.drain_jobs_due().await;

    let stored = app.stored_event("evt_latest").await.unwrap();
    assert_eq!(stored.status, "processed", "{:?}", stored.error);
    let ws = app.workspace(&ws.id).await;
    assert_eq!(ws.subscription_status, "active");
    assert_eq!(ws.plan, "team", "price_team_monthly maps to team in the test config");
    assert_eq!(ws.trial_ends_at, None);
    assert_eq!(ws.current_period_end.map(|t| t.timestamp()), Some(LATEST_PERIOD_END));
    assert!(ws.cancel_at_period_end);
    assert_eq!(ws.stripe_subscription_id.as_deref(), Some("sub_latest"));
    assert_eq!(ws.stripe_customer_id.as_deref(), Some("cus_latest"));
    assert_eq!(ws.billing_event_key, Some(format!("{created:012}:1:evt_latest")), "the event's time still orders it");
    let reads =
        seen.lock().unwrap().iter().filter(|(m, p, _)| m == "GET" && p == "/v1/subscriptions/sub_latest").count();
    assert!(reads >= 1, "Offstage read the subscription from the API: {:?}", seen.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_stripe_key_the_billing_page_says_how_to_enable_its_actions_and_they_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    let (status, html) = admin.get_html(&format!("/admin/workspaces/{}/billing", ws.slug)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("OFFSTAGE_STRIPE_SECRET_KEY") && !html.contains("Upgrade to"),
        "no buttons, and the way to enable them"
    );
    let response = admin
        .post_form(&format!("/admin/workspaces/{}/billing/upgrade", ws.slug), &[("price", "price_pro_monthly")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
