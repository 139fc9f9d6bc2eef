//! Two-factor sign-in (TOTP): enrolling with a QR code and a confirming code, ten recovery
//! codes shown once, the code asked after the password (each code good once, wrong ones
//! limited), recovery codes single use, turning it off with a code, and the operator's
//! requirement for platform admins or everyone. Codes are computed here from the secret the
//! page shows, as an authenticator app would.

use crate::helpers::*;
use chrono::Utc;
use offstage::config::RequireTwoFactor;
use reqwest::StatusCode;
use totp_rs::{Algorithm, Secret, TOTP};

/// The code an authenticator app shows for `secret`, `steps_ahead` 30-second steps from now.
pub(crate) fn code(secret: &str, steps_ahead: i64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, Some("Offstage".into()), "x".into()).unwrap();
    totp.generate(u64::try_from(Utc::now().timestamp() + steps_ahead * 30).unwrap())
}

/// Turns two-factor sign-in on for the signed-in `visitor`; returns the secret and the recovery codes.
pub(crate) async fn enrol(visitor: &Visitor) -> (String, Vec<String>) {
    let (status, page) = visitor.get_html("/admin/account/two-factor").await;
    assert_eq!(status, StatusCode::OK);
    let start = page.find("id=\"totp-secret\">").expect("the secret is shown") + "id=\"totp-secret\">".len();
    let secret = page[start..start + page[start..].find('<').unwrap()].to_owned();
    let done = visitor.post_form("/admin/account/two-factor", &[("code", &code(&secret, 0))]).await;
    assert_eq!(done.status(), StatusCode::OK);
    let html = done.text().await.unwrap();
    let start = html.find("id=\"recovery-codes\">").expect("recovery codes shown") + "id=\"recovery-codes\">".len();
    let codes = html[start..start + html[start..].find('<').unwrap()].split_whitespace().map(str::to_owned).collect();
    (secret, codes)
}

