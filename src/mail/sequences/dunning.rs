//! Dunning: when an invoice's payment fails, an email at once, a reminder after 3 days and a last
//! notice after 7, each only while the workspace is still past due; the payment stops it.

use chrono::Duration;

use super::{Audience, Facts, Links, Sequence, Step};
use crate::domain::{Money, SubscriptionStatus};
use crate::mail::Category;
use crate::mail::templates::{Email, Footer, PaymentFailed, Rendered};

pub static DUNNING: Sequence = Sequence {
    name: "dunning",
    title: "Failed payment",
    steps: &[
        Step {
            name: "payment_failed",
            after: Duration::zero(),
            only_when: "the invoice is still unpaid",
            holds: |f| !f.invoice_paid,
            render: |f, l, footer| render(f, l, footer, 0),
            kind: PaymentFailed::KIND,
        },
        Step {
            name: "reminder",
            after: Duration::days(3),
            only_when: "the workspace is still past due",
            holds: still_past_due,
            render: |f, l, footer| render(f, l, footer, 1),
            kind: PaymentFailed::KIND,
        },
        Step {
            name: "last_notice",
            after: Duration::days(7),
            only_when: "the workspace is still past due",
            holds: still_past_due,
            render: |f, l, footer| render(f, l, footer, 2),
            kind: PaymentFailed::KIND,
        },
    ],
    stop_when: |f| f.invoice_paid.then_some("the invoice was paid"),
    audience: Audience::Managers,
    category: Category::Transactional,
};

/// The enrolment key for one failed invoice.
pub fn key(workspace_id: &str, invoice_id: &str) -> String {
    format!("dunning:{workspace_id}:{invoice_id}")
}

fn still_past_due(f: &Facts) -> bool {
    !f.invoice_paid && matches!(f.workspace.status(), SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid)
}

fn render(f: &Facts, links: &Links, footer: &Footer, stage: u8) -> askama::Result<Rendered> {
    PaymentFailed {
        workspace_name: f.workspace.name.clone(),
        amount: f.amount_due.as_ref().map_or_else(|| "your latest invoice".into(), Money::to_string),
        billing_url: links.billing.clone(),
        stage,
    }
    .render(footer)
}
