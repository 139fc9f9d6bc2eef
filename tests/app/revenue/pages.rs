//! Revenue as people see it: Platform → Revenue (totals, ranking, chart, CSV, recalculate with
//! its progress), a workspace's Billing tab, and `offstage revenue`.

use offstage::domain::Role;
use reqwest::StatusCode;
use sea_orm::EntityTrait;

use chrono::Duration;

use super::{calculate, deliver_all, paid_invoice, seed_month, test_month};
use crate::cli::{offstage, one_error_line, stdout};
use crate::helpers::{ADMIN_EMAIL, location};
use crate::on_both_databases;

on_both_databases! {
    async fn the_platform_revenue_page_shows_totals_a_ranking_a_chart_and_downloads_the_month_as_csv(app: TestApp) {
        let month = test_month();
        let (acme, _) = seed_month(&app, month).await;
        let bigco = app.create_workspace("Bigco", &app.admin).await;
        deliver_all(&app, &[paid_invoice(&bigco, "in_big", (9_000, "usd"), month.start() + Duration::days(9), None)]).await;
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let page = format!("/admin/platform/revenue?month={month}");
        let (status, html) = admin.get_html(&page).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("has not been calculated yet"), "an empty state before the first calculation");
        let response = admin.get(&format!("/admin/platform/revenue/export?month={month}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "no CSV of a month never computed");

        let response = admin.post_form("/admin/platform/revenue/recalculate", &[("month", &month.to_string())]).await;
        assert_eq!(location(&response), page);
        app.drain_jobs_due().await;
        let (_, html) = admin.get_html(&page).await;
        assert!(html.contains(&format!("Recalculating {month}")), "a flash says it started");
        assert!(html.contains("123.00 USD") && html.contains("12000 JPY") && html.contains("49.05 EUR"), "totals per currency");
        assert!(html.find("Bigco").unwrap() < html.find("Acme").unwrap(), "ranked by net revenue within a currency");
        assert!(html.contains("<svg class=\"chart\"") && html.contains("Net revenue, USD"), "a chart per currency");
        assert!(html.contains(&format!("{month} was calculated")), "when it was calculated");

        let response = admin.get(&format!("/admin/platform/revenue/export?month={month}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains(&format!("revenue-{month}.csv")));
        let csv = response.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "workspace_id,workspace_slug,workspace_name,currency,gross,refunded,net,invoices,mrr");
        assert_eq!(lines.len(), 5, "{csv}");
        assert!(lines.contains(&format!("{},acme,Acme,usd,50.00,17.00,33.00,2,20.00", acme.id).as_str()), "{csv}");
        assert!(lines.iter().any(|l| l.ends_with(",jpy,12000,0,12000,1,1000")), "{csv}");

        let first = offstage::engine::runs::list(&app.db, &offstage::tenancy::Platform::system(), &offstage::engine::runs::RunFilter {
            workflow: Some("calculate_monthly_revenue".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0);
        let progress: serde_json::Value = admin.get(&format!("/admin/platform/runs/{}/progress", first.id)).await.json().await.unwrap();
        let workspaces = offstage::db::entities::workspace::Entity::find().all(&app.db).await.unwrap().len() as u64;
        assert_eq!(progress["processed"], workspaces, "{progress}");
        assert_eq!(progress["total"], workspaces);
        assert_eq!(progress["in_progress"], false);
        assert_eq!(progress["status"], "succeeded");
        assert_eq!(progress["label"], format!("{workspaces} of {workspaces}"));

        let bad = admin.post_form("/admin/platform/revenue/recalculate", &[("month", "2026-13")]).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = admin.get_html("/admin/platform/revenue?month=last").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn revenue_is_for_platform_admins_and_a_workspace_sees_only_its_own_months_on_its_billing_tab(app: TestApp) {
        let month = test_month();
        let (acme, kaisha) = seed_month(&app, month).await;
        calculate(&app, month).await;
        let owner = app.create_user("owner@acme.test").await;
        app.add_member(&acme, &owner, Role::Owner).await;
        let member = app.sign_in("owner@acme.test").await;
        for path in [
            format!("/admin/platform/revenue?month={month}"),
            format!("/admin/platform/revenue/export?month={month}"),
        ] {
            assert_eq!(member.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let response = member.post_form("/admin/platform/revenue/recalculate", &[("month", &month.to_string())]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);

        let (status, html) = member.get_html(&format!("/admin/workspaces/{}/billing", acme.slug)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Revenue, the last 12 months") && html.contains(&month.to_string()));
        assert!(html.contains("33.00 USD") && html.contains("17.00 USD") && html.contains("<svg class=\"chart\""), "its own month");
        assert!(!html.contains("JPY") && !html.contains("EUR"), "nothing of another workspace");
        let (status, _) = member.get_html(&format!("/admin/workspaces/{}/billing", kaisha.slug)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A run's progress is read within its workspace, like the run.
        let params = offstage::engine::probe::Params::noop(&kaisha.id);
        let probe = offstage::engine::runs::start(&app.db, offstage::engine::NewRun::of::<offstage::engine::probe::Probe>(&params)).await.unwrap();
        app.drain_jobs_due().await;
        let path = format!("/admin/workspaces/{}/runs/{}/progress", kaisha.slug, probe.id);
        assert_eq!(member.get(&path).await.status(), StatusCode::NOT_FOUND, "not a member of kaisha");
        assert_eq!(member.get(&format!("/admin/workspaces/{}/runs/{}/progress", acme.slug, probe.id)).await.status(), StatusCode::NOT_FOUND, "not a run of acme");
        assert_eq!(member.get(&format!("/admin/platform/runs/{}/progress", probe.id)).await.status(), StatusCode::NOT_FOUND);
        let admin = app.sign_in(ADMIN_EMAIL).await;
        let response = admin.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let progress: serde_json::Value = response.json().await.unwrap();
        assert_eq!((progress["in_progress"].as_bool(), progress["status"].as_str()), (Some(false), Some("succeeded")), "{progress}");
    }

    async fn offstage_revenue_computes_a_month_never_computed_and_prints_it_as_csv_or_json(app: TestApp) {
        let month = test_month();
        let (acme, _) = seed_month(&app, month).await;
        let month_arg = month.to_string();
        let csv = offstage(&app, &["revenue", "--month", &month_arg], "");
        assert!(csv.status.success(), "{csv:?}");
        let text = stdout(&csv);
        assert!(text.starts_with("workspace_id,workspace_slug,workspace_name,currency,gross,refunded,net,invoices,mrr\n"));
        assert!(text.contains(&format!("{},acme,Acme,usd,50.00,17.00,33.00,2,20.00", acme.id)), "{text}");
        let json = offstage(&app, &["revenue", "--month", &month_arg, "--format", "json"], "");
        assert!(json.status.success(), "{json:?}");
        let rows: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
        let usd = rows.as_array().unwrap().iter().find(|r| r["currency"] == "usd").unwrap();
        assert_eq!((usd["net"].as_str(), usd["invoices"].as_i64(), usd["workspace_slug"].as_str()), (Some("33.00"), Some(2), Some("acme")));
        let bad = offstage(&app, &["revenue", "--month", "November"], "");
        assert!(one_error_line(&bad).contains("write it as YYYY-MM"));
    }
}
