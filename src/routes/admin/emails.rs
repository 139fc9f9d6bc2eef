//! A workspace's Emails tab: its sequence enrolments (step reached, next send, why stopped) and
//! the emails sent to its people, with their status.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::WorkspaceNav;
use crate::db::entities::{email, enrolment};
use crate::error::AppError;
use crate::mail::{outbox, sequences};
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::PageContext;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/emails", web::get().to(show));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/emails/show.html")]
struct EmailsPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    enrolments: Vec<enrolment::Model>,
    emails: Vec<email::Model>,
}

impl EmailsPage {
    fn sequence_title(&self, name: &str) -> &'static str {
        sequences::find(name).map(|s| s.title).unwrap_or("Unknown sequence")
    }

    fn steps_total(&self, name: &str) -> usize {
        sequences::find(name).map(|s| s.steps.len()).unwrap_or(0)
    }
}

async fn show(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<EmailsPage, AppError> {
    let filter = outbox::MailboxFilter { limit: 100, ..Default::default() };
    Ok(EmailsPage {
        enrolments: sequences::for_workspace(&state.db, &scope).await?,
        emails: outbox::list(&state.db, &scope, &filter).await?,
        nav: WorkspaceNav::new(&scope, "emails"),
        ctx,
    })
}
