//! A real browser (Debian chromium driven through chromedriver) signs in, creates a workspace,
//! invites a teammate who signs in and accepts, sees where it is signed in, and creates an API
//! key; and, in another, resets a forgotten password through the emailed link and sets up
//! two-factor sign-in, then signs in with a code; and a platform admin watches a revenue
//! calculation's live progress bar until its figures show, and the queue's live view show a
//! worker and a failed run. Runs when OFFSTAGE_TEST_BROWSER=1.

use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use crate::helpers::process::{KillOnDrop, free_port};
use crate::helpers::*;

fn browser_tests_enabled() -> bool {
    let enabled = std::env::var("OFFSTAGE_TEST_BROWSER").as_deref() == Ok("1");
    if !enabled {
        eprintln!("OFFSTAGE_TEST_BROWSER is not 1: the browser test does not run here");
    }
    enabled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_creates_a_workspace_invites_a_teammate_who_accepts_and_creates_an_api_key_in_a_browser() {
    if !browser_tests_enabled() {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_user("teammate@example.com").await;
    let (_driver, _profile, c) = browser().await;

    c.goto(&app.url("/admin/workspaces")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    sign_in(&c, ADMIN_EMAIL).await;
    c.wait().for_element(Locator::LinkText("Create your first workspace")).await.unwrap().click().await.unwrap();

    c.wait().for_element(Locator::Css("input[name=name]")).await.unwrap().send_keys("Browser Co").await.unwrap();
    let tz = c.find(Locator::Css("input[name=timezone]")).await.unwrap();
    tz.clear().await.unwrap();
    tz.send_keys("Europe/Paris").await.unwrap();
    c.find(Locator::Css("form button.primary")).await.unwrap().click().await.unwrap();
    let flash = c.wait().for_element(Locator::Css(".flash-success")).await.unwrap().text().await.unwrap();
    assert_eq!(flash, "Workspace “Browser Co” created.");

    c.find(Locator::LinkText("Members")).await.unwrap().click().await.unwrap();
    c.wait()
        .for_element(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys("teammate@example.com")
        .await
        .unwrap();
    c.find(Locator::Css("form.stack button.primary")).await.unwrap().click().await.unwrap();
    let flash = c.wait().for_element(Locator::Css(".flash-success")).await.unwrap().text().await.unwrap();
    assert!(flash.starts_with("Invitation sent to teammate@example.com."), "{flash}");
    let pending = c.source().await.unwrap();
    assert!(pending.contains("Pending invitations") && pending.contains("teammate@example.com"));
    let members_page = c.current_url().await.unwrap();

    // The teammate, in the same browser after signing out, accepts from their own list.
    c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    sign_in(&c, "teammate@example.com").await;
    c.wait().for_element(Locator::XPath("//button[text()='Accept']")).await.unwrap().click().await.unwrap();
    let flash = c.wait().for_element(Locator::Css(".flash-success")).await.unwrap().text().await.unwrap();
    assert_eq!(flash, "Welcome to Browser Co!");
    c.goto(&app.url("/admin/account")).await.unwrap();
    let sessions = c.wait().for_element(Locator::Css("table")).await.unwrap().text().await.unwrap();
    assert!(sessions.contains("Chrome on Linux") && sessions.contains("this browser"), "{sessions}");
    c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();

    sign_in(&c, ADMIN_EMAIL).await;
    c.wait().for_element(Locator::LinkText("Browser Co")).await.unwrap();
    c.goto(members_page.as_str()).await.unwrap();
    let table = c.wait().for_element(Locator::Css("table")).await.unwrap().text().await.unwrap();
    assert!(table.contains("teammate@example.com"));

    c.find(Locator::LinkText("API keys")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("input[name=name]")).await.unwrap().send_keys("Browser key").await.unwrap();
    c.find(Locator::Css("form.stack button.primary")).await.unwrap().click().await.unwrap();
    let secret = c.wait().for_element(Locator::Id("new-api-key")).await.unwrap().text().await.unwrap();
    assert!(secret.starts_with("osk_"));
    c.close().await.unwrap();

    let response = app.anonymous().get(app.url("/api/v1/workspace")).bearer_auth(&secret).send().await.unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Browser Co");
    assert_eq!(body["members_count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_resets_a_forgotten_password_sets_up_two_factor_sign_in_and_signs_in_with_a_code_in_a_browser() {
    if !browser_tests_enabled() {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_driver, _profile, c) = browser().await;

    c.goto(&app.url("/login")).await.unwrap();
    c.wait().for_element(Locator::LinkText("Forgot your password?")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("input[name=email]")).await.unwrap().send_keys(ADMIN_EMAIL).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let answer = c.wait().for_element(Locator::Css(".flash-success")).await.unwrap().text().await.unwrap();
    assert!(answer.contains("a link to choose a new password is on its way"), "{answer}");

    // The emailed link, read from the captured mail as the person reads it in their inbox.
    let secret = app.secret_in_email("password_reset", ADMIN_EMAIL, "/password/reset/").await;
    c.goto(&app.url(&format!("/password/reset/{secret}"))).await.unwrap();
    let new_password = "a brand new password";
    c.wait().for_element(Locator::Css("input[name=password]")).await.unwrap().send_keys(new_password).await.unwrap();
    c.find(Locator::Css("input[name=password_confirmation]")).await.unwrap().send_keys(new_password).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let changed = c.wait().for_element(Locator::Css(".flash-success")).await.unwrap().text().await.unwrap();
    assert!(changed.starts_with("Your password was changed"), "{changed}");
    fill_sign_in(&c, ADMIN_EMAIL, new_password).await;
    c.wait().for_element(Locator::LinkText("Create your first workspace")).await.unwrap();

    c.goto(&app.url("/admin/account")).await.unwrap();
    c.wait().for_element(Locator::LinkText("Set up two-factor sign-in")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css(".qr svg")).await.unwrap();
    let totp_secret = c.find(Locator::Id("totp-secret")).await.unwrap().text().await.unwrap();
    let code = crate::two_factor::code(&totp_secret, 0);
    c.find(Locator::Css("input[name=code]")).await.unwrap().send_keys(&code).await.unwrap();
    c.find(Locator::Css("form button.primary")).await.unwrap().click().await.unwrap();
    let codes = c.wait().for_element(Locator::Id("recovery-codes")).await.unwrap().text().await.unwrap();
    assert_eq!(codes.split_whitespace().count(), 10, "{codes}");

    c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    fill_sign_in(&c, ADMIN_EMAIL, new_password).await;
    let code_field = c.wait().for_element(Locator::Css("input[name=code]")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login/two-factor");
    code_field.send_keys(&crate::two_factor::code(&totp_secret, 1)).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::LinkText("Create your first workspace")).await.unwrap();
    c.close().await.unwrap();
}

/// Fills in and sends the sign-in form with `password`.
async fn fill_sign_in(c: &fantoccini::Client, email: &str, password: &str) {
    // The sign-in form itself: the page being left may have an email field too (the invite form).
    let form = "form[action='/login']";
    c.wait()
        .for_element(Locator::Css(&format!("{form} input[name=email]")))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} input[name=password]"))).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Css(&format!("{form} button[type=submit]"))).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_admin_starts_a_revenue_calculation_and_watches_its_progress_bar_until_the_figures_show() {
    if !browser_tests_enabled() {
        return;
    }
    // Web only: the calculation waits, its bar showing, until a worker process starts.
    let app = TestApp::spawn_web_only(Backend::Sqlite).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let month = offstage::domain::Month::last(chrono::Utc::now());
    let paid = month.start() + chrono::Duration::days(3);
    sea_orm::ConnectionTrait::execute_raw(
        &app.db,
        sea_orm::Statement::from_sql_and_values(
            sea_orm::ConnectionTrait::get_database_backend(&app.db),
            "INSERT INTO invoices (id, workspace_id, amount_paid, currency, period_start, period_end, paid_at, \
             stripe_event_id, charge_id, mrr, lines_read) VALUES ('in_browser', $1, 1234, 'usd', $2, $3, $2, 'evt_browser', NULL, 1234, true)",
            [ws.id.clone().into(), paid.into(), (paid + chrono::Duration::days(30)).into()],
        ),
    )
    .await
    .unwrap();
    let (_driver, _profile, c) = browser().await;
    c.goto(&app.url(&format!("/admin/platform/revenue?month={month}"))).await.unwrap();
    sign_in(&c, ADMIN_EMAIL).await;
    c.goto(&app.url(&format!("/admin/platform/revenue?month={month}"))).await.unwrap();
    c.wait()
        .for_element(Locator::Css("form[action='/admin/platform/revenue/recalculate'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let bar = c.wait().for_element(Locator::Css(".progress-live[data-in-progress=true] progress")).await.unwrap();
    assert_eq!(bar.attr("value").await.unwrap().as_deref(), Some("0"), "nothing done before a worker runs");

    let _worker = crate::worker_processes::Worker::start_with(&app, "4");
    let net = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("td.net"))
        .await
        .expect("the page shows the figures once the bar's chain ends, without anyone reloading it");
    assert_eq!(net.text().await.unwrap(), "12.34 USD");
    let page = c.source().await.unwrap();
    assert!(page.contains(&format!("{month} was calculated")), "and says when");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_uploads_a_members_csv_confirms_it_and_watches_its_progress_bar_reach_the_end() {
    if !browser_tests_enabled() {
        return;
    }
    // Web only: the import waits, its bar at 0, until a worker process starts.
    let app = TestApp::spawn_web_only_with(Backend::Sqlite, |c| c.limits.invitations_per_day = 1_000).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let file = app.config.data_dir.join("people.csv");
    std::fs::write(&file, crate::imports::members_csv(500, &["not-an-email,member,"])).unwrap();
    let (_driver, _profile, c) = browser().await;
    let upload = app.url(&format!("/admin/workspaces/{}/members/import", ws.slug));
    c.goto(&upload).await.unwrap();
    sign_in(&c, ADMIN_EMAIL).await;
    c.goto(&upload).await.unwrap();
    c.wait()
        .for_element(Locator::Css("input[type=file]"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    c.find(Locator::Css("form[enctype='multipart/form-data'] button")).await.unwrap().click().await.unwrap();
    let preview = c.wait().for_element(Locator::Css("form[action$='/start'] button")).await.unwrap();
    assert_eq!(preview.text().await.unwrap(), "Invite 500 people");
    assert!(c.source().await.unwrap().contains("not-an-email"), "the preview lists the line it cannot import");
    preview.click().await.unwrap();
    let bar = c.wait().for_element(Locator::Css(".progress-live[data-in-progress=true] progress")).await.unwrap();
    assert_eq!(bar.attr("value").await.unwrap().as_deref(), Some("0"), "nothing done before a worker runs");

    let _worker = crate::worker_processes::Worker::with_env(&app, &[("OFFSTAGE_INVITATIONS_PER_DAY", "1000")]);
    let done = c
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(".progress-live[data-in-progress=false] progress[value='501'][max='501']"))
        .await
        .expect("the bar reaches the end, and the page shows the import done, without anyone reloading it");
    assert!(done.attr("value").await.unwrap().is_some());
    let page = c.source().await.unwrap();
    assert!(page.contains("export-succeeded") && page.contains("Download the error report"), "done, with its report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_admin_watches_the_queue_page_show_a_worker_and_a_failed_run_without_reloading_it() {
    if !browser_tests_enabled() {
        return;
    }
    // Web only: no worker is alive until one starts below.
    let app = TestApp::spawn_web_only(Backend::Sqlite).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let (_driver, _profile, c) = browser().await;
    c.goto(&app.url("/admin/platform/queue")).await.unwrap();
    sign_in(&c, ADMIN_EMAIL).await;
    c.goto(&app.url("/admin/platform/queue")).await.unwrap();
    c.wait().for_element(Locator::Css("[data-live-url] svg.chart")).await.unwrap();
    assert!(c.source().await.unwrap().contains("No worker process has been heard from"));
    c.execute("window.stillTheSamePage = true;", vec![]).await.unwrap();

    // More failures than the probe's 3 attempts: it ends failed.
    let params = offstage::engine::probe::Params {
        workspace_id: ws.id.clone(),
        value: None,
        sleep_ms: 0,
        fail_attempts: 9,
        skip: false,
    };
    let run = offstage::engine::NewRun::of::<offstage::engine::probe::Probe>(&params);
    let failing = offstage::engine::runs::start(&app.db, run).await.unwrap().id;
    let _worker = crate::worker_processes::Worker::with_env(&app, &[("OFFSTAGE_RETRY_BASE_MS", "200")]);
    let row = c
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("[data-live-url] tr[data-failure]"))
        .await
        .expect("the failed run appears on the page without anyone reloading it");
    assert!(row.text().await.unwrap().contains(&failing.to_string()));
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-live-url] svg.chart rect.bar.failed"))
        .await
        .expect("the chart draws the failed attempt once the worker has counted it");
    // Waited for like the rest: on a loaded machine the worker's heartbeat can come late, and the
    // page lists it again at its next refresh.
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-live-url] tr[data-worker]"))
        .await
        .expect("the worker process is listed");
    let same = c.execute("return window.stillTheSamePage === true;", vec![]).await.unwrap();
    assert_eq!(same, serde_json::Value::Bool(true), "the page was refreshed in place, not reloaded");
}

/// Fills in and sends the sign-in form the browser shows (or is about to).
async fn sign_in(c: &fantoccini::Client, email: &str) {
    fill_sign_in(c, email, PASSWORD).await;
}

/// Headless chromium driven through a chromedriver of its own; both end when the returned guard
/// and profile are dropped.
async fn browser() -> (KillOnDrop, tempfile::TempDir, fantoccini::Client) {
    let port = free_port();
    let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let driver = KillOnDrop(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (apt-get install chromium-driver)"),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--no-first-run", "--disable-sync", "--disable-component-update",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    // Both of rustls's crypto back-ends are compiled in (through different crates): pick one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = client.expect("connect to chromedriver");
    (driver, profile, c)
}
