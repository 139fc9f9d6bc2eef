//! The platform's users (platform admins only): every person, the workspaces they belong to,
//! their last sign-in, whether their email is confirmed and two-factor sign-in is on; search by
//! email; and "Send reset link", which emails the person a password reset link (the admin never
//! sees it).

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::platform::{Utc, require_platform_admin};
use crate::accounts::{self, UserRow, password_reset};
use crate::db::entities::user;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/platform/users", web::get().to(index))
        .route("/platform/users/{id}/send-reset", web::post().to(send_reset));
}

/// People listed at most (search for the others).
const LIMIT: u64 = 200;

#[derive(Template, WebTemplate)]
#[template(path = "admin/platform/users.html")]
struct UsersPage {
    ctx: PageContext,
    users: Vec<UserRow>,
    q: String,
    utc: Utc,
}

#[derive(Deserialize, Default)]
struct UsersQuery {
    #[serde(default)]
    q: String,
}

async fn index(
    ctx: PageContext,
    state: web::Data<AppState>,
    query: web::Query<UsersQuery>,
) -> Result<UsersPage, AppError> {
    let platform = require_platform_admin(&ctx)?;
    let users = accounts::directory(&state.db, &platform, &query.q, LIMIT).await?;
    Ok(UsersPage { ctx, users, q: query.q.clone(), utc: Utc })
}

async fn send_reset(
    ctx: PageContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    require_platform_admin(&ctx)?;
    let person = user::Entity::find_by_id(id.as_str()).one(&state.db).await?.ok_or(AppError::NotFound)?;
    password_reset::send_link(&state.db, &state.config, &person).await?;
    Flash::success(
        &ctx.session,
        format!("A password reset link is on its way to {}; it works once, for an hour.", person.email),
    );
    Ok(redirect("/admin/platform/users"))
}
