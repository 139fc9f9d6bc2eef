//! What a workspace paid and got back, as revenue reads it: paid invoices (with what their
//! lines say: `invoice_lines`) and refunds. A charge's refunds are recorded one row each when
//! the charge lists them all, else as the part of its `amount_refunded` not recorded yet; never
//! more in all than `amount_refunded`, so every order and repetition of `charge.refunded`
//! events adds up to what Stripe refunded, once. A credit note adds only what it refunded
//! outside Stripe (`out_of_band_amount`): its refund to the card arrives as `charge.refunded`,
//! and what it credits to the customer's balance lowers later invoices instead.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};

use super::apply::{Problem, execute};
use super::envelope::{Envelope, id_of, timestamp};
use super::invoice_lines;
use crate::domain::Money;

pub(super) async fn record_invoice(
    txn: &DatabaseTransaction,
    workspace_id: &str,
    event: &Envelope,
) -> Result<String, Problem> {
    let invoice = &event.object;
    let id = event.id_at("id").ok_or_else(|| Problem::Data("invoice has no id".into()))?;
    let amount = invoice["amount_paid"].as_i64().ok_or_else(|| Problem::Data("invoice has no amount_paid".into()))?;
    let currency = currency_of(invoice)?;
    let lines = invoice_lines::read(invoice);
    // The period the subscription is paid for; without a subscription line, the first line's.
    let line_period = &invoice["lines"]["data"][0]["period"];
    let (period_start, period_end) = match lines.recurring_period {
        Some((start, end)) => (Some(start), Some(end)),
        None => (
            line_period["start"].as_i64().or(invoice["period_start"].as_i64()).and_then(timestamp),
            line_period["end"].as_i64().or(invoice["period_end"].as_i64()).and_then(timestamp),
        ),
    };
    let paid_at = invoice["status_transitions"]["paid_at"].as_i64().and_then(timestamp).unwrap_or(event.created);
    execute(
        txn,
        "INSERT INTO invoices (id, workspace_id, amount_paid, currency, period_start, period_end, paid_at, stripe_event_id, \
         charge_id, mrr, lines_read) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
        [
            id.clone().into(),
            workspace_id.into(),
            amount.into(),
            currency.clone().into(),
            period_start.into(),
            period_end.into(),
            paid_at.into(),
            event.id.clone().into(),
            lines.charge_id.into(),
            lines.mrr.into(),
            true.into(),
        ],
    )
    .await?;
    Ok(format!("invoice {id} paid: {}", Money::new(amount, &currency)))
}

pub(super) async fn record_charge_refund(
    txn: &DatabaseTransaction,
    workspace_id: &str,
    event: &Envelope,
) -> Result<String, Problem> {
    let charge = &event.object;
    let charge_id = event.id_at("id").ok_or_else(|| Problem::Data("charge has no id".into()))?;
    let refunded =
        charge["amount_refunded"].as_i64().ok_or_else(|| Problem::Data("charge has no amount_refunded".into()))?;
    let currency = currency_of(charge)?;
    // Concurrent events of one workspace take turns here (a row lock on PostgreSQL; SQLite
    // writes one transaction at a time), so each reads what the other recorded.
    execute(txn, "UPDATE workspaces SET id = id WHERE id = $1", [workspace_id.into()]).await?;
    let (mut recorded, known) = recorded_for_charge(txn, &charge_id).await?;
    let invoice_id = id_of(&charge["invoice"]);
    let mut summary = Vec::new();
    // A charge that lists all its refunds (API versions before 2022-11-15) gives each its own
    // row and time; never more in all than Stripe says was refunded.
    for (id, amount, at) in listed_refunds(charge, refunded) {
        if known.contains(&id) || recorded + amount > refunded {
            continue;
        }
        let refund = NewRefund {
            id,
            charge_id: Some(charge_id.clone()),
            invoice_id: invoice_id.clone(),
            amount: Money::new(amount, &currency),
            refunded_at: at,
        };
        insert(txn, workspace_id, event, &refund).await?;
        recorded += amount;
        summary.push(refund.amount.to_string());
    }
    // Otherwise the part of `amount_refunded` not recorded yet was refunded by the time of
    // this event.
    let new = refunded - recorded;
    if new > 0 {
        let refund = NewRefund {
            id: format!("{charge_id}:{refunded}"),
            charge_id: Some(charge_id.clone()),
            invoice_id,
            amount: Money::new(new, &currency),
            refunded_at: event.created,
        };
        insert(txn, workspace_id, event, &refund).await?;
        summary.push(refund.amount.to_string());
    }
    if summary.is_empty() {
        return Ok(format!("charge {charge_id}: its refunds were already recorded"));
    }
    Ok(format!("charge {charge_id} refunded: {}", summary.join(", ")))
}

