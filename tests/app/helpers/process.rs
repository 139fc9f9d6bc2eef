//! An `offstage` binary run as a child process: waiting until it serves, stopping it with
//! SIGTERM as an operator would.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) when dropped, so none outlives a test that failed early.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `offstage {verb}` in `dir` (its data directory too), serving on 127.0.0.1:`port` with the
/// test password for its first admin `owner@example.com`, logging at `log`, stdout and stderr
/// piped; the caller adds what it needs and spawns it.
pub fn offstage(verb: &str, dir: &std::path::Path, port: u16, log: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_offstage"));
    command
        .arg(verb)
        .current_dir(dir)
        .env("OFFSTAGE_DATA_DIR", dir)
        .env("OFFSTAGE_SECRET_KEY", "child-secret-key-child-secret-key-child-secret-key-0123456789")
        .env("OFFSTAGE_ADMIN_EMAIL", "owner@example.com")
        .env("OFFSTAGE_ADMIN_PASSWORD", super::PASSWORD)
        .env("OFFSTAGE_BIND", format!("127.0.0.1:{port}"))
        .env("OFFSTAGE_LOG", log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (up to `limit`) until `/healthz` on `port` answers 200; fails with the child's stderr
/// if it exits first.
pub async fn wait_until_serving(child: &mut Child, port: u16, limit: Duration) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await {
            assert_eq!(response.status(), 200);
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("offstage exited before serving ({status}): {}", read_all(child.stderr.take()));
        }
        assert!(started.elapsed() < limit, "offstage did not start serving within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM and waits (up to 40 s) until the child exits; returns how.
pub async fn stop_with_sigterm(child: &mut Child) -> ExitStatus {
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "offstage did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Everything left in a child's pipe.
pub fn read_all(pipe: Option<impl std::io::Read>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        std::io::Read::read_to_string(&mut pipe, &mut text).unwrap();
    }
    text
}
