//! The `offstage` binary: admin verbs for scripts, and a real first start and SIGTERM.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::helpers::process::{free_port, read_all, stop_with_sigterm, wait_until_serving};
use crate::helpers::*;
use crate::on_both_databases;

/// The `offstage` binary with `args`, on the app's database and data directory, not started.
pub(crate) fn offstage_command(app: &TestApp, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offstage"));
    command
        .args(args)
        .env("OFFSTAGE_DATABASE_URL", &app.database_url)
        .env("OFFSTAGE_DATA_DIR", &app.config.data_dir)
        .env("OFFSTAGE_SECRET_KEY", app.config.secret_key.expose())
        .env("OFFSTAGE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub(crate) fn offstage(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut child = offstage_command(app, args).spawn().expect("run offstage");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn one_error_line(output: &Output) -> String {
    assert!(!output.status.success(), "expected failure, got {}", stdout(output));
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    stderr
}

on_both_databases! {
    async fn user_create_reads_the_password_from_stdin(app: TestApp) {
        let output = offstage(&app, &["user", "create", "--email", "Cli@Example.com", "--password-stdin"], "from stdin 123\n");
        assert!(output.status.success(), "{output:?}");
        let user: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!(user["email"], "cli@example.com");
        assert_eq!(user["platform_admin"], false);
        let visitor = app.visitor().await;
        let response = visitor.post_form("/login", &[("email", "cli@example.com"), ("password", "from stdin 123")]).await;
        assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    }

    async fn user_create_refuses_bad_input_with_one_line(app: TestApp) {
        let duplicate = offstage(&app, &["user", "create", "--email", ADMIN_EMAIL, "--password-stdin"], "whatever 123\n");
        assert!(one_error_line(&duplicate).contains("already exists"));
        let malformed = offstage(&app, &["user", "create", "--email", "not-an-email", "--password-stdin"], "whatever 123\n");
        assert!(one_error_line(&malformed).contains("not a valid email address"));
        let no_stdin = offstage(&app, &["user", "create", "--email", "x@example.com"], "");
        assert!(one_error_line(&no_stdin).contains("--password-stdin"));
    }

    async fn workspace_create_prints_the_workspace_as_one_json_line(app: TestApp) {
        let output = offstage(&app, &["workspace", "create", "--name", "Scripted Co", "--owner", ADMIN_EMAIL, "--timezone", "Europe/Berlin"], "");
        assert!(output.status.success(), "{output:?}");
        let text = stdout(&output);
        assert_eq!(text.trim().lines().count(), 1);
        let ws: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(ws["slug"], "scripted-co");
        assert_eq!(ws["timezone"], "Europe/Berlin");
        assert!(ws["id"].as_str().unwrap().starts_with("ws_"));
        let unknown = offstage(&app, &["workspace", "create", "--name", "X", "--owner", "ghost@example.com"], "");
        assert!(one_error_line(&unknown).contains("no user has the email ghost@example.com"));
        let bad_zone = offstage(&app, &["workspace", "create", "--name", "X", "--owner", ADMIN_EMAIL, "--timezone", "Moon/Base"], "");
        assert!(one_error_line(&bad_zone).contains("not a known timezone"));
    }

    async fn user_reset_2fa_turns_two_factor_off_and_signs_the_account_out_everywhere(app: TestApp) {
        let signed_in = app.sign_in(ADMIN_EMAIL).await;
        crate::two_factor::enrol(&signed_in).await;
        let output = offstage(&app, &["user", "reset-2fa", "--email", ADMIN_EMAIL], "");
        assert!(output.status.success(), "{output:?}");
        assert!(stdout(&output).contains("Two-factor sign-in is off"));
        assert_eq!(signed_in.get_html("/admin/account").await.0, reqwest::StatusCode::SEE_OTHER);
        let fresh = app.visitor().await;
        let response = fresh.post_form("/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(location(&response), "/admin", "the password alone signs in again");
        let unknown = offstage(&app, &["user", "reset-2fa", "--email", "ghost@example.com"], "");
        assert!(one_error_line(&unknown).contains("no user has the email ghost@example.com"));
    }

    async fn api_key_create_prints_a_working_secret_alone_on_the_last_line(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        let output = offstage(&app, &["api-key", "create", "--workspace", &ws.slug, "--name", "Deploy"], "");
        assert!(output.status.success(), "{output:?}");
        let text = stdout(&output);
        let secret = text.trim_end().lines().last().unwrap();
        assert!(secret.starts_with("osk_") && !secret.contains(' '));
        let response = app.anonymous().get(app.url("/api/v1/workspace")).bearer_auth(secret).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let unknown = offstage(&app, &["api-key", "create", "--workspace", "nope", "--name", "Deploy"], "");
        assert!(one_error_line(&unknown).contains("no workspace has the slug"));
    }
}

/// A fresh start with nothing configured prints the generated admin login, serves, and stops
/// cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_prints_the_admin_login_and_sigterm_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_offstage"))
        .current_dir(dir.path())
        .env_remove("OFFSTAGE_DATABASE_URL")
        .env_remove("OFFSTAGE_ADMIN_EMAIL")
        .env_remove("OFFSTAGE_ADMIN_PASSWORD")
        .env_remove("OFFSTAGE_SECRET_KEY")
        .env("OFFSTAGE_BIND", format!("127.0.0.1:{port}"))
        .env("OFFSTAGE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_serving(&mut child, port, Duration::from_secs(30)).await;
    assert!(dir.path().join("data/offstage.db").exists(), "SQLite file created under ./data");
    assert!(dir.path().join("data/secret_key").exists(), "secret key persisted");
    let status = stop_with_sigterm(&mut child).await;
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    let out = read_all(child.stdout.take());
    assert!(out.contains(&format!("http://127.0.0.1:{port}/login")), "{out}");
    assert!(out.contains("admin@offstage.local"));
    let password =
        out.lines().find_map(|l| l.trim().strip_prefix("Password: ")).expect("password printed").trim().to_owned();
    assert_eq!(password.len(), 20);
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    for (name, value) in [
        ("OFFSTAGE_BIND", "not-an-address"),
        ("OFFSTAGE_DATABASE_URL", "mysql://localhost/offstage"),
        ("OFFSTAGE_SECRET_KEY", "too-short"),
        ("OFFSTAGE_BASE_URL", "ftp://example.com"),
        ("OFFSTAGE_WORKER_CONCURRENCY", "lots"),
        ("OFFSTAGE_STRIPE_PLANS", "price_123"),
        ("OFFSTAGE_RETENTION_RUNS", "30 days"),
        ("OFFSTAGE_EXPORT_EXPIRY_DAYS", "forever"),
        ("OFFSTAGE_METRICS_TOKEN", "short"),
        ("OFFSTAGE_METRICS_BIND", "anywhere"),
        ("OFFSTAGE_LOG_FORMAT", "xml"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_offstage"))
            .arg("migrate")
            .current_dir(dir.path())
            .env(name, value)
            .output()
            .unwrap();
        let line = one_error_line(&output);
        assert!(line.contains(name), "{name}: {line}");
    }
}
