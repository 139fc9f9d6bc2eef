//! Shared test helpers: spawning the app, fixtures, a cookie-keeping client with the CSRF token.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use offstage::config::{Config, Secret, StripeSettings};
use offstage::db::entities::{user, workspace};
use offstage::domain::{Email, Password, Timezone, WorkspaceName};
use offstage::startup::{Application, Mode};
use offstage::{accounts, workspaces};
use reqwest::StatusCode;
use sea_orm::DatabaseConnection;

pub mod pg;
pub mod process;
pub mod scale;
mod visitor;

pub use visitor::{Visitor, csrf_token_in, location};
use visitor::{client, client_with};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery";
/// The Stripe webhook secret tests sign with; the old one is still accepted (a rotation).
pub const STRIPE_SECRET: &str = "whsec_test_current";
pub const STRIPE_SECRET_OLD: &str = "whsec_test_previous";

/// Declares each test twice: on SQLite (always) and on PostgreSQL (when
/// OFFSTAGE_TEST_POSTGRES_URL is set; CI sets it, so there the PostgreSQL half always runs).
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !$crate::helpers::postgres_configured() {
                        return;
                    }
                    let $app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                    $body
                }
            )*
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether the PostgreSQL tests run; when they don't, says so in the test's output.
pub fn postgres_configured() -> bool {
    let configured = std::env::var("OFFSTAGE_TEST_POSTGRES_URL").is_ok_and(|v| !v.trim().is_empty());
    if !configured {
        eprintln!("OFFSTAGE_TEST_POSTGRES_URL is not set: the PostgreSQL part of this test does not run here");
    }
    configured
}

/// The `n` column of the one row `sql` reads (`SELECT COUNT(*) AS n …`).
pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub database_url: String,
    pub config: Config,
    pub admin: user::Model,
    /// The workflows the app runs (`offstage::registry`).
    pub workflows: offstage::engine::Registry,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
}

