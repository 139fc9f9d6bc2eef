//! Exports (`offstage::exports`): every workspace as CSV or JSON Lines from Platform → Exports
//! and from the command line, a workspace's own data as a ZIP for its owners only, expiry, and
//! a chain step run again after a crash, on disk and on an S3-compatible server.

mod resume;
mod workspace_data;

use chrono::Utc;
use offstage::db::entities::{email, export, health_score, monthly_revenue, workspace};
use offstage::domain::{Month, Role};
use reqwest::StatusCode;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::cli::{offstage, stdout};
use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, location};
use crate::on_both_databases;

/// The columns of the all-workspaces export, in order.
const HEADER: &str = "id,slug,name,created_at,timezone,plan,subscription_status,trial_ends_at,members,owner_emails,health_score,last_month_net,last_month_currency,runs_last_30_days,emails_last_30_days";

/// `count` bare workspaces (no members, no runs), inserted in bulk.
pub(crate) async fn bulk_workspaces(app: &TestApp, count: usize) {
    let rows: Vec<workspace::ActiveModel> = (0..count)
        .map(|n| workspace::ActiveModel {
            id: Set(format!("ws_bulk{n:06}")),
            name: Set(format!("Bulk {n}")),
            slug: Set(format!("bulk-{n}")),
            timezone: Set("UTC".into()),
            plan: Set("free".into()),
            subscription_status: Set("none".into()),
            trial_ends_at: Set(None),
            stripe_customer_id: Set(None),
            stripe_subscription_id: Set(None),
            created_at: Set(Utc::now()),
            current_period_end: Set(None),
            cancel_at_period_end: Set(false),
            billing_event_key: Set(None),
        })
        .collect();
    for chunk in rows.chunks(500) {
        workspace::Entity::insert_many(chunk.to_vec()).exec(&app.db).await.unwrap();
    }
}

/// Acme with two owners and a member, a health score, last month's revenue in two currencies,
/// an email and a run: every figure of its row has something to show.
async fn acme(app: &TestApp) -> workspace::Model {
    let acme = app.create_workspace("Acme", &app.admin).await;
    let second = app.create_user("second-owner@acme.test").await;
    app.add_member(&acme, &second, Role::Owner).await;
    let member = app.create_user("member@acme.test").await;
    app.add_member(&acme, &member, Role::Member).await;
    for (score, minutes_ago) in [(40, 60), (77, 1)] {
        let row = health_score::ActiveModel {
            workspace_id: Set(acme.id.clone()),
            score: Set(score),
            factors: Set("{}".into()),
            computed_at: Set(Utc::now() - chrono::Duration::minutes(minutes_ago)),
            ..Default::default()
        };
        health_score::Entity::insert(row).exec(&app.db).await.unwrap();
    }
    for (currency, net) in [("usd", 3_300), ("eur", 100)] {
        let row = monthly_revenue::ActiveModel {
            workspace_id: Set(acme.id.clone()),
            month: Set(Month::last(Utc::now()).to_string()),
            currency: Set(currency.into()),
            gross: Set(net),
            refunded: Set(0),
            net: Set(net),
            invoices: Set(1),
            mrr: Set(0),
        };
        monthly_revenue::Entity::insert(row).exec(&app.db).await.unwrap();
    }
    let mail = email::ActiveModel {
        id: Set("eml_export_test".into()),
        workspace_id: Set(Some(acme.id.clone())),
        recipient: Set("member@acme.test".into()),
        kind: Set("weekly_digest".into()),
        category: Set("lifecycle".into()),
        subject: Set("Your week".into()),
        html: Set("<p>secret body</p>".into()),
        text: Set("secret body".into()),
        dedupe_key: Set("export-test".into()),
        message_id: Set("<export-test@offstage>".into()),
        status: Set("sent".into()),
        attempts: Set(1),
        last_error: Set(None),
        transport: Set(None),
        created_at: Set(Utc::now()),
        sent_at: Set(Some(Utc::now())),
    };
    email::Entity::insert(mail).exec(&app.db).await.unwrap();
    let params = offstage::engine::probe::Params::noop(&acme.id);
    offstage::engine::runs::start(&app.db, offstage::engine::NewRun::of::<offstage::engine::probe::Probe>(&params))
        .await
        .unwrap();
    app.drain_jobs_due().await;
    acme
}

