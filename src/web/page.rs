//! `PageContext`: what the layout of every signed-in page needs (who is signed in, the CSRF
//! token, flash messages), gathered by one extractor. It is also where an account that must
//! have two-factor sign-in (`OFFSTAGE_REQUIRE_2FA`) and has not is sent to set it up: every
//! signed-in page but the account's own goes through here.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::{CurrentUser, Flash, csrf};
use crate::error::AppError;
use crate::state::AppState;

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
    /// The layout tells an unconfirmed address so (it cannot join workspaces or create one yet).
    pub fn email_unconfirmed(&self) -> bool {
        !self.user.user().email_verified()
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
        let policy = req.app_data::<web::Data<AppState>>().map(|state| state.config.require_two_factor);
        let own_account = req.path().starts_with("/admin/account");
        Box::pin(async move {
            let user = user.await?;
            let required = policy.is_some_and(|p| p.applies_to(user.is_platform_admin()));
            if required && !user.user().two_factor_enabled() && !own_account {
                return Err(AppError::TwoFactorRequired);
            }
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

/// `page` answered with `err`'s status (a form shown again with why it was refused), and its
/// `Retry-After` when it is a refusal for now.
pub fn refused<T: actix_web::Responder + 'static>(
    req: &HttpRequest,
    page: T,
    err: &AppError,
) -> actix_web::HttpResponse {
    use actix_web::{Responder, ResponseError};
    let mut shown = page.customize().with_status(err.status_code());
    if let Some(header) = err.retry_after() {
        shown = shown.insert_header(header);
    }
    shown.respond_to(req).map_into_boxed_body()
}

/// `page` rendered with `err`'s status and `Retry-After` (for handlers that render themselves).
pub fn render_refused(err: &AppError, page: &impl askama::Template) -> Result<actix_web::HttpResponse, AppError> {
    use actix_web::ResponseError;
    let mut response = render_with_status(err.status_code(), page)?;
    if let Some((name, value)) = err.retry_after()
        && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&value)
    {
        response.headers_mut().insert(actix_web::http::header::HeaderName::from_static(name), value);
    }
    Ok(response)
}
