//! Email at volume: the outbox writer commits concurrent runs' emails together (each run told
//! which of its own were written, a bad one failing alone) and their sent marks together, the
//! delivery loader reads concurrent deliveries' emails together (each told its own), and
//! delivery uses as many SMTP connections at once as `OFFSTAGE_SMTP_CONNECTIONS` says, and no
//! more.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use offstage::config::Secret;
use offstage::engine::Priority;
use offstage::mail::{Category, DeliveryLoader, Error, NewEmail, OutboxWriter, Rendered, outbox, unsubscribe};
use sea_orm::{ConnectionTrait, Statement};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::*;
use crate::on_both_databases;

fn email(workspace_id: &str, dedupe_key: &str) -> NewEmail {
    NewEmail {
        workspace_id: Some(workspace_id.to_owned()),
        recipient: format!("{}@example.com", dedupe_key.replace(':', "-")),
        kind: "volume",
        category: Category::Transactional,
        dedupe_key: dedupe_key.to_owned(),
        rendered: Rendered { subject: dedupe_key.to_owned(), html: "<p>Hi</p>".into(), text: "Hi".into() },
    }
}

/// The `send_email` runs of the email `id`.
async fn send_runs(app: &TestApp, id: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM workflow_runs WHERE workflow = 'send_email' AND business_key = $1",
            [outbox::business_key(id).into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

on_both_databases! {
    async fn the_outbox_writer_writes_concurrent_runs_emails_once_each_in_their_class_and_a_bad_one_fails_alone(app: TestApp) {
        let ws = app.create_workspace("Volume", &app.admin).await;
        let writer = OutboxWriter::start(app.db.clone(), "example.com".into());
        // 24 runs at once, each with an email of its own and one every run shares, the even ones'
        // sent as bulk work and the odd ones' as urgent; run 5's workspace does not exist.
        let class = |i: usize| if i.is_multiple_of(2) { Priority::Bulk } else { Priority::Urgent };
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let (writer, ws_id) = (writer.clone(), if i == 5 { "ws_missing".to_owned() } else { ws.id.clone() });
                tokio::spawn(async move {
                    let emails = vec![email(&ws_id, &format!("own:{i}")), email(&ws_id, "shared")];
                    writer.enqueue(emails, class(i)).await
                })
            })
            .collect();
        let mut written: HashMap<usize, Vec<String>> = HashMap::new();
        for (i, handle) in handles.into_iter().enumerate() {
            match handle.await.unwrap() {
                Ok(ids) => {
                    written.insert(i, ids);
                }
                Err(err) => assert_eq!(i, 5, "run {i} failed: {err}"),
            }
        }
        assert!(!written.contains_key(&5), "the run of a missing workspace wrote its emails");
        assert_eq!(written.len(), 23);
        let rows = app.emails_of("volume").await;
        let keys: HashSet<&str> = rows.iter().map(|e| e.dedupe_key.as_str()).collect();
        assert_eq!(rows.len(), 24, "23 own emails and the shared one, once: {keys:?}");
        assert!(keys.contains("shared") && !keys.contains("own:5"));
        // Each run is told exactly the emails it wrote: its own, and the shared one for one run.
        let by_id: HashMap<&str, &str> = rows.iter().map(|e| (e.id.as_str(), e.dedupe_key.as_str())).collect();
        let mut shared_writers = 0;
        for (i, ids) in &written {
            let mut got: Vec<&str> = ids.iter().map(|id| by_id[id.as_str()]).collect();
            got.sort();
            let own = format!("own:{i}");
            match got.as_slice() {
                [only] => assert_eq!(*only, own),
                [first, second] => {
                    assert_eq!((*first, *second), (own.as_str(), "shared"));
                    shared_writers += 1;
                }
                other => panic!("run {i} was told {other:?}"),
            }
        }
        assert_eq!(shared_writers, 1);
        for (i, ids) in &written {
            assert_eq!(app.delivery_priority(&ids[0]).await, class(*i).queue_value(), "run {i}'s email's class");
        }
        for row in &rows {
            assert_eq!(send_runs(&app, &row.id).await, 1, "{} has no single send_email run", row.dedupe_key);
        }
        // A run that writes again what it wrote is told nothing was written.
        let again = writer.enqueue(vec![email(&ws.id, "own:0"), email(&ws.id, "shared")], Priority::Urgent).await.unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

}

/// An app without workers (theirs would deliver the emails and mark them themselves), its outbox
/// writer, and the ids of twelve emails it queued, keyed `{prefix}:0` to `{prefix}:11`.
async fn twelve_queued_emails(backend: Backend, prefix: &str) -> (TestApp, OutboxWriter, Vec<String>) {
    let app = TestApp::spawn_web_only(backend).await;
    let ws = app.create_workspace("Volume", &app.admin).await;
    let writer = OutboxWriter::start(app.db.clone(), "example.com".into());
    let emails: Vec<NewEmail> = (0..12).map(|i| email(&ws.id, &format!("{prefix}:{i}"))).collect();
    let ids = writer.enqueue(emails, Priority::Urgent).await.unwrap();
    assert_eq!(ids.len(), 12);
    (app, writer, ids)
}

async fn the_outbox_writer_marks_concurrent_sends_each_once_with_its_own_transport(backend: Backend) {
    let (app, writer, ids) = twelve_queued_emails(backend, "mark").await;
    let transport = |i: usize| if i.is_multiple_of(3) { "captured" } else { "smtp" };
    let marks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (writer, id) = (writer.clone(), id.clone());
            tokio::spawn(async move { writer.mark_sent(id, transport(i)).await })
        })
        .collect();
    for mark in marks {
        mark.await.unwrap().unwrap();
    }
    // Each mark is committed when its send is told: the rows say so right away.
    let rows: HashMap<String, _> = app.emails_of("volume").await.into_iter().map(|e| (e.id.clone(), e)).collect();
    for (i, id) in ids.iter().enumerate() {
        let row = &rows[id];
        assert_eq!(row.status, "sent", "{}", row.dedupe_key);
        assert_eq!(row.transport.as_deref(), Some(transport(i)), "{}", row.dedupe_key);
        assert_eq!(row.attempts, 1, "{} was counted {} times", row.dedupe_key, row.attempts);
        assert!(row.sent_at.is_some() && row.last_error.is_none(), "{}", row.dedupe_key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_outbox_writer_marks_concurrent_sends_each_once_with_its_own_transport() {
    the_outbox_writer_marks_concurrent_sends_each_once_with_its_own_transport(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_outbox_writer_marks_concurrent_sends_each_once_with_its_own_transport() {
    if postgres_configured() {
        the_outbox_writer_marks_concurrent_sends_each_once_with_its_own_transport(Backend::Postgres).await;
    }
}

async fn the_delivery_loader_answers_concurrent_deliveries_each_with_its_own_email(backend: Backend) {
    let (app, _writer, ids) = twelve_queued_emails(backend, "load").await;
    unsubscribe::unsubscribe(&app.db, "load-4@example.com").await.unwrap();
    let loader = Arc::new(DeliveryLoader::start(offstage::db::readers(&app.db)));
    // Every email asked for twice at once (a run and its retry may share a batch), and one that
    // does not exist.
    let asked: Vec<String> = ids.iter().chain(&ids).cloned().chain(["eml_missing".to_owned()]).collect();
    let loads: Vec<_> = asked
        .iter()
        .map(|id| {
            let (loader, id) = (loader.clone(), id.clone());
            tokio::spawn(async move { loader.load(&id).await })
        })
        .collect();
    for (id, load) in asked.iter().zip(loads) {
        match load.await.unwrap() {
            Ok(delivery) => {
                assert_eq!(&delivery.email.id, id);
                let unsubscribed = delivery.email.recipient == "load-4@example.com";
                assert_eq!(delivery.unsubscribed, unsubscribed, "{}", delivery.email.recipient);
            }
            Err(Error::NotFound) => assert_eq!(id, "eml_missing"),
            Err(err) => panic!("loading {id}: {err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_delivery_loader_answers_concurrent_deliveries_each_with_its_own_email() {
    the_delivery_loader_answers_concurrent_deliveries_each_with_its_own_email(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_delivery_loader_answers_concurrent_deliveries_each_with_its_own_email() {
    if postgres_configured() {
        the_delivery_loader_answers_concurrent_deliveries_each_with_its_own_email(Backend::Postgres).await;
    }
}

/// An SMTP server on 127.0.0.1 that takes `delay` to accept each message: how many messages to
/// `pool-` addresses it received (the workspace's onboarding welcome, sent over the same server,
/// sometimes meanwhile, is not counted), how many connections were opened, and the most
/// messages it held at once.
struct SlowSmtp {
    port: u16,
    received: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    most_at_once: Arc<AtomicUsize>,
}

impl SlowSmtp {
    async fn start(delay: Duration) -> SlowSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (received, connections, most_at_once) = <(Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>)>::default();
        let in_data = Arc::new(AtomicUsize::new(0));
        let (r, c, m) = (received.clone(), connections.clone(), most_at_once.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (r, m, in_data) = (r.clone(), m.clone(), in_data.clone());
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 slow ESMTP\r\n").await;
                    let (mut data, mut counted) = (false, false);
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = if data {
                            if line != "." {
                                continue;
                            }
                            tokio::time::sleep(delay).await;
                            data = false;
                            in_data.fetch_sub(1, Ordering::SeqCst);
                            if counted {
                                r.fetch_add(1, Ordering::SeqCst);
                            }
                            b"250 queued\r\n"
                        } else {
                            match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                                Some("EHLO") => b"250-slow\r\n250 8BITMIME\r\n",
                                Some("RCPT") => {
                                    counted = line.contains("pool-");
                                    b"250 ok\r\n"
                                }
                                Some("DATA") => {
                                    data = true;
                                    let now = in_data.fetch_add(1, Ordering::SeqCst) + 1;
                                    m.fetch_max(now, Ordering::SeqCst);
                                    b"354 go ahead\r\n"
                                }
                                Some("QUIT") => b"221 bye\r\n",
                                _ => b"250 ok\r\n",
                            }
                        };
                        if write.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SlowSmtp { port, received, connections, most_at_once }
    }
}

async fn emails_go_out_over_as_many_smtp_connections_as_configured_and_no_more(backend: Backend) {
    let smtp = SlowSmtp::start(Duration::from_millis(150)).await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = TestApp::spawn_with(backend, move |config| {
        config.mail.smtp_url = Some(Secret::new(url));
        config.mail.smtp_connections = 3;
        config.worker_concurrency = 8;
    })
    .await;
    let ws = app.create_workspace("Volume", &app.admin).await;
    let emails: Vec<NewEmail> = (0..12).map(|i| email(&ws.id, &format!("pool:{i}"))).collect();
    let txn = offstage::db::begin_write(&app.db).await.unwrap();
    outbox::enqueue_in(&txn, &emails, "example.com").await.unwrap();
    txn.commit().await.unwrap();
    let started = std::time::Instant::now();
    while app.emails_of("volume").await.iter().filter(|e| e.status == "sent").count() < 12 {
        assert!(started.elapsed() < Duration::from_secs(30), "12 emails not sent within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(smtp.received.load(Ordering::SeqCst), 12);
    assert_eq!(smtp.connections.load(Ordering::SeqCst), 3, "connections opened");
    assert_eq!(smtp.most_at_once.load(Ordering::SeqCst), 3, "emails the server held at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_emails_go_out_over_as_many_smtp_connections_as_configured_and_no_more() {
    emails_go_out_over_as_many_smtp_connections_as_configured_and_no_more(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_emails_go_out_over_as_many_smtp_connections_as_configured_and_no_more() {
    if postgres_configured() {
        emails_go_out_over_as_many_smtp_connections_as_configured_and_no_more(Backend::Postgres).await;
    }
}
