//! Calls to the Stripe API through async-stripe: the workspace's customer, a Checkout Session to
//! upgrade, a billing portal session to manage billing, and the current state of a
//! subscription. Only when `OFFSTAGE_STRIPE_SECRET_KEY` is set; `OFFSTAGE_STRIPE_API_BASE`
//! points the client elsewhere (tests use localstripe). Requests are async-stripe's typed
//! builders; responses are read as plain JSON for the few fields needed, so an API version
//! whose objects differ from async-stripe's model (localstripe answers in 2017's) still works.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::customer::CreateCustomer;

use crate::billing::Error;
use crate::config::StripeSettings;
use crate::db::entities::workspace;

/// One Stripe call may take this long before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

pub struct StripeApi {
    client: Client,
}

fn failed(what: &str, err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Stripe { what: what.to_owned(), source: err.into() }
}

impl StripeApi {
    /// The client, or None when no secret key is configured.
    pub fn from_settings(settings: &StripeSettings) -> Option<StripeApi> {
        let key = settings.secret_key.as_ref()?;
        // The build links more than one rustls crypto backend; the HTTPS client needs one chosen.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut builder = ClientBuilder::new(key.expose()).timeout(CALL_TIMEOUT);
        if let Some(base) = &settings.api_base {
            builder = builder.url(base.clone());
        }
        builder.build().ok().map(|client| StripeApi { client })
    }

    /// The workspace's Stripe customer, created (and remembered) the first time. The idempotency
    /// key makes a repeated or concurrent creation return the same customer.
    pub async fn ensure_customer(
        &self,
        db: &DatabaseConnection,
        ws: &workspace::Model,
        email: &str,
    ) -> Result<String, Error> {
        if let Some(customer) = &ws.stripe_customer_id {
            return Ok(customer.clone());
        }
        let request = CreateCustomer::new()
            .name(ws.name.clone())
            .email(email)
            .metadata(HashMap::from([("workspace_id".to_owned(), ws.id.clone())]));
        let key = IdempotencyKey::new(format!("offstage-customer-{}", ws.id))
            .map_err(|err| failed("creating the customer", err))?;
        let customer =
            self.call("creating the customer", request.build(), Some(RequestStrategy::Idempotent(key))).await?;
        let id = text(&customer, "id", "creating the customer")?;
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "UPDATE workspaces SET stripe_customer_id = $1 WHERE id = $2 AND stripe_customer_id IS NULL",
            [id.clone().into(), ws.id.clone().into()],
        ))
        .await?;
        Ok(id)
    }

    /// A Checkout Session subscribing `customer` to `price`; returns the page to send the user to.
    pub async fn checkout_url(
        &self,
        ws: &workspace::Model,
        customer: &str,
        price: &str,
        return_to: &str,
    ) -> Result<String, Error> {
        let metadata = HashMap::from([("workspace_id".to_owned(), ws.id.clone())]);
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price = Some(price.to_owned());
        line.quantity = Some(1);
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(metadata.clone());
        let request = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Subscription)
            .customer(customer)
            .client_reference_id(ws.id.clone())
            .metadata(metadata)
            .line_items(vec![line])
            .subscription_data(subscription)
            .success_url(format!("{return_to}?checkout=success"))
            .cancel_url(format!("{return_to}?checkout=cancelled"));
        let session = self.call("creating the checkout session", request.build(), None).await?;
        text(&session, "url", "creating the checkout session")
    }

    /// A billing portal session for `customer`; returns its page.
    pub async fn portal_url(&self, customer: &str, return_to: &str) -> Result<String, Error> {
        let request = CreateBillingPortalSession::new().customer(customer).return_url(return_to);
        let session = self.call("opening the billing portal", request.build(), None).await?;
        text(&session, "url", "opening the billing portal")
    }

    /// The subscription as Stripe has it now, as raw JSON (read like an event's object).
    pub async fn subscription(&self, id: &str) -> Result<serde_json::Value, Error> {
        self.call(
            "reading the subscription",
            RequestBuilder::new(StripeMethod::Get, format!("/subscriptions/{id}")),
            None,
        )
        .await
    }

    /// Sends `request` and returns the response as JSON.
    async fn call(
        &self,
        what: &str,
        request: RequestBuilder,
        strategy: Option<RequestStrategy>,
    ) -> Result<serde_json::Value, Error> {
        let mut request = request.customize::<miniserde::json::Value>();
        if let Some(strategy) = strategy {
            request = request.request_strategy(strategy);
        }
        let raw = request.send(&self.client).await.map_err(|err| failed(what, err))?;
        serde_json::from_str(&miniserde::json::to_string(&raw)).map_err(|err| failed(what, err))
    }
}

/// A string field of a response, or an error naming the call.
fn text(response: &serde_json::Value, field: &str, what: &str) -> Result<String, Error> {
    response[field].as_str().map(str::to_owned).ok_or_else(|| failed(what, format!("no {field} in the response")))
}
