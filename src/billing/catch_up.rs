//! Catching up after an upgrade, before revenue adds anything up: events of a type this version
//! acts on that an older one recorded as ignored (refunds, credit notes) are applied now, and
//! invoices stored before their lines were read get them read from their stored event.

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

pub async fn catch_up(db: &DatabaseConnection, settings: &StripeSettings) -> Result<CaughtUp, Error> {
    let mut caught_up = CaughtUp::default();
    let ignored: Vec<String> = stripe_event::Entity::find()
        .select_only()
        .column(stripe_event::Column::Id)
        .filter(stripe_event::Column::Status.eq(EventStatus::Ignored.as_str()))
        .filter(stripe_event::Column::EventType.is_in(handled_types()))
        .order_by_asc(stripe_event::Column::StripeCreatedAt)
        .into_tuple()
        .all(db)
        .await?;
    for id in ignored {
        apply(db, settings, &id, None).await?;
        caught_up.events += 1;
    }
    loop {
        let unread = invoice::Entity::find()
            .filter(invoice::Column::LinesRead.eq(false))
            .limit(INVOICES_PER_BATCH)
            .all(db)
            .await?;
        if unread.is_empty() {
            return Ok(caught_up);
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
            update.mrr = sea_orm::Set(lines.and_then(|l| l.mrr));
            update.lines_read = sea_orm::Set(true);
            sea_orm::ActiveModelTrait::update(update, db).await?;
            caught_up.invoices += 1;
        }
    }
}
