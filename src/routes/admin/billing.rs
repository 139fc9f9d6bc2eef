//! A workspace's billing page: subscription status, plan, trial countdown, current period, the
//! paid invoices, its revenue of the last 12 months, and the workspace's Stripe events as a
//! timeline. With a Stripe key, owners and
//! admins can link a Stripe customer, upgrade (Stripe Checkout) and manage billing (the portal).

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::WorkspaceNav;
use super::platform_revenue::net_chart;
use crate::billing::{StripeApi, inbox, invoices};
use crate::db::entities::{invoice, monthly_revenue, stripe_event};
use crate::domain::{Money, Month};
use crate::error::AppError;
use crate::revenue::report;
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/billing", web::get().to(show))
        .route("/workspaces/{slug}/billing/{action}", web::post().to(act));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/billing/show.html")]
struct BillingPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    invoices: Vec<invoice::Model>,
    events: Vec<stripe_event::Model>,
    /// Whether Offstage can call Stripe (a secret key is set).
    stripe_enabled: bool,
    /// (price id, plan name) an owner can upgrade to.
    plans: Vec<(String, String)>,
    /// The workspace's computed revenue of the last 12 months, oldest first.
    revenue: Vec<monthly_revenue::Model>,
    /// (currency, SVG): its net revenue per month.
    revenue_charts: Vec<(String, String)>,
}

impl BillingPage {
    fn amount(&self, invoice: &invoice::Model) -> String {
        Money::new(invoice.amount_paid, &invoice.currency).to_string()
    }

    fn money(&self, minor: &i64, currency: &str) -> String {
        Money::new(*minor, currency).to_string()
    }
}

async fn show(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<BillingPage, AppError> {
    let invoices = invoices::paid(&state.db, &scope, 50).await?;
    let events = inbox::list(&state.db, &scope, None, None, 50).await?;
    let months = Month::last(chrono::Utc::now()).last_n(12);
    let (revenue, series) = report::workspace_months(&state.db, &scope, &months).await?;
    Ok(BillingPage {
        ctx,
        nav: WorkspaceNav::new(&scope, "billing"),
        invoices,
        events,
        stripe_enabled: state.config.stripe.secret_key.is_some(),
        plans: state.config.stripe.plans.clone(),
        revenue,
        revenue_charts: series.iter().map(net_chart).collect(),
    })
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    price: String,
}

/// What the billing tab's buttons ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Link a Stripe customer.
    Customer,
    /// Stripe Checkout for a plan.
    Upgrade,
    /// Stripe's billing portal.
    Portal,
}

impl Action {
    fn parse(text: &str) -> Result<Action, AppError> {
        match text {
            "customer" => Ok(Action::Customer),
            "upgrade" => Ok(Action::Upgrade),
            "portal" => Ok(Action::Portal),
            _ => Err(AppError::NotFound),
        }
    }
}

/// `customer` links a Stripe customer; `upgrade` and `portal` send the user to Stripe. Anything
/// else is 404 before anything happens.
async fn act(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<HttpResponse, AppError> {
    let action = Action::parse(&path.1)?;
    scope.require_manager()?;
    let api = StripeApi::from_settings(&state.config.stripe).ok_or_else(|| {
        AppError::Unprocessable(
            "Stripe is not configured: set OFFSTAGE_STRIPE_SECRET_KEY to enable billing actions.".into(),
        )
    })?;
    let ws = scope.workspace();
    let page = format!("/admin/workspaces/{}/billing", ws.slug);
    let return_to = format!("{}{page}", state.config.base_url);
    if action == Action::Upgrade && !state.config.stripe.plans.iter().any(|(price, _)| *price == form.price) {
        return Err(AppError::Unprocessable(format!("“{}” is not a configured plan price.", form.price)));
    }
    let outcome = async {
        let customer = api.ensure_customer(&state.db, ws, ctx.user_email()).await?;
        match action {
            Action::Customer => Ok(None),
            Action::Upgrade => api.checkout_url(ws, &customer, &form.price, &return_to).await.map(Some),
            Action::Portal => api.portal_url(&customer, &return_to).await.map(Some),
        }
    }
    .await;
    match outcome {
        Ok(Some(stripe_page)) => Ok(redirect(stripe_page)),
        Ok(None) => {
            Flash::success(&ctx.session, "The workspace is linked to a Stripe customer.");
            Ok(redirect(page))
        }
        Err(err) => {
            tracing::warn!(workspace = %ws.id, ?action, error = %err, "a Stripe call failed");
            Flash::error(&ctx.session, format!("{err}. Nothing was changed; try again in a moment."));
            Ok(redirect(page))
        }
    }
}