/// Passes the password step as `email`; the browser then waits for the code.
async fn password_step(app: &TestApp, email: &str) -> Visitor {
    let visitor = app.visitor().await;
    let response =
        visitor.post_form("/login", &[("email", email), ("password", PASSWORD), ("next", "/admin/account")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login/two-factor");
    visitor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_shows_a_qr_code_and_turns_on_only_with_a_right_code() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let visitor = app.sign_in(ADMIN_EMAIL).await;
    let (_, page) = visitor.get_html("/admin/account/two-factor").await;
    assert!(page.contains("<svg") && page.contains("Turn on two-factor sign-in"), "a QR code, drawn here");
    let wrong = visitor.post_form("/admin/account/two-factor", &[("code", "000000")]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (again, page_again) = visitor.get_html("/admin/account/two-factor").await;
    assert_eq!(again, StatusCode::OK);
    assert!(page_again.contains("Turn on two-factor sign-in"), "still off");
    let (_, codes) = enrol(&visitor).await;
    assert_eq!(codes.len(), 10);
    let (_, account) = visitor.get_html("/admin/account").await;
    assert!(account.contains("Signing in asks for a code"));
    let (_, manage) = visitor.get_html("/admin/account/two-factor").await;
    assert!(manage.contains("10 recovery codes left") && !manage.contains(&codes[0]), "shown once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_asks_for_the_code_after_the_password_and_each_code_works_once() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (secret, _) = enrol(&app.sign_in(ADMIN_EMAIL).await).await;
    let visitor = password_step(&app, ADMIN_EMAIL).await;
    assert_eq!(visitor.get_html("/admin/account").await.0, StatusCode::SEE_OTHER, "not signed in yet");
    let wrong = visitor.post_form("/login/two-factor", &[("code", "123456")]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // The enrolment used this step's code; the app's next one is accepted (one step of drift).
    let next = code(&secret, 1);
    let right = visitor.post_form("/login/two-factor", &[("code", &next)]).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/admin/account");
    assert_eq!(visitor.get_html("/admin/account").await.0, StatusCode::OK);
    let replayer = password_step(&app, ADMIN_EMAIL).await;
    let replayed = replayer.post_form("/login/two-factor", &[("code", &next)]).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED, "a code seen once is no good again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_signs_in_once() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, codes) = enrol(&app.sign_in(ADMIN_EMAIL).await).await;
    let first = password_step(&app, ADMIN_EMAIL).await;
    assert_eq!(first.post_form("/login/two-factor", &[("code", &codes[3])]).await.status(), StatusCode::SEE_OTHER);
    let second = password_step(&app, ADMIN_EMAIL).await;
    assert_eq!(second.post_form("/login/two-factor", &[("code", &codes[3])]).await.status(), StatusCode::UNAUTHORIZED);
    let (_, manage) = first.get_html("/admin/account/two-factor").await;
    assert!(manage.contains("9 recovery codes left"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_are_limited_per_account() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (secret, _) = enrol(&app.sign_in(ADMIN_EMAIL).await).await;
    let guesser = password_step(&app, ADMIN_EMAIL).await;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        assert_eq!(guesser.post_form("/login/two-factor", &[("code", guess)]).await.status(), StatusCode::UNAUTHORIZED);
    }
    let stopped = guesser.post_form("/login/two-factor", &[("code", &code(&secret, 1))]).await;
    assert_eq!(stopped.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(stopped.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_two_factor_off_needs_a_code() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let visitor = app.sign_in(ADMIN_EMAIL).await;
    let (secret, _) = enrol(&visitor).await;
    let refused = visitor.post_form("/admin/account/two-factor/disable", &[("code", "000000")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let off = visitor.post_form("/admin/account/two-factor/disable", &[("code", &code(&secret, 1))]).await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    let fresh = app.visitor().await;
    let response = fresh.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(location(&response), "/admin", "the password alone again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_required_a_platform_admin_enrols_before_using_any_page_but_their_account() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |config| config.require_two_factor = RequireTwoFactor::PlatformAdmins)
            .await;
    let member = app.create_user("ada@example.com").await;
    app.create_workspace("Acme", &member).await;
    let admin = app.sign_in(ADMIN_EMAIL).await;
    for path in ["/admin/platform/queue", "/admin/platform/users", "/admin/workspaces"] {
        let response = admin.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/admin/account/two-factor?required=1", "{path}");
    }
    let (status, setup) = admin.get_html("/admin/account/two-factor?required=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(setup.contains("requires two-factor sign-in"));
    let (secret, _) = enrol(&admin).await;
    assert_eq!(admin.get_html("/admin/platform/queue").await.0, StatusCode::OK);
    let refused = admin.post_form("/admin/account/two-factor/disable", &[("code", &code(&secret, 1))]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "it cannot be turned off while required");
    let ada = app.sign_in(&member.email).await;
    assert_eq!(ada.get_html("/admin/workspaces").await.0, StatusCode::OK, "other accounts are not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_required_of_all_every_account_enrols_first() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| config.require_two_factor = RequireTwoFactor::All).await;
    let member = app.create_user("ada@example.com").await;
    let ada = app.sign_in(&member.email).await;
    assert_eq!(location(&ada.get("/admin/workspaces").await), "/admin/account/two-factor?required=1");
    enrol(&ada).await;
    assert_eq!(ada.get_html("/admin/workspaces").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_never_skips_the_second_factor() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    enrol(&app.sign_in(ADMIN_EMAIL).await).await;
    let visitor = app.visitor().await;
    visitor.post_form("/password/forgot", &[("email", ADMIN_EMAIL)]).await;
    let secret = app.secret_in_email("password_reset", ADMIN_EMAIL, "/password/reset/").await;
    let reset = visitor
        .post_form(
            &format!("/password/reset/{secret}"),
            &[("password", "a new password"), ("password_confirmation", "a new password")],
        )
        .await;
    assert_eq!(location(&reset), "/login");
    let signing_in = visitor.post_form("/login", &[("email", ADMIN_EMAIL), ("password", "a new password")]).await;
    assert_eq!(location(&signing_in), "/login/two-factor", "the code is still asked");
}
