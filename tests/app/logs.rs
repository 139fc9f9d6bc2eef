//! What a running `offstage serve` logs with `OFFSTAGE_LOG_FORMAT=json`: one JSON object per
//! line, and a request's id (the client's `X-Request-Id`, echoed back) on its access-log line
//! and on the log lines of the run it started.

use std::time::Duration;

use crate::helpers::process::{KillOnDrop, free_port, offstage, read_all, stop_with_sigterm, wait_until_serving};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_from_the_request_into_the_run_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut serve = offstage("serve", dir.path(), port, "info,offstage::engine::execute=debug");
    serve.env("OFFSTAGE_LOG_FORMAT", "json");
    let mut child = KillOnDrop(serve.spawn().expect("run offstage serve"));
    wait_until_serving(&mut child.0, port, Duration::from_secs(60)).await;
    let cli = |args: &[&str]| {
        let output = offstage(args[0], dir.path(), port, "warn").args(&args[1..]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let workspace: serde_json::Value =
        serde_json::from_str(&cli(&["workspace", "create", "--name", "Acme", "--owner", "owner@example.com"])).unwrap();
    let key = cli(&["api-key", "create", "--workspace", "acme", "--name", "Logs"]).lines().last().unwrap().to_owned();

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let response = client
        .post(format!("{base}/api/v1/workflows/refresh_workspace_health/runs"))
        .bearer_auth(&key)
        .header("X-Request-Id", "req-json-1")
        .json(&serde_json::json!({ "wait": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-json-1", "echoed back");
    let run: serde_json::Value = response.json().await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    let made = client.get(format!("{base}/healthz")).header("X-Request-Id", "has a space").send().await.unwrap();
    let made = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 26, "an id that is not plain is replaced by a new one: {made}");

    assert!(stop_with_sigterm(&mut child.0).await.success());
    let log = read_all(child.0.stderr.take());
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON object: {line}")))
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
    }
    let access = lines
        .iter()
        .find(|l| {
            l["message"].as_str().is_some_and(|m| m.contains("POST /api/v1/workflows/refresh_workspace_health/runs"))
        })
        .unwrap_or_else(|| panic!("no access-log line: {log}"));
    assert!(access["message"].as_str().unwrap().ends_with("req-json-1"), "{access}");
    let attempt = lines
        .iter()
        .find(|l| l["message"] == "attempt ended" && l["span"]["run_id"] == run["id"])
        .unwrap_or_else(|| panic!("no line of the run: {log}"));
    assert_eq!(attempt["span"]["request_id"], "req-json-1", "{attempt}");
    assert_eq!(attempt["span"]["workflow"], "refresh_workspace_health");
    assert_eq!(attempt["span"]["workspace_id"], workspace["id"]);
    assert_eq!(attempt["outcome"], "succeeded");
}
