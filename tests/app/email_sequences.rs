//! Lifecycle email without SMTP configured (mail is captured in the outbox): the trial-ending
//! email, onboarding, dunning, the weekly digest and unsubscribing, driven by letting days pass
//! on the queue's clock.

use chrono::{Duration, Utc};
use offstage::billing::workflows::send_trial_ending_email;
use offstage::domain::Role;
use offstage::engine::runs::{self, NewRun, RunFilter, RunStatus};
use offstage::workspaces::workflows::generate_weekly_digest;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use crate::stripe_webhooks::{event, object, subscription};

async fn trial_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| config.trial_days = Some(14)).await
}

on_both_databases! {
    async fn a_new_workspace_gets_a_welcome_email_captured_in_the_mailbox(app: TestApp) {
        let ws = app.create_workspace("Acme", &app.admin).await;
        app.drain_jobs_due().await;
        let welcome = app.emails_of("welcome").await;
        assert_eq!(welcome.len(), 1);
        let email = &welcome[0];
        assert_eq!(email.recipient, app.admin.email);
        assert_eq!(email.workspace_id.as_deref(), Some(ws.id.as_str()));
        assert_eq!((email.status.as_str(), email.transport.as_deref()), ("sent", Some("captured")));
        assert_eq!(email.subject, "Welcome to Acme");
        assert!(email.text.contains("Europe/Berlin") && email.html.contains("Europe/Berlin"));
        let admin = app.sign_in(&app.admin.email).await;
        let (status, page) = admin.get_html("/admin/platform/mailbox").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Welcome to Acme") && page.contains("OFFSTAGE_SMTP_URL"), "{page}");
        let (status, detail) = admin.get_html(&format!("/admin/platform/mailbox/{}", email.id)).await;
        assert_eq!(status, StatusCode::OK);
        let message_id_local = email.message_id.trim_matches(['<', '>']).split('@').next().unwrap();
        assert!(detail.contains(message_id_local), "{detail}");
        let html = admin.get(&format!("/admin/platform/mailbox/{}/html", email.id)).await;
        assert_eq!(html.status(), StatusCode::OK);
        assert!(html.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
        assert!(html.text().await.unwrap().contains("Welcome to Acme"));
    }

    async fn a_local_trial_schedules_one_trial_ending_email_three_days_before_its_end(app: TestApp) {
        let app = trial_app(if app.config.database_kind == offstage::config::DatabaseKind::Sqlite { Backend::Sqlite } else { Backend::Postgres }).await;
        let ws = app.create_workspace("Trialing", &app.admin).await;
        let admin_user = app.create_user("admin2@example.com").await;
        app.add_member(&ws, &admin_user, Role::Admin).await;
        let ends = ws.trial_ends_at.expect("a new workspace starts a trial");
        assert_eq!(ws.subscription_status, "trialing");
        assert!((ends - Utc::now() - Duration::days(14)).num_seconds().abs() < 60);
        let filter = RunFilter { workflow: Some("send_trial_ending_email".into()), limit: 5, ..RunFilter::default() };
        let pending = runs::list(&app.db, &app.scope(&ws), &filter).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].status, RunStatus::Scheduled);
        // apalis keeps whole seconds and rounds a future time up.
        assert!((pending[0].scheduled_for.unwrap() - (ends - Duration::days(3))).num_seconds().abs() <= 1);
        app.drain_jobs_due().await;
        assert!(app.emails_of("trial_ending").await.is_empty());
        app.let_days_pass(11).await;
        let sent = app.emails_of("trial_ending").await;
        let mut to: Vec<&str> = sent.iter().map(|e| e.recipient.as_str()).collect();
        to.sort();
        assert_eq!(to, ["admin2@example.com", "admin@example.com"]);
        let local_end = ws.tz().format(ends);
        assert!(sent.iter().all(|e| e.status == "sent" && e.subject.starts_with("Your Trialing trial ends in")), "{sent:?}");
        assert!(sent.iter().all(|e| e.text.contains(&local_end) && e.html.contains(&local_end)));
        // Stripe's trial_will_end raises the same email: nothing new.
        runs::start(&app.db, send_trial_ending_email::reminder(&ws.id, ends).at(Utc::now())).await.unwrap();
        app.drain_jobs_due().await;
        assert_eq!(app.emails_of("trial_ending").await.len(), 2);
    }

    async fn moving_the_trial_end_reschedules_the_email_for_the_new_date(app: TestApp) {
        let ws = app.create_workspace("Moving", &app.admin).await;
        let customer = "cus_moving";
        let mut sub = subscription(&ws, customer, "trialing");
        sub["trial_end"] = json!((Utc::now() + Duration::days(10)).timestamp());
        app.deliver(&event("evt_trial_1", "customer.subscription.created", Utc::now().timestamp() - 10, sub.clone())).await;
        app.drain_jobs_due().await;
        sub["trial_end"] = json!((Utc::now() + Duration::days(20)).timestamp());
        app.deliver(&event("evt_trial_2", "customer.subscription.updated", Utc::now().timestamp(), sub)).await;
        app.drain_jobs_due().await;
        app.let_days_pass(8).await;
        assert!(app.emails_of("trial_ending").await.is_empty(), "the old date's email was cancelled");
        app.let_days_pass(10).await;
        let sent = app.emails_of("trial_ending").await;
        assert_eq!(sent.len(), 1);
        let new_end = app.workspace(&ws.id).await.trial_ends_at.unwrap();
        assert!(sent[0].text.contains(&ws.tz().format(new_end)), "{}", sent[0].text);
    }

    async fn onboarding_skips_the_team_nudge_once_someone_joined_and_stops_at_conversion(app: TestApp) {
        let ws = app.create_workspace("Onboard", &app.admin).await;
        app.drain_jobs_due().await;
        assert_eq!(app.emails_of("welcome").await.len(), 1);
        let teammate = app.create_user("teammate@example.com").await;
        app.add_member(&ws, &teammate, Role::Member).await;
        app.let_days_pass(2).await;
        assert!(app.emails_of("invite_team").await.is_empty());
        let enrolment = app.enrolment(&ws.id, "onboarding").await;
        assert_eq!((enrolment.status.as_str(), enrolment.last_step.as_deref(), enrolment.steps_sent), ("active", Some("invite_team"), 1));
        // The workspace converts: the sequence stops at once, the day-5 step is cancelled.
        let sub = subscription(&ws, "cus_onboard", "active");
        app.deliver(&event("evt_onboard_paid", "customer.subscription.created", Utc::now().timestamp(), sub)).await;
        app.drain_jobs_due().await;
        let enrolment = app.enrolment(&ws.id, "onboarding").await;
        assert_eq!(enrolment.status, "stopped");
        assert_eq!(enrolment.stopped_reason.as_deref(), Some("the workspace converted to a paid plan"));
        assert_eq!(enrolment.next_step_at, None);
        app.let_days_pass(5).await;
        assert!(app.emails_of("choose_plan").await.is_empty());
        let admin = app.sign_in(&app.admin.email).await;
        let (_, page) = admin.get_html(&format!("/admin/workspaces/{}/emails", ws.slug)).await;
        assert!(page.contains("because the workspace converted to a paid plan") && page.contains("1 of 3"), "{page}");
    }

    async fn an_unconverted_single_member_workspace_gets_every_onboarding_email(app: TestApp) {
        let ws = app.create_workspace("Solo", &app.admin).await;
        app.drain_jobs_due().await;
        app.let_days_pass(2).await;
        app.let_days_pass(3).await;
        let kinds: Vec<String> = app.outbox().await.into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["welcome", "invite_team", "choose_plan"]);
        let enrolment = app.enrolment(&ws.id, "onboarding").await;
        assert_eq!((enrolment.status.as_str(), enrolment.steps_sent), ("completed", 3));
    }

    async fn an_unsubscribed_recipient_gets_no_lifecycle_mail_but_still_gets_billing_failures(app: TestApp) {
        let ws = app.create_workspace("Quiet", &app.admin).await;
        app.drain_jobs_due().await;
        let welcome = &app.emails_of("welcome").await[0];
        let link = offstage::mail::unsubscribe::link(&app.config, &app.admin.email);
        let path = link.trim_start_matches(&app.config.base_url);
        let confirm = app.anonymous().get(app.url(path)).send().await.unwrap();
        assert_eq!(confirm.status(), StatusCode::OK);
        assert!(!offstage::mail::unsubscribe::is_suppressed(&app.db, &app.admin.email).await.unwrap(), "a GET changes nothing");
        let done = app.anonymous().post(app.url(path)).body("List-Unsubscribe=One-Click").send().await.unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        assert!(done.text().await.unwrap().contains("You are unsubscribed"));
        assert!(welcome.status == "sent");
        let enrolment = app.enrolment(&ws.id, "onboarding").await;
        assert_eq!(enrolment.stopped_reason.as_deref(), Some("the recipient unsubscribed"));
        // A lifecycle email decided now is suppressed, a transactional one still goes.
        let mut sub = subscription(&ws, "cus_quiet", "trialing");
        sub["trial_end"] = json!((Utc::now() + Duration::days(2)).timestamp());
        app.deliver(&event("evt_quiet_trial", "customer.subscription.trial_will_end", Utc::now().timestamp(), sub)).await;
        app.drain_jobs_due().await;
        let mut invoice = object("invoice");
        invoice["id"] = json!("in_quiet_1");
        invoice["customer"] = json!("cus_quiet");
        app.deliver(&event("evt_quiet_failed", "invoice.payment_failed", Utc::now().timestamp(), invoice)).await;
        app.drain_jobs_due().await;
        let trial = app.emails_of("trial_ending").await;
        assert_eq!(trial.len(), 1);
        assert_eq!(trial[0].status, "suppressed");
        let failed = app.emails_of("payment_failed").await;
        assert_eq!((failed.len(), failed[0].status.as_str()), (1, "sent"));
        let bad = app.anonymous().get(app.url("/unsubscribe/bm9ib2R5.0000")).send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }

    async fn dunning_reminds_while_past_due_and_stops_when_the_invoice_is_paid(app: TestApp) {
        let ws = app.create_workspace("Dunning", &app.admin).await;
        let customer = "cus_dunning";
        app.deliver(&event("evt_d_active", "customer.subscription.created", Utc::now().timestamp() - 20, subscription(&ws, customer, "active"))).await;
        app.drain_jobs_due().await;
        let mut invoice = object("invoice");
        invoice["id"] = json!("in_dunning_1");
        invoice["customer"] = json!(customer);
        invoice["amount_due"] = json!(4900);
        invoice["currency"] = json!("usd");
        app.deliver(&event("evt_d_failed", "invoice.payment_failed", Utc::now().timestamp() - 10, invoice.clone())).await;
        app.drain_jobs_due().await;
        app.deliver(&event("evt_d_past_due", "customer.subscription.updated", Utc::now().timestamp() - 5, subscription(&ws, customer, "past_due"))).await;
        app.drain_jobs_due().await;
        let failed = app.emails_of("payment_failed").await;
        assert_eq!(failed.len(), 1, "one email at once");
        assert_eq!(failed[0].subject, "Payment for Dunning failed");
        assert!(failed[0].text.contains("We could not collect the payment of 49.00 USD for Dunning."), "{}", failed[0].text);
        app.let_days_pass(3).await;
        let reminders = app.emails_of("payment_failed").await;
        assert_eq!(reminders.len(), 2);
        assert!(reminders[1].subject.starts_with("Reminder"), "{}", reminders[1].subject);
        invoice["status"] = json!("paid");
        app.deliver(&event("evt_d_paid", "invoice.paid", Utc::now().timestamp(), invoice)).await;
        app.drain_jobs_due().await;
        let enrolment = app.enrolment(&ws.id, "dunning").await;
        assert_eq!((enrolment.status.as_str(), enrolment.stopped_reason.as_deref()), ("stopped", Some("the invoice was paid")));
        app.let_days_pass(5).await;
        assert_eq!(app.emails_of("payment_failed").await.len(), 2, "no last notice after the payment");
    }

    async fn the_weekly_digest_summarizes_a_busy_week_and_skips_a_quiet_one(app: TestApp) {
        let busy = app.create_workspace("Busy", &app.admin).await;
        let quiet_owner = app.create_user("quiet@example.com").await;
        let quiet = app.create_workspace("Calm", &quiet_owner).await;
        // The quiet workspace's owner joined before this week.
        let eight_days_ago = Utc::now() - Duration::days(8);
        offstage::db::entities::membership::Entity::update_many()
            .col_expr(offstage::db::entities::membership::Column::CreatedAt, sea_orm::sea_query::Expr::value(eight_days_ago))
            .filter(offstage::db::entities::membership::Column::WorkspaceId.eq(&quiet.id))
            .exec(&app.db)
            .await
            .unwrap();
        // The digest goes to owners and admins, not to members.
        let (co_admin, member) = (app.create_user("co-admin@example.com").await, app.create_user("plain@example.com").await);
        app.add_member(&busy, &co_admin, offstage::domain::Role::Admin).await;
        app.add_member(&busy, &member, offstage::domain::Role::Member).await;
        let key = app.api_key(&busy).await;
        for _ in 0..3 {
            let (status, _) = app.api(reqwest::Method::POST, &key, "/api/v1/workflows/refresh_workspace_health/runs", Some(json!({ "params": { "workspace_id": busy.id } }))).await;
            assert_eq!(status, StatusCode::ACCEPTED);
        }
        app.drain_jobs_due().await;
        // Each workspace has a digest schedule for Sunday 09:00 in its own timezone.
        let schedule = offstage::engine::schedules::find_in_workspace(&app.db, &app.scope(&busy), &generate_weekly_digest::schedule_id(&busy.id)).await.unwrap();
        let next = schedule.next_run_at.unwrap().with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(next.format("%a %H:%M").to_string(), "Sun 09:00");
        for ws in [&busy, &quiet] {
            let digest = offstage::engine::schedules::find_in_workspace(&app.db, &app.scope(ws), &generate_weekly_digest::schedule_id(&ws.id)).await.unwrap();
            offstage::engine::schedules::run_now(&app.db, &app.workflows, &digest).await.unwrap();
        }
        app.drain_jobs_due().await;
        let digests = app.emails_of("weekly_digest").await;
        let mut recipients: Vec<&str> = digests.iter().map(|email| email.recipient.as_str()).collect();
        recipients.sort();
        let mut managers = vec![app.admin.email.as_str(), "co-admin@example.com"];
        managers.sort();
        assert_eq!(recipients, managers, "only the busy workspace's owner and admin get one");
        assert!(digests.iter().all(|email| email.workspace_id.as_deref() == Some(busy.id.as_str())));
        // Nobody waits for a digest: it is delivered as bulk work, beside the other digests.
        for email in &digests {
            assert_eq!(app.delivery_priority(&email.id).await, offstage::engine::Priority::Bulk.queue_value());
        }
        assert_eq!(digests[0].subject, "Your week in Busy: 3 runs, 0 failed");
        assert!(digests[0].text.contains("Health score:"), "{}", digests[0].text);
        let filter = RunFilter { workflow: Some("generate_weekly_digest".into()), limit: 5, ..RunFilter::default() };
        let quiet_run = &runs::list(&app.db, &app.scope(&quiet), &filter).await.unwrap()[0];
        assert_eq!(quiet_run.status, RunStatus::Skipped);
        // Run again the same week: still one digest per person.
        let digest = offstage::engine::schedules::find_in_workspace(&app.db, &app.scope(&busy), &generate_weekly_digest::schedule_id(&busy.id)).await.unwrap();
        offstage::engine::schedules::run_now(&app.db, &app.workflows, &digest).await.unwrap();
        app.drain_jobs_due().await;
        assert_eq!(app.emails_of("weekly_digest").await.len(), 2);
    }

    async fn inviting_someone_emails_them_the_accept_link(app: TestApp) {
        let ws = app.create_workspace("Inviting", &app.admin).await;
        let admin = app.sign_in(&app.admin.email).await;
        let response = admin.post_form(&format!("/admin/workspaces/{}/members", ws.slug), &[("email", "newbie@example.com"), ("role", "member")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        app.drain_jobs_due().await;
        let invitations = app.emails_of("invitation").await;
        assert_eq!(invitations.len(), 1);
        let email = &invitations[0];
        assert_eq!((email.recipient.as_str(), email.category.as_str(), email.status.as_str()), ("newbie@example.com", "transactional", "sent"));
        let link = email.text.lines().find_map(|l| l.strip_prefix("Accept the invitation: ")).expect("accept link").to_owned();
        assert!(email.html.contains(&link));
        let page = app.anonymous().get(app.url(link.trim_start_matches(&app.config.base_url))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Join Inviting"));
    }

    async fn the_preview_page_renders_every_email(app: TestApp) {
        let admin = app.sign_in(&app.admin.email).await;
        let (status, page) = admin.get_html("/admin/platform/email-previews").await;
        assert_eq!(status, StatusCode::OK);
        for kind in ["trial_ending", "welcome", "invite_team", "choose_plan", "weekly_digest", "payment_failed", "invitation"] {
            assert!(page.contains(&format!("/admin/platform/email-previews/{kind}/html")), "{kind}");
            let html = admin.get(&format!("/admin/platform/email-previews/{kind}/html")).await;
            assert_eq!(html.status(), StatusCode::OK, "{kind}");
        }
    }
}

#[tokio::test]
async fn a_retried_trial_email_run_creates_no_second_email() {
    let app = trial_app(Backend::Sqlite).await;
    let ws = app.create_workspace("Twice", &app.admin).await;
    let ends = ws.trial_ends_at.unwrap();
    for _ in 0..2 {
        let params = send_trial_ending_email::Params { workspace_id: ws.id.clone(), trial_ends_at: ends };
        runs::start(&app.db, NewRun::of::<send_trial_ending_email::SendTrialEndingEmail>(&params)).await.unwrap();
        app.drain_jobs_due().await;
    }
    assert_eq!(app.emails_of("trial_ending").await.len(), 1);
}
