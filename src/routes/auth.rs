//! Sign in and sign out. Failed sign-ins are throttled per email (see `accounts`); a successful
//! one starts a fresh session and returns to the page that asked for it.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{CsrfForm, Flash, csrf, current_user, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(show))
        .route("/login", web::post().to(submit))
        .route("/logout", web::post().to(logout));
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LoginPage {
    csrf_token: String,
    flashes: Vec<Flash>,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after sign-in, never another host.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/admin/workspaces".to_owned(),
    }
}

async fn show(session: Session, query: web::Query<NextQuery>) -> impl Responder {
    LoginPage {
        csrf_token: csrf::token(&session),
        flashes: Flash::take(&session),
        email: String::new(),
        next: safe_next(query.next.as_deref()),
        error: None,
    }
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let ip = req.connection_info().realip_remote_addr().unwrap_or("unknown").to_owned();
    let next = safe_next(form.next.as_deref());
    match accounts::authenticate(&state.db, &form.email, &form.password, &ip).await {
        Ok(user) => {
            current_user::sign_in(&session, &user)?;
            Ok(redirect(next))
        }
        Err(err @ (AppError::Unauthorized(_) | AppError::TooManyRequests(_))) => {
            let status = if matches!(err, AppError::TooManyRequests(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let page = LoginPage {
                csrf_token: csrf::token(&session),
                flashes: Vec::new(),
                email: form.email.trim().to_owned(),
                next,
                error: Some(err.to_string()),
            };
            Ok(page.customize().with_status(status).respond_to(&req).map_into_boxed_body())
        }
        Err(other) => Err(other),
    }
}

async fn logout(session: Session, CsrfForm(_): CsrfForm<serde::de::IgnoredAny>) -> HttpResponse {
    current_user::sign_out(&session);
    redirect("/login")
}
