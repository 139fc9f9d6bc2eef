//! Email over a real SMTP server (maildev, in CI): what arrives — headers, recipients, both
//! bodies, Message-ID, the unsubscribe headers —, retries while the server is down, and a
//! worker killed with SIGKILL while sending 1,000 emails (over the default four connections).

use offstage::config::Secret;
use reqwest::StatusCode;
use serde_json::Value;

use crate::email_helpers::{Maildev, maildev_configured, raw_header};
use crate::helpers::process::free_port;
use crate::helpers::{Backend, TestApp};
use crate::worker_processes::Worker;

fn header<'a>(email: &'a Value, name: &str) -> &'a str {
    email["headers"][name].as_str().unwrap_or_default()
}

async fn app_sending_to(backend: Backend, smtp_url: String) -> TestApp {
    TestApp::spawn_with(backend, move |config| {
        config.mail.smtp_url = Some(Secret::new(smtp_url));
        config.mail.from = "Offstage Team <team@offstage.test>".into();
    })
    .await
}

async fn emails_reach_a_real_smtp_server_with_headers_both_bodies_and_message_id(backend: Backend) {
    if !maildev_configured() {
        eprintln!("OFFSTAGE_TEST_SMTP is not set: the SMTP tests do not run here");
        return;
    }
    let maildev = Maildev::start().await;
    let app = app_sending_to(backend, maildev.smtp_url()).await;
    let ws = app.create_workspace("Smtp", &app.admin).await;
    let admin = app.sign_in(&app.admin.email).await;
    let response = admin
        .post_form(
            &format!("/admin/workspaces/{}/members", ws.slug),
            &[("email", "guest@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let received = maildev.wait_for(2).await;
    app.drain_jobs_due().await;
    let outbox = app.outbox().await;
    assert_eq!(received.len(), 2, "{received:?}");
    for sent in &outbox {
        assert_eq!((sent.status.as_str(), sent.transport.as_deref(), sent.attempts), ("sent", Some("smtp"), 1));
        let got = received
            .iter()
            .find(|m| m["to"][0]["address"] == sent.recipient.as_str())
            .unwrap_or_else(|| panic!("{} did not arrive", sent.recipient));
        assert_eq!(got["subject"], sent.subject.as_str());
        assert_eq!(got["from"][0]["address"], "team@offstage.test");
        assert_eq!(got["from"][0]["name"], "Offstage Team");
        assert_eq!(header(got, "message-id"), sent.message_id);
        assert!(got["text"].as_str().unwrap().contains(sent.text.lines().next().unwrap()));
        assert!(got["html"].as_str().unwrap().contains("</html>"));
    }
    let welcome =
        maildev.source(received.iter().find(|m| m["to"][0]["address"] == app.admin.email.as_str()).unwrap()).await;
    let link = offstage::mail::unsubscribe::link(&app.config, &app.admin.email);
    assert_eq!(raw_header(&welcome, "List-Unsubscribe"), format!("<{link}>"), "{welcome}");
    assert_eq!(raw_header(&welcome, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    assert!(raw_header(&welcome, "Content-Type").starts_with("multipart/alternative"), "{welcome}");
    let invitation = received.iter().find(|m| m["to"][0]["address"] == "guest@example.com").unwrap();
    let invitation_source = maildev.source(invitation).await;
    assert_eq!(raw_header(&invitation_source, "List-Unsubscribe"), "", "transactional mail has no unsubscribe header");
    assert!(invitation["text"].as_str().unwrap().contains("/invitations/"));
}

async fn mail_is_retried_while_the_smtp_server_is_down_and_arrives_once(backend: Backend) {
    if !maildev_configured() {
        eprintln!("OFFSTAGE_TEST_SMTP is not set: the SMTP tests do not run here");
        return;
    }
    let port = free_port();
    let app = app_sending_to(backend, format!("smtp://127.0.0.1:{port}")).await;
    app.create_workspace("Down", &app.admin).await;
    let mut failed_attempts = 0;
    for _ in 0..600 {
        let welcome = app.emails_of("welcome").await;
        failed_attempts = welcome.first().map(|e| e.attempts).unwrap_or(0);
        if failed_attempts >= 2 {
            assert!(
                welcome[0].last_error.as_deref().unwrap_or_default().contains("SMTP"),
                "{:?}",
                welcome[0].last_error
            );
            assert_eq!(welcome[0].status, "queued");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(failed_attempts >= 2, "the send was not retried while the server was down: {:?}", app.outbox().await);
    let maildev = Maildev::start_on(port).await;
    let received = maildev.wait_for(1).await;
    app.drain_jobs_due().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(maildev.emails().await.len(), 1, "{received:?}");
    let welcome = &app.emails_of("welcome").await[0];
    assert_eq!(welcome.status, "sent");
    assert!(welcome.attempts > failed_attempts);
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn emails_reach_a_real_smtp_server_with_headers_both_bodies_and_message_id() {
        super::emails_reach_a_real_smtp_server_with_headers_both_bodies_and_message_id(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mail_is_retried_while_the_smtp_server_is_down_and_arrives_once() {
        super::mail_is_retried_while_the_smtp_server_is_down_and_arrives_once(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kill_9_while_sending_1000_emails_loses_none_and_repeats_at_most_one_per_connection() {
        super::a_kill_9_while_sending_1000_emails_loses_none_and_repeats_at_most_one_per_connection(Backend::Sqlite)
            .await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn emails_reach_a_real_smtp_server_with_headers_both_bodies_and_message_id() {
        if crate::helpers::postgres_configured() {
            super::emails_reach_a_real_smtp_server_with_headers_both_bodies_and_message_id(Backend::Postgres).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mail_is_retried_while_the_smtp_server_is_down_and_arrives_once() {
        if crate::helpers::postgres_configured() {
            super::mail_is_retried_while_the_smtp_server_is_down_and_arrives_once(Backend::Postgres).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kill_9_while_sending_1000_emails_loses_none_and_repeats_at_most_one_per_connection() {
        if crate::helpers::postgres_configured() {
            super::a_kill_9_while_sending_1000_emails_loses_none_and_repeats_at_most_one_per_connection(
                Backend::Postgres,
            )
            .await;
        }
    }
}

/// 1,000 emails in the outbox, an `offstage worker` sending them killed with SIGKILL part way:
/// after a new worker finishes, every email arrived, and at most one per SMTP connection arrived
/// twice (those whose acceptance by the server the killed worker had not recorded yet).
async fn a_kill_9_while_sending_1000_emails_loses_none_and_repeats_at_most_one_per_connection(backend: Backend) {
    if !maildev_configured() {
        eprintln!("OFFSTAGE_TEST_SMTP is not set: the SMTP tests do not run here");
        return;
    }
    use offstage::mail::{Category, NewEmail, Rendered, outbox};
    let maildev = Maildev::start().await;
    let app = TestApp::spawn_web_only(backend).await;
    let ws = app.create_workspace("Bulk", &app.admin).await;
    let emails: Vec<NewEmail> = (0..1000)
        .map(|i| NewEmail {
            workspace_id: Some(ws.id.clone()),
            recipient: format!("person{i}@example.com"),
            kind: "bulk",
            category: Category::Transactional,
            dedupe_key: format!("bulk:{i}"),
            rendered: Rendered {
                subject: format!("Bulk {i}"),
                html: format!("<p>Bulk {i}</p>"),
                text: format!("Bulk {i}"),
            },
        })
        .collect();
    let txn = offstage::db::begin_write(&app.db).await.unwrap();
    let ids = outbox::enqueue_in(&txn, &emails, "example.com").await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(ids.len(), 1000);
    let mut worker = Worker::mailing(&app, &maildev.smtp_url());
    let before_kill = maildev.wait_for(200).await.len();
    worker.kill_9();
    let at_kill = maildev.emails().await.len();
    let _worker = Worker::mailing(&app, &maildev.smtp_url());
    let started = std::time::Instant::now();
    loop {
        let sent = app.emails_of("bulk").await.iter().filter(|e| e.status == "sent").count();
        if sent == 1000 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "{sent} of 1,000 sent 120 s after the kill");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let received = maildev.emails().await;
    let mut per_message_id = std::collections::HashMap::new();
    for email in received.iter().filter(|e| e["subject"].as_str().is_some_and(|s| s.starts_with("Bulk "))) {
        *per_message_id.entry(header(email, "message-id").to_owned()).or_insert(0) += 1;
    }
    let duplicates: usize = per_message_id.values().map(|n| n - 1).sum();
    eprintln!("killed after {before_kill}-{at_kill} of 1,000 emails had arrived; {duplicates} duplicate(s)");
    let outbox = app.emails_of("bulk").await;
    assert!(outbox.iter().all(|e| per_message_id.contains_key(&e.message_id)), "an email was lost");
    assert_eq!(per_message_id.len(), 1000);
    let connections = offstage::config::SMTP_CONNECTIONS;
    assert!(duplicates <= connections, "{duplicates} emails arrived twice over {connections} connections");
}

/// A private CA and a certificate for 127.0.0.1 signed by it, made with openssl in `dir`:
/// returns (CA certificate, server certificate, server key).
fn private_ca_and_certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let path = |name: &str| dir.join(name);
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Offstage test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(path("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
    (path("ca.pem"), path("server.pem"), path("server.key"))
}

/// aiosmtpd requiring TLS (`starttls` or `smtps`) and AUTH as ada, with a certificate from a
/// private CA; returns the server, its port and the file it appends received messages to.
fn tls_server(dir: &std::path::Path, mode: &str) -> (std::process::Child, u16, std::path::PathBuf) {
    let (_, cert, key) = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    let out = dir.join(format!("received-{mode}.jsonl"));
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/run_smtp_tls.py");
    let mut server = std::process::Command::new("python3")
        .arg(script)
        .args([
            &port.to_string(),
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            "ada",
            "p@ss:word",
            out.to_str().unwrap(),
            mode,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs aiosmtpd");
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut ready).unwrap();
    assert_eq!(ready.trim(), "ready");
    (server, port, out)
}

/// Waits (bounded) for the first error recorded on `app`'s welcome email.
async fn welcome_error(app: &TestApp) -> Option<String> {
    for _ in 0..300 {
        if let Some(error) = app.emails_of("welcome").await.into_iter().next().and_then(|e| e.last_error) {
            return Some(error);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

/// Mail goes over STARTTLS and over TLS from the first byte (smtps://), verified against
/// OFFSTAGE_SMTP_CA_FILE (refused without it), with AUTH by the URL's user and password, which
/// may hold escaped characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_sent_over_starttls_and_smtps_with_the_urls_user_and_password() {
    if !maildev_configured() {
        eprintln!("OFFSTAGE_TEST_SMTP is not set: the SMTP tests do not run here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, _, _) = private_ca_and_certificate(dir.path());
    for (mode, url) in [
        ("starttls", "smtp://ada:p%40ss%3Aword@127.0.0.1:{port}?tls=required"),
        ("smtps", "smtps://ada:p%40ss%3Aword@127.0.0.1:{port}"),
    ] {
        let (mut server, port, out) = tls_server(dir.path(), mode);
        let url = url.replace("{port}", &port.to_string());
        if mode == "starttls" {
            let untrusting = TestApp::spawn_with(Backend::Sqlite, {
                let url = url.clone();
                move |config| config.mail.smtp_url = Some(Secret::new(url))
            })
            .await;
            untrusting.create_workspace("Untrusted", &untrusting.admin).await;
            let refused = welcome_error(&untrusting).await;
            assert!(refused.as_deref().unwrap_or_default().contains("STARTTLS"), "{refused:?}");
        }
        let app = TestApp::spawn_with(Backend::Sqlite, {
            let ca = ca.clone();
            move |config| {
                config.mail.smtp_url = Some(Secret::new(url));
                config.mail.smtp_ca_file = Some(ca);
            }
        })
        .await;
        app.create_workspace("Encrypted", &app.admin).await;
        let mut lines = Vec::new();
        for _ in 0..300 {
            lines = std::fs::read_to_string(&out).unwrap_or_default().lines().map(str::to_owned).collect();
            if !lines.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(lines.len(), 1, "{mode}: only the trusting app's email arrived: {:?}", app.outbox().await);
        let got: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!((got["tls"].as_bool(), got["authenticated"].as_bool()), (Some(true), Some(true)), "{mode}");
        assert_eq!(got["to"][0], app.admin.email.as_str());
        assert!(got["content"].as_str().unwrap().contains("Subject: Welcome to Encrypted"));
        app.drain_jobs_due().await;
        assert_eq!(app.emails_of("welcome").await[0].status, "sent");
    }
}
