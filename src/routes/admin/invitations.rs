//! The signed-in person's own invitations: listed on the workspace list, accepted or declined
//! there. Only invitations addressed to their email are found; any other id is `NotFound`.

use actix_web::{HttpResponse, web};

use crate::error::AppError;
use crate::state::AppState;
use crate::web::{CsrfForm, Flash, PageContext, redirect};
use crate::workspaces::{accept_invitation_by_id, decline_invitation};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invitations/{id}/accept", web::post().to(accept))
        .route("/invitations/{id}/decline", web::post().to(decline));
}

async fn accept(
    ctx: PageContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let ws = accept_invitation_by_id(&state.db, ctx.user.user(), &id).await?;
    Flash::success(&ctx.session, format!("Welcome to {}!", ws.name));
    Ok(redirect(format!("/admin/workspaces/{}", ws.slug)))
}

async fn decline(
    ctx: PageContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let name = decline_invitation(&state.db, ctx.user.user(), &id).await?;
    Flash::info(&ctx.session, format!("You declined the invitation to {name}."));
    Ok(redirect("/admin/workspaces"))
}
