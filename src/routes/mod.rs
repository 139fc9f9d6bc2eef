//! HTTP routes. Each file owns its handlers and a `configure`; this module only mounts them.

pub mod admin;
pub mod api;
pub mod auth;
pub mod email_verification;
pub mod health;
pub mod invitations;
pub mod metrics;
pub mod password;
pub mod signup;
pub mod two_factor_sign_in;
pub mod unsubscribe;
pub mod webhooks;

use actix_web::{HttpResponse, web};

use crate::web::static_files;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/static/{name}", web::get().to(static_files::serve))
        .configure(health::configure)
        .configure(metrics::configure)
        .configure(auth::configure)
        .configure(two_factor_sign_in::configure)
        .configure(password::configure)
        .configure(signup::configure)
        .configure(email_verification::configure)
        .configure(invitations::configure)
        .configure(unsubscribe::configure)
        .configure(webhooks::configure)
        .configure(api::configure)
        .configure(admin::configure);
}

async fn home() -> HttpResponse {
    crate::web::redirect("/admin/workspaces")
}
