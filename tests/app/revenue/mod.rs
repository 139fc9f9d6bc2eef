//! Revenue per customer from real signed Stripe events: the month's arithmetic (refunds in any
//! order, several currencies, a zero-decimal one, invoices paid on the month's boundaries, MRR
//! of yearly prices), a chain of more than one batch, running a month again, and events an
//! older version ignored. `pages` covers the platform page, the CSV and the billing tab, and
//! the command line.

mod pages;

use chrono::{DateTime, Duration, Utc};
use offstage::billing::{EventStatus, inbox};
use offstage::db::entities::{monthly_revenue, revenue_month, workspace};
use offstage::domain::Month;
use offstage::engine::runs::{self, NewRun};
use offstage::revenue::workflows::calculate_monthly_revenue::{CalculateMonthlyRevenue, Params};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_databases;
use crate::stripe_webhooks::{event, object};

/// The month under test: the one before last, so it stays within the billing tab's 12 months.
pub(crate) fn test_month() -> Month {
    Month::last(Utc::now()).previous()
}

fn secs(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

/// An `invoice.paid` event of `ws`; `recurring` makes its line a subscription's
/// (interval, period start, period end).
pub(crate) fn paid_invoice(
    ws: &workspace::Model,
    id: &str,
    (amount, currency): (i64, &str),
    paid_at: DateTime<Utc>,
    recurring: Option<(&str, DateTime<Utc>, DateTime<Utc>)>,
) -> Value {
    let mut invoice = object("invoice");
    invoice["id"] = json!(id);
    invoice["customer"] = json!(format!("cus_{}", ws.slug));
    invoice["subscription_details"] = json!({ "metadata": { "workspace_id": ws.id } });
    invoice["currency"] = json!(currency);
    invoice["amount_paid"] = json!(amount);
    invoice["charge"] = json!(format!("ch_{id}"));
    invoice["status_transitions"]["paid_at"] = json!(secs(paid_at));
    let line = &mut invoice["lines"]["data"][0];
    line["amount"] = json!(amount);
    line["currency"] = json!(currency);
    if let Some((interval, start, end)) = recurring {
        line["type"] = json!("subscription");
        line["price"]["recurring"] = json!({ "interval": interval, "interval_count": 1 });
        line["period"] = json!({ "start": secs(start), "end": secs(end) });
    } else {
        line["period"] = json!({ "start": secs(paid_at), "end": secs(paid_at) });
    }
    event(&format!("evt_{id}"), "invoice.paid", secs(paid_at), invoice)
}

/// A `charge.refunded` event in the 2022-11-15 shape (no refund list): `refunded` is the
/// charge's total refunded so far.
pub(crate) fn charge_refunded(
    ws: &workspace::Model,
    id: &str,
    charge: &str,
    refunded: i64,
    at: DateTime<Utc>,
) -> Value {
    let mut object = object("charge");
    object["id"] = json!(charge);
    object["customer"] = json!(format!("cus_{}", ws.slug));
    object["amount"] = json!(5_000);
    object["amount_refunded"] = json!(refunded);
    object["refunded"] = json!(false);
    event(id, "charge.refunded", secs(at), object)
}

pub(crate) async fn deliver_all(app: &TestApp, events: &[Value]) {
    for evt in events {
        let (status, body) = app.deliver(evt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        app.drain_jobs_due().await;
        let id = evt["id"].as_str().unwrap();
        let stored = app.stored_event(id).await.unwrap();
        assert_eq!(stored.status, "processed", "{id}: {:?}", stored.error);
    }
}

/// Starts the calculation of `month` as an operator would and waits for its chain to end.
pub(crate) async fn calculate(app: &TestApp, month: Month) {
    let params = Params { month: Some(month.to_string()), ..Params::default() };
    runs::start(&app.db, NewRun::of::<CalculateMonthlyRevenue>(&params)).await.unwrap();
    app.drain_jobs_due().await;
}

async fn rows(app: &TestApp, month: Month) -> Vec<monthly_revenue::Model> {
    monthly_revenue::Entity::find()
        .filter(monthly_revenue::Column::Month.eq(month.to_string()))
        .order_by_asc(monthly_revenue::Column::WorkspaceId)
        .order_by_asc(monthly_revenue::Column::Currency)
        .all(&app.db)
        .await
        .unwrap()
}

fn row_of<'a>(rows: &'a [monthly_revenue::Model], ws: &workspace::Model, currency: &str) -> &'a monthly_revenue::Model {
    rows.iter()
        .find(|r| r.workspace_id == ws.id && r.currency == currency)
        .unwrap_or_else(|| panic!("no {currency} row for {}: {rows:?}", ws.slug))
}

