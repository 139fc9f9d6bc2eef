//! The platform's workflows page: every registered workflow, where it runs (per workspace or
//! global), who starts it, its attempts and timeout, and a link to its runs across workspaces.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use super::platform::require_platform_admin;
use crate::engine::AnyWorkflow;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::PageContext;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/workflows", web::get().to(index));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/workflows.html")]
struct WorkflowsPage {
    ctx: PageContext,
    workflows: Vec<&'static dyn AnyWorkflow>,
}

async fn index(ctx: PageContext, state: web::Data<AppState>) -> Result<WorkflowsPage, AppError> {
    require_platform_admin(&ctx)?;
    Ok(WorkflowsPage { ctx, workflows: state.workflows.all().to_vec() })
}
