//! The sign-in throttle as an attacker meets it: the address is the peer's unless a trusted
//! proxy says otherwise, guesses are counted before their password is checked, failures from one
//! address don't lock the owner out from another, many machines guessing one account slow down
//! unknown browsers but not the owner's, and a flood of sign-ins does not stall other requests.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::helpers::*;
use offstage::accounts::throttle::{MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_EMAIL_AND_ADDRESS};
use offstage::db::entities::session;
use reqwest::StatusCode;
use sea_orm::EntityTrait;

fn address(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// An app that believes `X-Forwarded-For` from 127.0.0.1 (a proxy on the same machine).
async fn behind_a_proxy() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |config| {
        config.trusted_proxies = offstage::config::parse_trusted_proxies("127.0.0.1").unwrap();
    })
    .await
}

async fn sign_in_as(visitor: &Visitor, email: &str, password: &str, forwarded_for: &str) -> reqwest::Response {
    visitor
        .post_form_with("/login", ("X-Forwarded-For", forwarded_for), &[("email", email), ("password", password)])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_x_forwarded_for_does_not_escape_the_per_address_limit() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let attacker = app.visitor().await;
    for i in 0..MAX_FAILURES_PER_ADDRESS {
        let email = format!("guess{i}@example.com");
        let response = sign_in_as(&attacker, &email, "guess", &format!("203.0.113.{i}")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let next = sign_in_as(&attacker, ADMIN_EMAIL, PASSWORD, "198.51.100.1").await;
    assert_eq!(next.status(), StatusCode::TOO_MANY_REQUESTS, "a made-up address is not a new address");
    assert!(next.text().await.unwrap().contains("from your address"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_parallel_wrong_passwords_for_one_email_are_counted_before_any_is_checked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let attacker = app.visitor().await;
    let guesses = (0..40).map(|i| {
        let attacker = &attacker;
        async move {
            let password = format!("guess number {i}");
            attacker.post_form("/login", &[("email", ADMIN_EMAIL), ("password", password.as_str())]).await
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status() == StatusCode::UNAUTHORIZED).count();
    let refused: Vec<_> = answers.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(checked as u64 <= MAX_FAILURES_PER_EMAIL_AND_ADDRESS, "{checked} passwords were checked");
    assert_eq!(checked + refused.len(), 40);
    assert!(refused.iter().all(|r| r.headers().contains_key("retry-after")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_one_address_do_not_lock_the_owner_out_from_another() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let attacker = app.visitor_from(address("127.0.0.2")).await;
    for _ in 0..MAX_FAILURES_PER_EMAIL_AND_ADDRESS {
        let response = attacker.post_form("/login", &[("email", ADMIN_EMAIL), ("password", "guess")]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = attacker.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "the guessing address is stopped");
    let owner = app.visitor_from(address("127.0.0.1")).await;
    let response = owner.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the owner, elsewhere, still signs in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_is_known_by_its_own_address() {
    let app = behind_a_proxy().await;
    let proxy = app.visitor().await;
    for _ in 0..MAX_FAILURES_PER_EMAIL_AND_ADDRESS {
        let response = sign_in_as(&proxy, ADMIN_EMAIL, "guess", "203.0.113.7").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let again = sign_in_as(&proxy, ADMIN_EMAIL, PASSWORD, "203.0.113.7").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    let prepended = sign_in_as(&proxy, ADMIN_EMAIL, PASSWORD, "1.2.3.4, 203.0.113.7").await;
    assert_eq!(
        prepended.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "what the client wrote before the proxy's hop is ignored"
    );
    let owner = app.visitor().await;
    let response = sign_in_as(&owner, ADMIN_EMAIL, PASSWORD, "198.51.100.20").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let sessions = session::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].ip, "198.51.100.20", "the session shows the client's address, not the proxy's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_machines_guessing_one_account_slow_down_unknown_browsers_but_not_the_owners_own() {
    let app = behind_a_proxy().await;
    let owners_browser = app.visitor().await;
    assert_eq!(
        sign_in_as(&owners_browser, ADMIN_EMAIL, PASSWORD, "198.51.100.1").await.status(),
        StatusCode::SEE_OTHER
    );
    let out = owners_browser.post_form("/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let owners_browser = owners_browser.reloaded().await;
    let botnet = app.visitor().await;
    for i in 0..offstage::accounts::throttle::FAILURES_BEFORE_SLOWING {
        let response = sign_in_as(&botnet, ADMIN_EMAIL, "guess", &format!("203.0.113.{i}")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "machine {i}");
    }
    let another_machine = sign_in_as(&botnet, ADMIN_EMAIL, "guess", "203.0.113.200").await;
    assert_eq!(another_machine.status(), StatusCode::TOO_MANY_REQUESTS, "unknown browsers are slowed down");
    assert!(another_machine.text().await.unwrap().contains("many failed sign-ins"));
    let started = Instant::now();
    let owner = sign_in_as(&owners_browser, ADMIN_EMAIL, PASSWORD, "198.51.100.1").await;
    assert_eq!(owner.status(), StatusCode::SEE_OTHER, "the browser the owner signed in with before is not");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_does_not_stall_other_requests() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let attacker = app.visitor().await;
    let flood = async {
        let started = Instant::now();
        let guesses = (0..28).map(|i| {
            let attacker = &attacker;
            async move {
                let email = format!("nobody{i}@example.com");
                attacker.post_form("/login", &[("email", email.as_str()), ("password", "guess")]).await.status()
            }
        });
        let statuses = futures::future::join_all(guesses).await;
        assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
        started.elapsed()
    };
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let client = app.anonymous();
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let started = Instant::now();
            assert_eq!(client.get(app.url("/static/app.css")).send().await.unwrap().status(), StatusCode::OK);
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        slowest
    };
    let (flood_took, slowest) = tokio::join!(flood, meanwhile);
    assert!(flood_took > Duration::from_millis(500), "the flood lasted long enough to matter: {flood_took:?}");
    assert!(slowest < Duration::from_millis(300), "a page took {slowest:?} during a {flood_took:?} flood of sign-ins");
}
