//! HTTP routes. Each file owns its handlers and a `configure`; this module only mounts them.

pub mod admin;
pub mod api;
pub mod auth;
pub mod health;
pub mod invitations;
pub mod unsubscribe;
pub mod webhooks;

use actix_web::{HttpResponse, web};

use crate::web::static_files;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/static/{name}", web::get().to(static_files::serve))
        .configure(health::configure)
        .configure(auth::configure)
        .configure(invitations::configure)
        .configure(unsubscribe::configure)
        .configure(webhooks::configure)
        .configure(api::configure)
        .configure(admin::configure);
}

async fn home() -> HttpResponse {
    crate::web::redirect("/admin/workspaces")
}
