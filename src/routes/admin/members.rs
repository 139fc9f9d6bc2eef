//! The members page: who is in the workspace and with which role, pending invitations, and
//! the form to invite someone (an email to that address; they accept it themselves).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::WorkspaceNav;
use crate::db::entities::invitation;
use crate::domain::{Email, Role};
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::{MemberRow, Scope};
use crate::web::page::{render_refused, render_with_status, unprocessable};
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/members", web::get().to(index))
        .route("/workspaces/{slug}/members", web::post().to(add))
        .route("/workspaces/{slug}/members/{id}/role", web::post().to(change_role))
        .route("/workspaces/{slug}/members/{id}/remove", web::post().to(remove))
        .route("/workspaces/{slug}/invitations/{id}/revoke", web::post().to(revoke_invitation));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/members/index.html")]
struct MembersPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    members: Vec<MemberRow>,
    invitations: Vec<invitation::Model>,
    roles: [Role; 3],
    email: String,
    role: String,
    error: Option<String>,
}

async fn page(
    ctx: PageContext,
    scope: &Scope,
    state: &AppState,
    email: String,
    role: String,
    error: Option<String>,
) -> Result<MembersPage, AppError> {
    Ok(MembersPage {
        ctx,
        nav: WorkspaceNav::new(scope, "members"),
        members: scope.members(&state.db).await?,
        invitations: scope.pending_invitations(&state.db).await?,
        roles: Role::ALL,
        email,
        role,
        error,
    })
}

async fn index(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<MembersPage, AppError> {
    page(ctx, &scope, &state, String::new(), "member".into(), None).await
}

#[derive(Deserialize)]
struct AddForm {
    email: String,
    role: String,
}

async fn add(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<HttpResponse, AppError> {
    scope.require_manager()?;
    let parsed = Email::parse(&form.email).and_then(|e| Role::parse(&form.role).map(|r| (e, r)));
    let outcome = match &parsed {
        Ok((email, role)) => scope.invite(&state.db, email, *role, &state.config).await.map_err(AppError::from),
        Err(msg) => Err(AppError::BadRequest(msg.clone())),
    };
    match outcome {
        Ok(()) => {
            let email = parsed.map(|(email, _)| email.to_string()).unwrap_or_default();
            Flash::success(
                &ctx.session,
                format!("Invitation sent to {email}. They join once they accept it; it is valid for 7 days."),
            );
            Ok(redirect(format!("/admin/workspaces/{}/members", scope.workspace().slug)))
        }
        Err(AppError::BadRequest(msg) | AppError::Conflict(msg)) => {
            unprocessable(&page(ctx, &scope, &state, form.email, form.role, Some(msg)).await?)
        }
        Err(refused @ AppError::TooManyRequests { .. }) => render_refused(
            &refused,
            &page(ctx, &scope, &state, form.email, form.role, Some(refused.to_string())).await?,
        ),
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

/// A refused change (the last owner, say) shows the members page again with the reason: 409.
async fn refused(ctx: PageContext, scope: &Scope, state: &AppState, err: AppError) -> Result<HttpResponse, AppError> {
    match err {
        AppError::Conflict(msg) | AppError::BadRequest(msg) => {
            let page = page(ctx, scope, state, String::new(), "member".into(), Some(msg)).await?;
            render_with_status(StatusCode::CONFLICT, &page)
        }
        other => Err(other),
    }
}

async fn change_role(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let role = Role::parse(&form.role).map_err(AppError::BadRequest)?;
    match scope.change_role(&state.db, &path.1, role).await {
        Ok(email) => {
            Flash::success(&ctx.session, format!("{email} is now {role}."));
            Ok(redirect(format!("/admin/workspaces/{}/members", scope.workspace().slug)))
        }
        Err(err) => refused(ctx, &scope, &state, err.into()).await,
    }
}

async fn remove(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    match scope.remove_member(&state.db, &path.1).await {
        Ok(email) => {
            Flash::success(&ctx.session, format!("{email} was removed from the workspace."));
            Ok(redirect(format!("/admin/workspaces/{}/members", scope.workspace().slug)))
        }
        Err(err) => refused(ctx, &scope, &state, err.into()).await,
    }
}

async fn revoke_invitation(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let email = scope.revoke_invitation(&state.db, &path.1).await?;
    Flash::success(&ctx.session, format!("The invitation for {email} was revoked."));
    Ok(redirect(format!("/admin/workspaces/{}/members", scope.workspace().slug)))
}
