//! Sign-up: closed by default (invitations and operators make accounts); when open, anyone signs
//! up, confirms the email, and only then creates a first workspace, which starts its trial. The
//! answer does not tell whether an address has an account, and sign-ups are limited.

use crate::helpers::*;
use offstage::accounts;
use offstage::config::Signup;
use offstage::db::entities::{user, workspace};
use offstage::domain::Email;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

async fn open_sign_up() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |config| {
        config.signup = Signup::Open;
        config.trial_days = Some(14);
    })
    .await
}

async fn sign_up(visitor: &Visitor, email: &str, password: &str) -> reqwest::Response {
    visitor.post_form("/signup", &[("email", email), ("password", password), ("password_confirmation", password)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_there_is_no_sign_up() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let visitor = app.visitor().await;
    assert_eq!(visitor.get_html("/signup").await.0, StatusCode::NOT_FOUND);
    assert_eq!(sign_up(&visitor, "new@example.com", "long enough 1").await.status(), StatusCode::NOT_FOUND);
    assert!(!visitor.get_html("/login").await.1.contains("/signup"));
    assert!(accounts::find_by_email(&app.db, &Email::parse("new@example.com").unwrap()).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_sign_up_confirms_the_email_before_the_first_workspace_which_starts_its_trial() {
    let app = open_sign_up().await;
    let visitor = app.visitor().await;
    assert!(visitor.get_html("/login").await.1.contains("Create an account"));
    let answered = sign_up(&visitor, "new@example.com", PASSWORD).await;
    assert_eq!(answered.status(), StatusCode::OK);
    assert!(answered.text().await.unwrap().contains("Check your email"));
    let created =
        user::Entity::find().filter(user::Column::Email.eq("new@example.com")).one(&app.db).await.unwrap().unwrap();
    assert!(!created.email_verified());
    let person = app.sign_in("new@example.com").await;
    let early = person.post_form("/admin/workspaces", &[("name", "Newco"), ("timezone", "UTC")]).await;
    assert_eq!(early.status(), StatusCode::UNPROCESSABLE_ENTITY, "not before the email is confirmed");
    let secret = app.secret_in_email("verify_email", "new@example.com", "/email/verify/").await;
    person.get(&format!("/email/verify/{secret}")).await;
    let made = person.post_form("/admin/workspaces", &[("name", "Newco"), ("timezone", "UTC")]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let ws = workspace::Entity::find().filter(workspace::Column::Name.eq("Newco")).one(&app.db).await.unwrap().unwrap();
    assert_eq!(ws.subscription_status, "trialing");
    assert!(ws.trial_ends_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_up_with_an_address_that_has_an_account_answers_the_same_and_tells_that_address() {
    let app = open_sign_up().await;
    let visitor = app.visitor().await;
    let new = sign_up(&visitor, "new@example.com", "long enough 1").await.text().await.unwrap();
    let taken = sign_up(&visitor, ADMIN_EMAIL, "long enough 1").await.text().await.unwrap();
    let answer = |page: &str, email: &str| {
        let start = page.find("Check your email").unwrap();
        page[start..start + page[start..].find('<').unwrap()].replace(email, "EMAIL")
    };
    assert_eq!(answer(&new, "new@example.com"), answer(&taken, ADMIN_EMAIL));
    assert_eq!(app.emails_to("account_exists", ADMIN_EMAIL).await, 1);
    let owner = app.visitor().await;
    assert_eq!(
        owner.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await.status(),
        StatusCode::SEE_OTHER,
        "the account is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_are_limited_per_client_address() {
    let app = open_sign_up().await;
    let visitor = app.visitor().await;
    for i in 0..5 {
        assert_eq!(
            sign_up(&visitor, &format!("person{i}@example.com"), "long enough 1").await.status(),
            StatusCode::OK
        );
    }
    let sixth = sign_up(&visitor, "person5@example.com", "long enough 1").await;
    assert_eq!(sixth.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(accounts::find_by_email(&app.db, &Email::parse("person5@example.com").unwrap()).await.unwrap().is_none());
}
