//! What the access log of a running `offstage serve` shows: the request lines of invitation and
//! unsubscribe links without their tokens (the log is read by more people than the mailbox).

use std::time::Duration;

use crate::helpers::process::{KillOnDrop, free_port, offstage, read_all, stop_with_sigterm, wait_until_serving};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_and_unsubscribe_tokens_never_reach_the_access_log() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = KillOnDrop(offstage("serve", dir.path(), port, "info").spawn().expect("run offstage serve"));
    wait_until_serving(&mut child.0, port, Duration::from_secs(60)).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let secrets = ["invitesecret0123456789abcdef", "unsubscribesecret.c2lnbmF0dXJl", "resetsecret42", "nextsecret77"];
    for path in [
        format!("/invitations/{}", secrets[0]),
        format!("/unsubscribe/{}?from=footer", secrets[1]),
        format!("/login?token={}&next=/admin", secrets[2]),
        format!("/login?next=%2Finvitations%2F{}", secrets[3]),
    ] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    let status = stop_with_sigterm(&mut child.0).await;
    assert!(status.success());
    let log = read_all(child.0.stderr.take());
    assert!(log.contains("\"GET /invitations/[redacted] HTTP/1.1\" 404"), "{log}");
    assert!(log.contains("\"GET /unsubscribe/[redacted]?from=footer HTTP/1.1\""), "{log}");
    assert!(log.contains("\"GET /login?token=[redacted]&next=/admin HTTP/1.1\" 200"), "{log}");
    assert!(
        log.contains("\"GET /login?next=/invitations/[redacted] HTTP/1.1\" 200"),
        "the way back to an invitation: {log}"
    );
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} is in the log: {log}");
    }
}