impl TestApp {
    /// apalis's job table on this app's database (`apalis.jobs` or SQLite's `Jobs`).
    pub fn jobs_table(&self) -> &'static str {
        if self.db.get_database_backend() == sea_orm::DbBackend::Postgres { "apalis.jobs" } else { "Jobs" }
    }

    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// Spawns with a setting changed from the test defaults.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::spawn_mode(backend, Mode::Serve, adjust).await
    }

    /// Spawns only the web half (`offstage web`): runs wait for separate worker processes.
    pub async fn spawn_web_only(backend: Backend) -> TestApp {
        TestApp::spawn_mode(backend, Mode::Web, |_| {}).await
    }

    /// `spawn_web_only` with a setting changed.
    pub async fn spawn_web_only_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::spawn_mode(backend, Mode::Web, adjust).await
    }

    async fn spawn_mode(backend: Backend, mode: Mode, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("offstage.db").display()), None),
            Backend::Postgres => {
                let (url, name) = super::helpers::pg::fresh_database().await;
                (url, Some(name))
            }
        };
        let mut config = test_config(&database_url, dir.path());
        adjust(&mut config);
        let app = Application::build(config.clone(), mode).await.expect("app builds");
        let port = app.port().expect("web port");
        let db = app.state().db.clone();
        let workflows = app.state().workflows.clone();
        tokio::spawn(app.run_until_stopped());
        let admin = accounts::find_by_email(&db, &Email::parse(ADMIN_EMAIL).unwrap()).await.unwrap().expect("admin");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            db,
            database_url,
            config,
            admin,
            workflows,
            _dir: dir,
            pg_database,
        }
    }

    /// The name of this app's PostgreSQL database (the app must run on PostgreSQL).
    pub fn pg_database(&self) -> &str {
        self.pg_database.as_deref().expect("an app on PostgreSQL")
    }

    /// Drops every open connection to this app's PostgreSQL database from the server's side, as
    /// a restart or a failover does.
    pub async fn drop_postgres_connections(&self) {
        let name = self.pg_database();
        pg::admin_exec(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A plain client: no cookies kept, redirects not followed.
    pub fn anonymous(&self) -> reqwest::Client {
        client()
    }

    /// A browser-like visitor (cookies kept) that has loaded the sign-in page.
    pub async fn visitor(&self) -> Visitor {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let visitor =
            Visitor { app_address: self.address.clone(), client: client_with(jar.clone()), csrf: String::new(), jar };
        let page = visitor.get("/login").await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        Visitor { csrf: csrf_token_in(&html).expect("login page has a CSRF token"), ..visitor }
    }

    /// A visitor whose connections come from `local` (any 127.x address reaches the app): a
    /// client at another address.
    pub async fn visitor_from(&self, local: std::net::IpAddr) -> Visitor {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let visitor = Visitor { app_address: self.address.clone(), client, csrf: String::new(), jar };
        let html = visitor.get("/login").await.text().await.unwrap();
        Visitor { csrf: csrf_token_in(&html).expect("login page has a CSRF token"), ..visitor }
    }

    /// A visitor signed in as `email` (with the shared test password).
    pub async fn sign_in(&self, email: &str) -> Visitor {
        let visitor = self.visitor().await;
        let response = visitor.post_form("/login", &[("email", email), ("password", PASSWORD)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in as {email} should succeed");
        visitor
    }

    /// A user who signed up and has not confirmed their email yet.
    pub async fn create_unconfirmed_user(&self, email: &str) -> user::Model {
        let email = Email::parse(email).unwrap();
        let password = Password::parse(PASSWORD).unwrap();
        accounts::create_user(&self.db, &email, &password, false, accounts::EmailProof::Unverified).await.unwrap()
    }

    pub async fn create_user(&self, email: &str) -> user::Model {
        let email = Email::parse(email).unwrap();
        accounts::create_user(
            &self.db,
            &email,
            &Password::parse(PASSWORD).unwrap(),
            false,
            accounts::EmailProof::Verified,
        )
        .await
        .unwrap()
    }

    pub async fn create_workspace(&self, name: &str, owner: &user::Model) -> workspace::Model {
        let new = workspaces::NewWorkspace {
            name: WorkspaceName::parse(name).unwrap(),
            slug: None,
            timezone: Timezone::parse("Europe/Berlin").unwrap(),
            trial_days: self.config.trial_days,
        };
        workspaces::create(&self.db, new, owner).await.unwrap()
    }

    /// Offstage acting for `ws` (fixtures): `Scope::acting_for` with the system's capability.
    pub fn scope(&self, ws: &workspace::Model) -> offstage::tenancy::Scope {
        offstage::tenancy::Scope::acting_for(&offstage::tenancy::Platform::system(), ws.clone())
    }

    /// Makes an existing user a member of a workspace: invited, and accepting the invitation.
    pub async fn add_member(&self, ws: &workspace::Model, member: &user::Model, role: offstage::domain::Role) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let email = Email::parse(&member.email).unwrap();
        self.scope(ws).invite(&self.db, &email, role, &self.config).await.unwrap();
        let invitation = offstage::db::entities::invitation::Entity::find()
            .filter(offstage::db::entities::invitation::Column::WorkspaceId.eq(&ws.id))
            .filter(offstage::db::entities::invitation::Column::Email.eq(email.as_str()))
            .filter(offstage::db::entities::invitation::Column::AcceptedAt.is_null())
            .one(&self.db)
            .await
            .unwrap()
            .expect("the invitation just sent");
        offstage::workspaces::accept_invitation(&self.db, invitation, ws.clone(), member).await.unwrap();
    }

    /// Waits until no job is running or due in the next 2 s (retries included; runs scheduled
    /// later may remain), bounded.
    pub async fn drain_jobs_due(&self) {
        self.wait_until_no_job_due_within(2, Duration::from_secs(15)).await;
    }

    /// A new API key of `ws`; returns the secret.
    pub async fn api_key(&self, ws: &workspace::Model) -> String {
        self.scope(ws).create_api_key(&self.db, "Test key").await.unwrap().secret
    }

    /// An API call with `key`; `body` makes it a JSON request.
    pub async fn api(
        &self,
        method: reqwest::Method,
        key: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = self.anonymous().request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")))
    }

    /// Polls a run over the API until it is finished (bounded).
    pub async fn finished_run(&self, key: &str, id: &str) -> serde_json::Value {
        for _ in 0..300 {
            let (_, run) = self.api(reqwest::Method::GET, key, &format!("/api/v1/runs/{id}"), None).await;
            if ["succeeded", "skipped", "failed", "cancelled"].contains(&run["status"].as_str().unwrap_or_default()) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} did not finish within 15 s");
    }

    /// Waits until no job is running or due within a minute (bounded), and fails if any is left.
    /// Runs days ahead (a new workspace's onboarding emails) stay scheduled.
    pub async fn drain_jobs(&self) {
        self.wait_until_no_job_due_within(60, Duration::from_secs(10)).await;
    }

    async fn wait_until_no_job_due_within(&self, seconds: u32, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while offstage::engine::queue::due_within(&self.db, seconds).await.unwrap() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs due within {seconds} s were left unprocessed after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            pg::drop_database_in_background(name);
        }
    }
}

fn test_config(database_url: &str, dir: &std::path::Path) -> Config {
    Config {
        database_url: database_url.to_owned(),
        database_kind: offstage::config::database_kind(database_url).unwrap(),
        data_dir: dir.to_path_buf(),
        bind: "127.0.0.1:0".parse().unwrap(),
        base_url: "http://127.0.0.1".into(),
        secret_key: Secret::new("test-secret-key-test-secret-key-test-secret-key-0123456789"),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(Secret::new(PASSWORD)),
        worker_concurrency: 4,
        retry_base: Duration::from_millis(50),
        // Pages that chart ended runs show them within moments.
        counts_every: Duration::from_millis(100),
        stripe: StripeSettings {
            webhook_secrets: vec![Secret::new(STRIPE_SECRET_OLD), Secret::new(STRIPE_SECRET)],
            plans: vec![("price_pro_monthly".into(), "pro".into()), ("price_team_monthly".into(), "team".into())],
            ..StripeSettings::default()
        },
        mail: offstage::config::MailSettings::default(),
        // Tests that are about trials turn them on; elsewhere a new workspace starts without one.
        trial_days: None,
        sessions: Default::default(),
        trusted_proxies: Vec::new(),
        // The API rate limit has its own tests; the others (schemathesis's thousands of calls)
        // measure something else.
        limits: offstage::config::TenantLimits { api_rate_per_key: None, ..Default::default() },
        signup: offstage::config::Signup::Invite,
        require_two_factor: offstage::config::RequireTwoFactor::None,
        storage_url: None,
        export_expiry_days: 7,
        retention: Default::default(),
        metrics_token: None,
        metrics_bind: None,
    }
}
