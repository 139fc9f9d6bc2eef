//! Email test helpers: reading the outbox, letting days pass on the queue's clock, and maildev
//! (a real SMTP server with a REST API) on free ports of 127.0.0.1.

use std::process::{Child, Command};
use std::time::Duration;

use offstage::db::entities::{email, enrolment};
use offstage::mail::outbox;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde_json::Value;

use crate::helpers::TestApp;
use crate::helpers::process::free_port;

impl TestApp {
    /// Every outbox email, oldest first.
    pub(crate) async fn outbox(&self) -> Vec<email::Model> {
        email::Entity::find()
            .order_by_asc(email::Column::CreatedAt)
            .order_by_asc(email::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// The secret of the invitation link emailed to `recipient` (the newest).
    pub(crate) async fn invitation_token(&self, recipient: &str) -> String {
        self.secret_in_email("invitation", recipient, "/invitations/").await
    }

    /// The secret after `path` in the newest `kind` email to `recipient` (a link's token).
    pub(crate) async fn secret_in_email(&self, kind: &str, recipient: &str, path: &str) -> String {
        let emails = self.emails_of(kind).await;
        let email = emails
            .iter()
            .rev()
            .find(|e| e.recipient == recipient)
            .unwrap_or_else(|| panic!("a {kind} email to {recipient}"));
        let start = email.text.find(path).unwrap_or_else(|| panic!("{path} in {}", email.text)) + path.len();
        email.text[start..].chars().take_while(char::is_ascii_hexdigit).collect()
    }

    /// The class (`Priority::queue_value`) of the `send_email` run delivering the email `id`.
    pub(crate) async fn delivery_priority(&self, id: &str) -> i32 {
        let backend = self.db.get_database_backend();
        let jobs = self.jobs_table();
        let sql = format!(
            "SELECT CAST(j.priority AS INTEGER) AS priority FROM workflow_runs r JOIN {jobs} j ON j.id = r.id \
             WHERE r.workflow = 'send_email' AND r.business_key = $1"
        );
        let row =
            self.db.query_one_raw(Statement::from_sql_and_values(backend, sql, [outbox::business_key(id).into()]));
        row.await.unwrap().unwrap().try_get("", "priority").unwrap()
    }

    /// How many `kind` emails went to `recipient`.
    pub(crate) async fn emails_to(&self, kind: &str, recipient: &str) -> usize {
        self.emails_of(kind).await.iter().filter(|e| e.recipient == recipient).count()
    }

    /// The outbox emails of `kind`.
    pub(crate) async fn emails_of(&self, kind: &str) -> Vec<email::Model> {
        self.outbox().await.into_iter().filter(|e| e.kind == kind).collect()
    }

    pub(crate) async fn enrolment(&self, workspace_id: &str, sequence: &str) -> enrolment::Model {
        enrolment::Entity::find()
            .filter(enrolment::Column::WorkspaceId.eq(workspace_id))
            .filter(enrolment::Column::Sequence.eq(sequence))
            .one(&self.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {sequence} enrolment for {workspace_id}"))
    }

    /// Lets `days` pass for the queue (scheduled runs come that much closer), then runs what
    /// became due.
    pub(crate) async fn let_days_pass(&self, days: i64) {
        offstage::engine::queue::advance_clock(&self.db, days * 86_400).await.unwrap();
        self.drain_jobs_due().await;
    }
}

/// CI sets OFFSTAGE_TEST_SMTP=1 after `npm install -g maildev`.
pub(crate) fn maildev_configured() -> bool {
    std::env::var("OFFSTAGE_TEST_SMTP").is_ok_and(|v| v == "1")
}

/// maildev on 127.0.0.1 (SMTP and web ports given), stopped by its PID when dropped.
pub(crate) struct Maildev {
    child: Child,
    pub smtp_port: u16,
    web: String,
    http: reqwest::Client,
}

impl Maildev {
    pub(crate) async fn start() -> Maildev {
        Maildev::start_on(free_port()).await
    }

    pub(crate) async fn start_on(smtp_port: u16) -> Maildev {
        let web_port = free_port();
        let child = Command::new("maildev")
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1", "--silent"])
            .args(["--smtp", &smtp_port.to_string(), "--web", &web_port.to_string()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("maildev runs (npm install -g maildev@3.0)");
        let maildev =
            Maildev { child, smtp_port, web: format!("http://127.0.0.1:{web_port}"), http: reqwest::Client::new() };
        // Node starts slowly on two busy cores: 15 s was once not enough during the full suite.
        for _ in 0..300 {
            let smtp_up = tokio::net::TcpStream::connect(("127.0.0.1", smtp_port)).await.is_ok();
            if smtp_up && maildev.http.get(format!("{}/api/email", maildev.web)).send().await.is_ok() {
                return maildev;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("maildev did not start on ports {smtp_port}/{web_port}");
    }

    pub(crate) fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.smtp_port)
    }

    /// Every email maildev received.
    pub(crate) async fn emails(&self) -> Vec<Value> {
        let response = self.http.get(format!("{}/api/email", self.web)).send().await.unwrap();
        response.json::<Vec<Value>>().await.unwrap()
    }

    /// The message as it arrived (headers and MIME body), for headers maildev does not parse.
    pub(crate) async fn source(&self, email: &Value) -> String {
        let id = email["id"].as_str().unwrap();
        self.http.get(format!("{}/api/email/{id}/source", self.web)).send().await.unwrap().text().await.unwrap()
    }

    /// Waits until maildev holds at least `n` emails (bounded), and returns them.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..300 {
            let emails = self.emails().await;
            if emails.len() >= n {
                return emails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("maildev received fewer than {n} emails in 30 s: {:?}", self.emails().await.len());
    }
}

/// The value of header `name` in a raw message (folded lines joined), or "" when absent.
pub(crate) fn raw_header(source: &str, name: &str) -> String {
    let head = source.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

impl Drop for Maildev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
