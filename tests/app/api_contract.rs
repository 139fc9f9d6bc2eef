//! The API keeps its own contract: schemathesis (PyPI) reads the OpenAPI document of a running
//! server and fuzzes every operation with every check (status codes, schemas, content types,
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
    // Every schema-valid import must be accepted: the daily invitation limit (tested on its own)
    // is set out of the fuzzer's reach.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.limits.invitations_per_day = 1_000_000).await;
    let ws = app.create_workspace("Acme", &app.admin).await;
    let key = app.api_key(&ws).await;
    let reports = tempfile::tempdir().unwrap();
    // Every check, as `--checks all` would (a command-line flag would win over the file's
    // per-operation settings), with two exceptions, each tested on its own in tests/app/imports:
    // - the members import's body is a CSV file, and JSON Schema cannot say which files are
    //   importable, so the two checks that judge acceptance by the schema alone are off for it;
    // - `DELETE /imports/{id}` cancels an import (the API) and a cancelled import stays
    //   readable with its counts, where "use after free" expects a 404. It shows only when the
    //   stateful phase cancels an import before a worker finished it (CI's slower machine did).
    std::fs::write(
        reports.path().join("schemathesis.toml"),
        "[checks]\nenabled = true\n\n[[operations]]\ninclude-path = \"/imports/members\"\n\
         checks.positive_data_acceptance.enabled = false\nchecks.negative_data_rejection.enabled = false\n\n\
         [[operations]]\ninclude-operation-id = \"getImport\"\nchecks.use_after_free.enabled = false\n",
    )
    .unwrap();
    let run = tokio::process::Command::new("schemathesis")
        .arg("run")
        .arg(app.url("/api/v1/openapi.json"))
        .args(["--request-timeout", "40", "--generation-database", "none", "--no-color"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {key}"))
        .arg("--report-dir")
        .arg(reports.path())
        .current_dir(reports.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run).await.expect("schemathesis finished").unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("REPORT\n{report}");
    // The failures section alone, so that it is what a CI log's tail shows.
    let failures = report.find("= FAILURES =").map_or(report.as_str(), |at| &report[at..]);
    assert!(output.status.success(), "schemathesis found something:\n{failures}");
    // "Test cases: 1334 generated, 1334 passed, 14 skipped": every generated case passed.
    let line = report.lines().find(|l| l.contains(" generated, ")).unwrap_or_else(|| panic!("no summary:\n{report}"));
    let numbers: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    assert!(numbers.len() >= 2 && numbers[0] == numbers[1] && numbers[0] > 100, "{line}\n{report}");
    assert!(!report.contains("Errors:") && !report.contains("Failures:"), "{report}");
}