/// Acme's runs (all of the last 30 days), counted apart from the export.
async fn runs_of(app: &TestApp, ws: &workspace::Model) -> u64 {
    use offstage::db::entities::workflow_run;
    workflow_run::Entity::find().filter(workflow_run::Column::WorkspaceId.eq(&ws.id)).count(&app.db).await.unwrap()
}

async fn newest_export(app: &TestApp) -> export::Model {
    use sea_orm::QueryOrder;
    export::Entity::find().order_by_desc(export::Column::CreatedAt).one(&app.db).await.unwrap().expect("an export")
}

on_both_databases! {
    async fn exporting_all_workspaces_writes_one_row_each_with_its_figures_in_runs_of_1000_as_csv_or_json_lines(app: TestApp) {
        let acme = acme(&app).await;
        bulk_workspaces(&app, 2_100).await;
        let workspaces = workspace::Entity::find().count(&app.db).await.unwrap();
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let (status, html) = admin.get_html("/admin/platform/exports").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("No export yet"), "an empty state before the first export");

        let response = admin.post_form("/admin/platform/exports", &[("format", "csv")]).await;
        assert_eq!(location(&response), "/admin/platform/exports");
        app.drain_jobs_due().await;
        let (_, html) = admin.get_html("/admin/platform/exports").await;
        assert!(html.contains("Exporting every workspace as CSV"), "a flash says it started");
        let done = newest_export(&app).await;
        assert_eq!((done.status.as_str(), done.rows as u64, done.total_rows as u64), ("succeeded", workspaces, workspaces));
        assert!(html.contains("export-succeeded") && html.contains(&format!("/admin/platform/exports/{}/download", done.id)), "{html}");
        assert!(html.contains(&workspaces.to_string()) && html.contains(ADMIN_EMAIL), "rows and who asked");
        let chain = offstage::engine::runs::list(&app.db, &offstage::tenancy::Platform::system(), &offstage::engine::runs::RunFilter {
            workflow: Some("export_workspaces".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(chain.len(), 3, "2,103 workspaces are 3 runs of 1,000");
        assert!(chain.iter().all(|run| run.status == offstage::engine::RunStatus::Succeeded));

        let response = admin.get(&format!("/admin/platform/exports/{}/download", done.id)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.contains(&format!("workspaces-{}.csv", Utc::now().format("%Y-%m-%d"))), "{disposition}");
        let body = response.text().await.unwrap();
        assert_eq!(body.len() as i64, done.bytes.unwrap());
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>().join(","), HEADER);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len() as u64, workspaces, "one row per workspace");
        let ids: std::collections::BTreeSet<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(ids.len() as u64, workspaces, "each workspace once");
        let row = rows.iter().find(|r| &r[0] == acme.id.as_str()).unwrap();
        let runs = runs_of(&app, &acme).await;
        assert!(runs >= 2, "workspace creation and the probe");
        let emails = email::Entity::find().filter(email::Column::WorkspaceId.eq(&acme.id)).count(&app.db).await.unwrap();
        assert!(emails >= 3, "two invitations and the digest");
        let expected = [
            acme.id.as_str(), "acme", "Acme", &acme.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "Europe/Berlin", "free", "none", "", "3", &format!("{ADMIN_EMAIL}; second-owner@acme.test"),
            "77", "33.00", "USD", &runs.to_string(), &emails.to_string(),
        ];
        assert_eq!(row.iter().collect::<Vec<_>>(), expected);

        admin.post_form("/admin/platform/exports", &[("format", "jsonl")]).await;
        app.drain_jobs_due().await;
        let jsonl = newest_export(&app).await;
        assert_eq!(jsonl.format, "jsonl");
        let response = admin.get(&format!("/admin/platform/exports/{}/download", jsonl.id)).await;
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let body = response.text().await.unwrap();
        assert_eq!(body.lines().count() as u64, workspaces);
        let acme_line = body.lines().find(|l| l.contains(&acme.id)).unwrap();
        let object: serde_json::Value = serde_json::from_str(acme_line).unwrap();
        assert_eq!(object["members"], 3);
        assert_eq!(object["owner_emails"], serde_json::json!([ADMIN_EMAIL, "second-owner@acme.test"]));
        assert_eq!((object["health_score"].as_i64(), object["last_month_net"].as_str()), (Some(77), Some("33.00")));
        assert!(object["trial_ends_at"].is_null());

        let bad = admin.post_form("/admin/platform/exports", &[("format", "xlsx")]).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(export::Entity::find().count(&app.db).await.unwrap(), 2, "a bad format starts nothing");
    }

    async fn offstage_export_workspaces_writes_the_file_and_prints_its_counts(app: TestApp) {
        let acme = acme(&app).await;
        bulk_workspaces(&app, 1_200).await;
        let workspaces = workspace::Entity::find().count(&app.db).await.unwrap();
        let out = app.config.data_dir.join("all.jsonl");
        let output = offstage(&app, &["export", "workspaces", "--out", out.to_str().unwrap(), "--format", "jsonl"], "");
        assert!(output.status.success(), "{output:?}");
        let printed: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!(printed["rows"], workspaces);
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(printed["bytes"], text.len() as u64);
        assert_eq!(text.lines().count() as u64, workspaces);
        assert!(text.lines().any(|l| l.contains(&acme.id) && l.contains("\"members\":3")), "acme's row");
        let csv_out = app.config.data_dir.join("all.csv");
        let output = offstage(&app, &["export", "workspaces", "--out", csv_out.to_str().unwrap()], "");
        assert!(output.status.success(), "{output:?}");
        let text = std::fs::read_to_string(&csv_out).unwrap();
        assert!(text.starts_with(&format!("{HEADER}\r\n")));
        assert_eq!(text.lines().count() as u64, workspaces + 1);
    }

    async fn platform_exports_are_for_platform_admins_only(app: TestApp) {
        let acme = acme(&app).await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        admin.post_form("/admin/platform/exports", &[("format", "csv")]).await;
        app.drain_jobs_due().await;
        let done = newest_export(&app).await;
        let owner = app.create_user("owner@acme.test").await;
        app.add_member(&acme, &owner, Role::Owner).await;
        let owner = app.sign_in("owner@acme.test").await;
        for path in ["/admin/platform/exports".to_owned(), format!("/admin/platform/exports/{}/download", done.id)] {
            assert_eq!(owner.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let response = owner.post_form("/admin/platform/exports", &[("format", "csv")]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(export::Entity::find().count(&app.db).await.unwrap(), 1);
        let path = format!("/admin/workspaces/{}/exports/{}/download", acme.slug, done.id);
        assert_eq!(owner.get(&path).await.status(), StatusCode::NOT_FOUND, "not through a workspace either");
    }
}

async fn an_export_no_worker_has_picked_up_yet_shows_as_running_with_a_live_progress_bar(backend: Backend) {
    let web_only = TestApp::spawn_web_only(backend).await;
    let admin = web_only.sign_in(ADMIN_EMAIL).await;
    admin.post_form("/admin/platform/exports", &[("format", "jsonl")]).await;
    let export = newest_export(&web_only).await;
    let (_, html) = admin.get_html("/admin/platform/exports").await;
    assert!(html.contains("export-running"), "{html}");
    let run = export.run_id.unwrap();
    assert!(
        html.contains(&format!("data-progress-url=\"/admin/platform/runs/{run}/progress\"")),
        "the live bar polls the chain"
    );
    assert!(html.contains("<progress") && !html.contains("/download"), "no download before the file is whole");
    let early = admin.get(&format!("/admin/platform/exports/{}/download", export.id)).await;
    assert_eq!(early.status(), StatusCode::CONFLICT, "not finished yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_no_worker_has_picked_up_yet_shows_as_running_with_a_live_progress_bar_on_sqlite() {
    an_export_no_worker_has_picked_up_yet_shows_as_running_with_a_live_progress_bar(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_no_worker_has_picked_up_yet_shows_as_running_with_a_live_progress_bar_on_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    an_export_no_worker_has_picked_up_yet_shows_as_running_with_a_live_progress_bar(Backend::Postgres).await;
}