/// The refunds a charge lists (id, amount, time), oldest first, when the list is complete:
/// not cut short (`has_more`) and adding up to `refunded`. Failed and cancelled ones don't count.
fn listed_refunds(charge: &serde_json::Value, refunded: i64) -> Vec<(String, i64, DateTime<Utc>)> {
    let Some(list) = charge["refunds"]["data"].as_array() else { return Vec::new() };
    let mut refunds: Vec<(String, i64, DateTime<Utc>)> = list
        .iter()
        .filter(|r| !matches!(r["status"].as_str(), Some("failed" | "canceled")))
        .filter_map(|r| Some((id_of(&r["id"])?, r["amount"].as_i64()?, r["created"].as_i64().and_then(timestamp)?)))
        .collect();
    let complete = charge["refunds"]["has_more"].as_bool() != Some(true)
        && refunds.iter().map(|(_, amount, _)| amount).sum::<i64>() == refunded;
    if !complete {
        return Vec::new();
    }
    refunds.sort_by_key(|(_, _, at)| *at);
    refunds
}

pub(super) async fn record_credit_note(
    txn: &DatabaseTransaction,
    workspace_id: &str,
    event: &Envelope,
) -> Result<String, Problem> {
    let note = &event.object;
    let id = event.id_at("id").ok_or_else(|| Problem::Data("credit note has no id".into()))?;
    let currency = currency_of(note)?;
    let outside = note["out_of_band_amount"].as_i64().unwrap_or(0);
    if outside <= 0 {
        let total = Money::new(note["total"].as_i64().unwrap_or(0), &currency);
        return Ok(format!(
            "credit note {id} for {total}: a refund to the card is counted from its charge, a credit from later invoices"
        ));
    }
    let refund = NewRefund {
        id: id.clone(),
        charge_id: None,
        invoice_id: id_of(&note["invoice"]),
        amount: Money::new(outside, &currency),
        refunded_at: note["created"].as_i64().and_then(timestamp).unwrap_or(event.created),
    };
    insert(txn, workspace_id, event, &refund).await?;
    Ok(format!("credit note {id}: {} refunded outside Stripe", refund.amount))
}

struct NewRefund {
    id: String,
    charge_id: Option<String>,
    invoice_id: Option<String>,
    amount: Money,
    refunded_at: DateTime<Utc>,
}

fn currency_of(object: &serde_json::Value) -> Result<String, Problem> {
    let currency = object["currency"].as_str().ok_or_else(|| Problem::Data("the object has no currency".into()))?;
    Ok(currency.to_ascii_lowercase())
}

/// What is recorded of a charge's refunds: the amount, and the rows' ids.
async fn recorded_for_charge(
    txn: &DatabaseTransaction,
    charge_id: &str,
) -> Result<(i64, std::collections::HashSet<String>), Problem> {
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT id, amount FROM refunds WHERE charge_id = $1",
            [charge_id.into()],
        ))
        .await?;
    let mut recorded = (0, std::collections::HashSet::new());
    for row in rows {
        recorded.0 += row.try_get::<i64>("", "amount")?;
        recorded.1.insert(row.try_get::<String>("", "id")?);
    }
    Ok(recorded)
}

async fn insert(
    txn: &DatabaseTransaction,
    workspace_id: &str,
    event: &Envelope,
    refund: &NewRefund,
) -> Result<(), Problem> {
    execute(
        txn,
        "INSERT INTO refunds (id, workspace_id, charge_id, invoice_id, amount, currency, refunded_at, stripe_event_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        [
            refund.id.clone().into(),
            workspace_id.into(),
            refund.charge_id.clone().into(),
            refund.invoice_id.clone().into(),
            refund.amount.minor().into(),
            refund.amount.currency().into(),
            refund.refunded_at.into(),
            event.id.clone().into(),
        ],
    )
    .await?;
    Ok(())
}
