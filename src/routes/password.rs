//! "Forgot your password?": ask for a link (`/password/forgot`), answered the same whether or not
//! the address has an account, and choose a new password through it (`/password/reset/{token}`).
//! The new password ends every session of the account; the person then signs in with it (with
//! their second factor, if they have one: a reset never skips it).

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts::password_reset;
use crate::domain::Password;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::client::Client;
use crate::web::page::refused;
use crate::web::{CsrfForm, Flash, csrf, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/password/forgot", web::get().to(forgot))
        .route("/password/forgot", web::post().to(ask))
        .route("/password/reset/{token}", web::get().to(form))
        .route("/password/reset/{token}", web::post().to(reset));
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/forgot_password.html")]
struct ForgotPage {
    csrf_token: String,
    email: String,
    /// Set once asked: the answer, the same for every address.
    sent_to: Option<String>,
    error: Option<String>,
}

async fn forgot(session: Session) -> ForgotPage {
    ForgotPage { csrf_token: csrf::token(&session), email: String::new(), sent_to: None, error: None }
}

#[derive(Deserialize)]
struct AskForm {
    email: String,
}

async fn ask(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    Client(client): Client,
    CsrfForm(form): CsrfForm<AskForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.email.trim().to_lowercase();
    match password_reset::request(&state.db, &state.config, &email, &client.ip).await {
        Ok(()) => {
            let page = ForgotPage {
                csrf_token: csrf::token(&session),
                email: String::new(),
                sent_to: Some(email),
                error: None,
            };
            Ok(page.respond_to(&req).map_into_boxed_body())
        }
        Err(err @ AppError::TooManyRequests { .. }) => {
            let page =
                ForgotPage { csrf_token: csrf::token(&session), email, sent_to: None, error: Some(err.to_string()) };
            Ok(refused(&req, page, &err))
        }
        Err(other) => Err(other),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/reset_password.html")]
struct ResetPage {
    csrf_token: String,
    token: String,
    email: String,
    error: Option<String>,
}

/// A link that is not live (unknown, used, replaced or over an hour old) says how to get another.
fn dead_link() -> AppError {
    AppError::Gone("This reset link has expired or was already used. Ask for a new one on the sign-in page.".into())
}

async fn form(state: web::Data<AppState>, session: Session, token: web::Path<String>) -> Result<ResetPage, AppError> {
    let account = password_reset::account_of(&state.db, &token).await.map_err(|_| dead_link())?;
    Ok(ResetPage { csrf_token: csrf::token(&session), token: token.into_inner(), email: account.email, error: None })
}

#[derive(Deserialize)]
struct ResetForm {
    password: String,
    password_confirmation: String,
}

async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let account = password_reset::account_of(&state.db, &token).await.map_err(|_| dead_link())?;
    let checked = if form.password != form.password_confirmation {
        Err("The two passwords don't match.".to_owned())
    } else {
        Password::parse(&form.password)
    };
    let password = match checked {
        Ok(password) => password,
        Err(msg) => {
            let page = ResetPage {
                csrf_token: csrf::token(&session),
                token: token.into_inner(),
                email: account.email,
                error: Some(msg.clone()),
            };
            return Ok(refused(&req, page, &AppError::Unprocessable(msg)));
        }
    };
    password_reset::reset(&state.db, &state.config, &token, &password).await.map_err(|err| match err {
        AppError::NotFound => dead_link(),
        other => other,
    })?;
    Flash::success(
        &session,
        "Your password was changed and every browser signed in as you was signed out. Sign in with the new one.",
    );
    Ok(redirect("/login"))
}
