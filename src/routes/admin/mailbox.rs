//! The platform Mailbox (platform admins only): every email of the outbox with its status,
//! attempts and error; one email's headers, text and HTML views; and a preview of every template
//! with sample data. Without SMTP configured this is where mail is read.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::platform::{Utc, require_platform_admin};
use crate::db::entities::email;
use crate::engine::runs::{self, RunFilter, RunView};
use crate::error::AppError;
use crate::mail::{EmailStatus, Rendered, outbox, templates};
use crate::state::AppState;
use crate::web::PageContext;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/mailbox", web::get().to(index))
        .route("/platform/mailbox/{id}", web::get().to(show))
        .route("/platform/mailbox/{id}/html", web::get().to(html))
        .route("/platform/email-previews", web::get().to(previews))
        .route("/platform/email-previews/{kind}/html", web::get().to(preview_html));
}

#[derive(Deserialize, Default)]
struct MailboxQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/mailbox.html")]
struct MailboxPage {
    ctx: PageContext,
    emails: Vec<email::Model>,
    counts: Vec<(EmailStatus, u64)>,
    statuses: [EmailStatus; 4],
    status: String,
    q: String,
    captures: bool,
    utc: Utc,
}

async fn index(
    ctx: PageContext,
    state: web::Data<AppState>,
    query: web::Query<MailboxQuery>,
) -> Result<MailboxPage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let status = match query.status.as_str() {
        "" => None,
        other => Some(
            EmailStatus::parse(other)
                .ok_or_else(|| AppError::BadRequest(format!("“{other}” is not an email status")))?,
        ),
    };
    let filter = outbox::MailboxFilter { status, search: query.q.clone(), limit: 100 };
    Ok(MailboxPage {
        emails: outbox::list(&state.db, &platform, &filter).await?,
        counts: outbox::counts(&state.db, &platform).await?,
        statuses: EmailStatus::ALL,
        status: query.status.clone(),
        q: query.q.clone(),
        captures: state.mailer.captures(),
        utc: Utc,
        ctx,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/mailbox_email.html")]
struct EmailPage {
    ctx: PageContext,
    email: email::Model,
    from: String,
    runs: Vec<RunView>,
    /// How long a sent email's body is kept (`OFFSTAGE_RETENTION_EMAIL_BODIES`).
    bodies_kept: String,
    utc: Utc,
}

async fn show(ctx: PageContext, state: web::Data<AppState>, id: web::Path<String>) -> Result<EmailPage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let email = outbox::get(&state.db, &platform, &id).await?;
    let filter = RunFilter { business_key: Some(outbox::business_key(&email.id)), limit: 10, ..RunFilter::default() };
    let runs = runs::list(&state.db, &platform, &filter).await?;
    let bodies_kept = crate::domain::describe_duration(state.config.retention.email_bodies);
    Ok(EmailPage { ctx, email, from: state.config.mail.from.clone(), runs, bodies_kept, utc: Utc })
}

/// An email's HTML as the recipient's client would show it, for the detail page's frame: no
/// scripts, no forms, no requests (`sandbox`), framed only by this site.
fn sandboxed(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header((
            "Content-Security-Policy",
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
        ))
        .body(body)
}

async fn html(ctx: PageContext, state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let platform = require_platform_admin(&ctx)?;
    Ok(sandboxed(outbox::get(&state.db, &platform, &id).await?.html))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/email_previews.html")]
struct PreviewsPage {
    ctx: PageContext,
    samples: Vec<(&'static str, Rendered)>,
}

async fn previews(ctx: PageContext, state: web::Data<AppState>) -> Result<PreviewsPage, AppError> {
    require_platform_admin(&ctx)?;
    Ok(PreviewsPage { samples: templates::samples(&state.config.base_url), ctx })
}

async fn preview_html(
    ctx: PageContext,
    state: web::Data<AppState>,
    kind: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require_platform_admin(&ctx)?;
    let (_, rendered) = templates::samples(&state.config.base_url)
        .into_iter()
        .find(|(k, _)| *k == kind.as_str())
        .ok_or(AppError::NotFound)?;
    Ok(sandboxed(rendered.html))
}
