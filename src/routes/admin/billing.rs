//! A workspace's billing page: subscription status, plan, trial countdown, current period, the
//! paid invoices, and the workspace's Stripe events as a timeline.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::WorkspaceNav;
use crate::billing::{apply::money, inbox};
use crate::db::entities::{invoice, stripe_event};
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::PageContext;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/billing", web::get().to(show));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/billing/show.html")]
struct BillingPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    invoices: Vec<invoice::Model>,
    events: Vec<stripe_event::Model>,
}

impl BillingPage {
    fn amount(&self, invoice: &invoice::Model) -> String {
        money(invoice.amount_paid, &invoice.currency)
    }
}

async fn show(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<BillingPage, AppError> {
    let invoices = invoice::Entity::find()
        .filter(invoice::Column::WorkspaceId.eq(scope.workspace_id()))
        .order_by_desc(invoice::Column::PaidAt)
        .limit(50)
        .all(&state.db)
        .await?;
    let events = inbox::list(&state.db, None, None, Some(scope.workspace_id()), 50).await?;
    Ok(BillingPage { ctx, nav: WorkspaceNav::new(&scope, "billing"), invoices, events })
}
