//! The signature of a Stripe delivery: what is refused (and stored nowhere), the previous
//! secret during a rotation, and no secret configured at all.

use chrono::Utc;
use offstage::db::entities::stripe_event;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use super::{event, object, sign};
use crate::helpers::{STRIPE_SECRET, STRIPE_SECRET_OLD, TestApp};
use crate::on_both_databases;

on_both_databases! {
    async fn bad_signatures_stale_or_future_timestamps_and_bad_bodies_get_400_and_store_nothing(app: TestApp) {
        let body = serde_json::to_vec(&event("evt_refused", "invoice.paid", Utc::now().timestamp(), object("invoice"))).unwrap();
        let now = Utc::now().timestamp();
        let cases = [
            (None, "missing"),
            (Some(sign("whsec_someone_else", now, &body)), "no signature matches"),
            (Some(sign(STRIPE_SECRET, now - 301, &body)), "older than 300 seconds"),
            (Some(sign(STRIPE_SECRET, now + 400, &body)), "in the future"),
            (Some("t=abc".to_owned()), "malformed"),
        ];
        for (signature, reason) in cases {
            let (status, text) = app.post_stripe(&body, signature).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}");
            assert!(text.contains(reason), "{reason} in {text}");
        }
        let unparsable: [(&[u8], &str); 2] = [(b"{\"id\": \"evt_x\"}", "no type"), (b"not json at all", "body is not JSON")];
        for (bad, reason) in unparsable {
            let (status, text) = app.post_stripe(bad, Some(sign(STRIPE_SECRET, now, bad))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}");
            assert!(text.contains(reason), "{reason} in {text}");
        }
        assert_eq!(stripe_event::Entity::find().count(&app.db).await.unwrap(), 0, "nothing stored");
        let huge = vec![b' '; 1024 * 1024 + 1];
        let (status, _) = app.post_stripe(&huge, Some(sign(STRIPE_SECRET, now, &huge))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    async fn a_forged_signature_of_25_000_empty_v1_values_on_a_1_mb_body_is_refused_at_once(app: TestApp) {
        let body = vec![b' '; 1_000_000];
        let now = Utc::now().timestamp();
        let started = std::time::Instant::now();
        let flood = format!("t={now}{}", ",v1=".repeat(25_000));
        let (status, text) = app.post_stripe(&body, Some(flood)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("longer than 4096 bytes"), "{text}");
        let many = format!("t={now}{}", format!(",v1={}", "a".repeat(64)).repeat(9));
        let (status, text) = app.post_stripe(&body, Some(many)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("more than 8 v1 signatures"), "{text}");
        let eight = format!("t={now}{}", format!(",v1={}", "a".repeat(64)).repeat(8));
        let (status, text) = app.post_stripe(&body, Some(eight)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("no signature matches"), "eight well-formed guesses, two HMACs of the body: {text}");
        // Each refusal costs a few HMACs of the body at most; 25,000 took 12.5 s of CPU in release.
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused in {:?}", started.elapsed());
        assert_eq!(stripe_event::Entity::find().count(&app.db).await.unwrap(), 0, "nothing stored");
    }

    async fn an_event_signed_with_the_previous_secret_is_accepted_during_a_rotation(app: TestApp) {
        let body = serde_json::to_vec(&event("evt_rotated", "customer.created", Utc::now().timestamp(), object("customer"))).unwrap();
        let (status, text) = app.post_stripe(&body, Some(sign(STRIPE_SECRET_OLD, Utc::now().timestamp(), &body))).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(app.stored_event("evt_rotated").await.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_secret_deliveries_get_503_so_stripe_retries_them_later() {
    let app =
        TestApp::spawn_with(crate::helpers::Backend::Sqlite, |config| config.stripe.webhook_secrets.clear()).await;
    let (status, text) =
        app.deliver(&event("evt_early", "customer.created", Utc::now().timestamp(), object("customer"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("OFFSTAGE_STRIPE_WEBHOOK_SECRET"), "{text}");
    assert!(app.stored_event("evt_early").await.is_none());
}