/// Acme (USD): invoices paid one second before the month, at its first instant, in its middle
/// and at the next month's first instant; a charge refunded 500 then 1,500 in all, delivered
/// newest first; a credit note refunding 200 outside Stripe. Kaisha: a yearly JPY price and a
/// one-off EUR invoice.
pub(crate) async fn seed_month(app: &TestApp, month: Month) -> (workspace::Model, workspace::Model) {
    let acme = app.create_workspace("Acme", &app.admin).await;
    let kaisha = app.create_workspace("Kaisha", &app.admin).await;
    let (start, end) = (month.start(), month.end());
    deliver_all(
        app,
        &[
            paid_invoice(&acme, "in_before", (1_000, "usd"), start - Duration::seconds(1), None),
            paid_invoice(&acme, "in_first", (2_000, "usd"), start, Some(("month", start, end))),
            paid_invoice(&acme, "in_middle", (3_000, "usd"), start + Duration::days(15), None),
            paid_invoice(&acme, "in_after", (5_000, "usd"), end, None),
            paid_invoice(
                &kaisha,
                "in_yearly",
                (12_000, "jpy"),
                start + Duration::days(3),
                Some(("year", start + Duration::days(3), start + Duration::days(368))),
            ),
            paid_invoice(&kaisha, "in_euro", (4_905, "eur"), start + Duration::days(4), None),
        ],
    )
    .await;
    let mut note = object("credit_note");
    note["id"] = json!("cn_outside");
    note["customer"] = json!("cus_acme");
    note["out_of_band_amount"] = json!(200);
    note["created"] = json!(secs(start + Duration::days(22)));
    deliver_all(
        app,
        &[
            charge_refunded(&acme, "evt_refund_second", "ch_in_middle", 1_500, start + Duration::days(21)),
            charge_refunded(&acme, "evt_refund_first", "ch_in_middle", 500, start + Duration::days(20)),
            event("evt_credit_note", "credit_note.created", secs(start + Duration::days(22)), note),
        ],
    )
    .await;
    (acme, kaisha)
}

