//! The API keys page: list, create (the secret is shown on this one response only), revoke.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::WorkspaceNav;
use crate::db::entities::api_key;
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::Scope;
use crate::web::page::{render_with_status, unprocessable};
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces/{slug}/api-keys", web::get().to(index))
        .route("/workspaces/{slug}/api-keys", web::post().to(create))
        .route("/workspaces/{slug}/api-keys/{id}/revoke", web::post().to(revoke));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/api_keys/index.html")]
struct ApiKeysPage {
    ctx: PageContext,
    nav: WorkspaceNav,
    keys: Vec<api_key::Model>,
    /// Set only on the response that created a key.
    new_secret: Option<String>,
    name: String,
    error: Option<String>,
}

async fn page(ctx: PageContext, scope: &Scope, state: &AppState) -> Result<ApiKeysPage, AppError> {
    Ok(ApiKeysPage {
        ctx,
        nav: WorkspaceNav::new(scope, "api-keys"),
        keys: scope.api_keys(&state.db).await?,
        new_secret: None,
        name: String::new(),
        error: None,
    })
}

async fn index(ctx: PageContext, scope: Scope, state: web::Data<AppState>) -> Result<ApiKeysPage, AppError> {
    page(ctx, &scope, &state).await
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
}

async fn create(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<HttpResponse, AppError> {
    match scope.create_api_key(&state.db, &form.name).await.map_err(AppError::from) {
        Ok(created) => {
            let mut shown = page(ctx, &scope, &state).await?;
            shown.new_secret = Some(created.secret);
            render_with_status(actix_web::http::StatusCode::CREATED, &shown)
        }
        Err(AppError::BadRequest(msg)) => {
            let mut again = page(ctx, &scope, &state).await?;
            again.name = form.name;
            again.error = Some(msg);
            unprocessable(&again)
        }
        Err(other) => Err(other),
    }
}

async fn revoke(
    ctx: PageContext,
    scope: Scope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let key = scope.revoke_api_key(&state.db, &path.1).await?;
    Flash::success(&ctx.session, format!("API key “{}” was revoked; requests using it now get 401.", key.name));
    Ok(redirect(format!("/admin/workspaces/{}/api-keys", scope.workspace().slug)))
}
