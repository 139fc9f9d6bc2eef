//! `Scope` as an extractor for routes under `/admin/workspaces/{slug}`: loads the workspace
//! through the signed-in user's membership, so handlers receive a proven scope, never a raw id.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::tenancy::Scope;

impl FromRequest for Scope {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        let slug = req.match_info().get("slug").map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let user = user.await?;
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?;
            let slug = slug.ok_or(AppError::NotFound)?;
            Ok(Scope::for_user(&state.db, user.user(), &slug).await?)
        })
    }
}
