//! Catching up after an upgrade, before revenue adds anything up: events of a type this version
//! acts on that an older one recorded as ignored (refunds, credit notes) are applied now, and
//! invoices stored before their lines were read get them read from their stored event
//! (their MRR, their charge, and the period their subscription lines pay for).

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::apply::{apply, handled_types};
use super::envelope::Envelope;
use super::{EventStatus, invoice_lines};
use crate::billing::Error;
use crate::config::StripeSettings;
use crate::db::entities::{invoice, stripe_event};

/// Invoices read per statement.
const INVOICES_PER_BATCH: u64 = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp {
    pub events: u64,
    pub invoices: u64,
}

/// Both, before a revenue calculation adds anything up.
pub async fn catch_up(db: &DatabaseConnection, settings: &StripeSettings) -> Result<CaughtUp, Error> {
    let events = apply_ignored_events(db, settings).await?;
    let invoices = read_stored_lines(db).await?;
    Ok(CaughtUp { events, invoices })
}

/// Applies, oldest first, the events an older version ignored that this one acts on. Worker
/// processes do it as they start too, so that a refund recorded before an upgrade is dated by
/// its own event, not by the next one of its charge. Returns how many were applied.
pub async fn apply_ignored_events(db: &DatabaseConnection, settings: &StripeSettings) -> Result<u64, Error> {
    let ignored: Vec<String> = stripe_event::Entity::find()
        .select_only()
        .column(stripe_event::Column::Id)
        .filter(stripe_event::Column::Status.eq(EventStatus::Ignored.as_str()))
        .filter(stripe_event::Column::EventType.is_in(handled_types()))
        .order_by_asc(stripe_event::Column::StripeCreatedAt)
        .into_tuple()
        .all(db)
        .await?;
    let mut applied = 0;
    for id in ignored {
        apply(db, settings, &id, None).await?;
        applied += 1;
    }
    Ok(applied)
}

/// Reads the lines of invoices stored before they were read, from their stored event. Returns
/// how many invoices it read.
pub async fn read_stored_lines(db: &DatabaseConnection) -> Result<u64, Error> {
    let mut read = 0;
    loop {
        let unread = invoice::Entity::find()
            .filter(invoice::Column::LinesRead.eq(false))
            .limit(INVOICES_PER_BATCH)
            .all(db)
            .await?;
        if unread.is_empty() {
            return Ok(read);
        }
        let events: std::collections::HashMap<String, String> = stripe_event::Entity::find()
            .filter(stripe_event::Column::Id.is_in(unread.iter().map(|i| i.stripe_event_id.clone())))
            .all(db)
            .await?
            .into_iter()
            .map(|event| (event.id, event.payload))
            .collect();
        for found in unread {
            // An invoice whose event is gone keeps no charge and no MRR, and is not read again.
            let lines = events
                .get(&found.stripe_event_id)
                .and_then(|payload| Envelope::parse(payload.as_bytes()).ok())
                .map(|event| invoice_lines::read(&event.object));
            let mut update = invoice::ActiveModel::from(found);
            update.charge_id = sea_orm::Set(lines.as_ref().and_then(|l| l.charge_id.clone()));
            update.mrr = sea_orm::Set(lines.as_ref().and_then(|l| l.mrr));
            if let Some((start, end)) = lines.and_then(|l| l.recurring_period) {
                update.period_start = sea_orm::Set(Some(start));
                update.period_end = sea_orm::Set(Some(end));
            }
            update.lines_read = sea_orm::Set(true);
            sea_orm::ActiveModelTrait::update(update, db).await?;
            read += 1;
        }
    }
}
