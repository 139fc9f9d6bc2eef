//! The API keeps its own contract: schemathesis (PyPI) reads the OpenAPI document of a running
//! server and fuzzes every operation with `--checks all` (status codes, schemas, content types,
//! headers, unsupported methods, auth, resources after changes); it must find nothing.
//! CI installs it and sets OFFSTAGE_TEST_SCHEMATHESIS=1.

use std::time::Duration;

use crate::helpers::{Backend, TestApp};

fn schemathesis_configured() -> bool {
    let configured = std::env::var("OFFSTAGE_TEST_SCHEMATHESIS").is_ok_and(|v| v == "1");
    if !configured {
        eprintln!("OFFSTAGE_TEST_SCHEMATHESIS is not 1: the schemathesis run does not happen here");
    }
    configured
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_and_no_error_in_the_api() {
    if !schemathesis_configured() {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&ws).await;
    let reports = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new("schemathesis")
        .arg("run")
        .arg(app.url("/api/v1/openapi.json"))
        .args(["--checks", "all", "--request-timeout", "40", "--generation-database", "none", "--no-color"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {key}"))
        .arg("--report-dir")
        .arg(reports.path())
        .current_dir(reports.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run).await.expect("schemathesis finished").unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found something:\n{report}");
    // "Test cases: 1334 generated, 1334 passed, 14 skipped": every generated case passed.
    let line = report.lines().find(|l| l.contains(" generated, ")).unwrap_or_else(|| panic!("no summary:\n{report}"));
    let numbers: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    assert!(numbers.len() >= 2 && numbers[0] == numbers[1] && numbers[0] > 100, "{line}\n{report}");
    assert!(!report.contains("Errors:") && !report.contains("Failures:"), "{report}");
}
