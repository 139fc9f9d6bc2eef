//! `GET /api/v1/workspace`: the API key's workspace.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::ApiScope;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/workspace").route(web::get().to(show)));
}

async fn show(ApiScope(scope): ApiScope, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let members_count = scope.member_count(&state.db).await?;
    let ws = scope.workspace();
    Ok(HttpResponse::Ok().json(json!({
        "id": ws.id,
        "slug": ws.slug,
        "name": ws.name,
        "timezone": ws.timezone,
        "plan": ws.plan,
        "subscription_status": ws.subscription_status,
        "trial_ends_at": ws.trial_ends_at,
        "members_count": members_count,
        "created_at": ws.created_at,
    })))
}