on_both_databases! {
    async fn a_months_revenue_counts_refunds_once_keeps_currencies_apart_and_is_the_same_when_run_again(app: TestApp) {
        let month = test_month();
        let (acme, kaisha) = seed_month(&app, month).await;
        let idle = app.create_workspace("Idle", &app.admin).await;
        calculate(&app, month).await;
        let first = rows(&app, month).await;

        let usd = row_of(&first, &acme, "usd");
        assert_eq!((usd.gross, usd.invoices), (5_000, 2), "only the invoices paid from the first instant to before the next month's");
        assert_eq!(usd.refunded, 1_700, "1,500 from the charge however its events arrived, 200 outside Stripe");
        assert_eq!(usd.net, 3_300);
        assert_eq!(usd.mrr, 2_000, "the monthly price whose period spans the month's end");
        let jpy = row_of(&first, &kaisha, "jpy");
        assert_eq!((jpy.gross, jpy.refunded, jpy.net, jpy.invoices, jpy.mrr), (12_000, 0, 12_000, 1, 1_000), "yen have no decimals; a yearly price is a twelfth a month");
        let eur = row_of(&first, &kaisha, "eur");
        assert_eq!((eur.gross, eur.net, eur.invoices, eur.mrr), (4_905, 4_905, 1, 0));
        assert!(first.iter().all(|r| r.workspace_id != idle.id), "a workspace with nothing has no row");
        assert_eq!(first.len(), 3, "{first:?}");

        let next = rows(&app, month.next()).await;
        assert!(next.is_empty(), "only the month asked for is computed");
        calculate(&app, month).await;
        assert_eq!(rows(&app, month).await, first, "running the month again gives the same rows");
        let done = revenue_month::Entity::find_by_id(month.to_string()).one(&app.db).await.unwrap().expect("the month is recorded as computed");
        let workspaces = workspace::Entity::find().all(&app.db).await.unwrap().len() as i64;
        assert_eq!(done.workspaces, workspaces);
    }

    async fn more_workspaces_than_one_batch_are_computed_as_one_chain_with_its_progress(app: TestApp) {
        let month = test_month();
        let (acme, _) = seed_month(&app, month).await;
        for n in 0..100 {
            app.create_workspace(&format!("Filler {n}"), &app.admin).await;
        }
        let total = workspace::Entity::find().all(&app.db).await.unwrap().len() as u64;
        assert!(total > 100);
        calculate(&app, month).await;
        let chain = runs::list(&app.db, &offstage::tenancy::Platform::system(), &runs::RunFilter {
            workflow: Some("calculate_monthly_revenue".into()),
            limit: 10,
            ..runs::RunFilter::default()
        })
        .await
        .unwrap();
        assert_eq!(chain.len(), 2, "two batches, one chain: {chain:?}");
        assert!(chain.iter().all(|r| r.status == runs::RunStatus::Succeeded), "{chain:?}");
        assert_eq!(chain[0].output.as_ref().unwrap()["progress"], json!({ "processed": total, "total": total }));
        assert_eq!(chain[0].chain_id, chain[1].chain_id);
        assert_eq!(row_of(&rows(&app, month).await, &acme, "usd").net, 3_300);
    }

    async fn listed_refunds_count_in_their_own_months_and_a_proration_listed_first_keeps_the_mrr(app: TestApp) {
        let month = test_month();
        let (start, end) = (month.start(), month.end());
        let ws = app.create_workspace("Listed", &app.admin).await;
        // A renewal paid on the month's last day: a proration line first, then the subscription's.
        let mut renewal = paid_invoice(&ws, "in_renewal", (5_000, "usd"), end - Duration::days(1), Some(("month", end - Duration::days(1), end + Duration::days(30))));
        let subscription_line = renewal["data"]["object"]["lines"]["data"][0].clone();
        let mut proration = subscription_line.clone();
        proration["proration"] = json!(true);
        proration["amount"] = json!(1_000);
        proration["period"] = json!({ "start": secs(start + Duration::days(20)), "end": secs(end - Duration::days(1)) });
        renewal["data"]["object"]["lines"]["data"] = json!([proration, subscription_line]);
        // Refunds listed on the charge (older API versions): one in the month, one in the next.
        let mut charge = charge_refunded(&ws, "evt_listed", "ch_in_renewal", 1_500, end + Duration::days(5))["data"]["object"].clone();
        charge["refunds"] = json!({ "object": "list", "has_more": false, "data": [
            { "id": "re_later", "object": "refund", "amount": 1_000, "created": secs(end + Duration::days(5)), "status": "succeeded" },
            { "id": "re_earlier", "object": "refund", "amount": 500, "created": secs(end - Duration::hours(12)), "status": "succeeded" },
            { "id": "re_failed", "object": "refund", "amount": 700, "created": secs(end - Duration::hours(11)), "status": "failed" },
        ] });
        deliver_all(&app, &[renewal, event("evt_listed", "charge.refunded", secs(end + Duration::days(5)), charge)]).await;
        calculate(&app, month).await;
        calculate(&app, month.next()).await;
        let this = rows(&app, month).await;
        let usd = row_of(&this, &ws, "usd");
        assert_eq!(usd.mrr, 5_000, "the subscription line's period spans the month's end, the proration's does not");
        assert_eq!(usd.refunded, 500, "the refund made in the month, at its own time");
        let next = rows(&app, month.next()).await;
        assert_eq!(row_of(&next, &ws, "usd").refunded, 1_000, "and the other in the next month");
    }

    async fn a_refund_an_older_version_ignored_is_applied_before_the_month_is_added_up(app: TestApp) {
        let month = test_month();
        let (acme, _) = seed_month(&app, month).await;
        // As an older version left it: recorded, then ignored as a type it did not act on.
        let refund = charge_refunded(&acme, "evt_refund_old", "ch_in_first", 400, month.start() + Duration::days(25));
        deliver_all(&app, &[refund]).await;
        inbox::set_status(&app.db, "evt_refund_old", EventStatus::Ignored, None, None).await.unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(&app.db, "DELETE FROM refunds WHERE stripe_event_id = 'evt_refund_old'").await.unwrap();

        calculate(&app, month).await;
        assert_eq!(row_of(&rows(&app, month).await, &acme, "usd").refunded, 2_100, "1,700 as before and the 400 caught up");
        assert_eq!(app.stored_event("evt_refund_old").await.unwrap().status, "processed");
    }
}
