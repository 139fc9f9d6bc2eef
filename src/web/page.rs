//! `PageContext`: what the layout of every signed-in page needs (who is signed in, the CSRF
//! token, flash messages), gathered by one extractor.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use super::{CurrentUser, Flash, csrf};
use crate::error::AppError;

pub struct PageContext {
    pub user: CurrentUser,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    pub session: Session,
}

impl PageContext {
    pub fn user_email(&self) -> &str {
        self.user.email()
    }
    pub fn is_platform_admin(&self) -> bool {
        self.user.is_platform_admin()
    }
}

impl FromRequest for PageContext {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            Ok(PageContext { user, csrf_token: csrf::token(&session), flashes: Flash::take(&session), session })
        })
    }
}

/// Renders `page` with `status`: used to show a form again with its error (422) and values.
pub fn render_with_status(
    status: actix_web::http::StatusCode,
    page: &impl askama::Template,
) -> Result<actix_web::HttpResponse, AppError> {
    let body = page.render().map_err(|err| AppError::Internal(anyhow::anyhow!("rendering page: {err}")))?;
    Ok(actix_web::HttpResponse::build(status).content_type(actix_web::http::header::ContentType::html()).body(body))
}

/// A 422 page: the form again, with what was wrong.
pub fn unprocessable(page: &impl askama::Template) -> Result<actix_web::HttpResponse, AppError> {
    render_with_status(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, page)
}
