//! `/signup`, when the operator opens it (`OFFSTAGE_SIGNUP=open`; otherwise 404): an email and a
//! password, then "check your email", the same answer whether or not the address already has an
//! account (see `accounts::signup`). The link confirms the address; the person then signs in and
//! creates their first workspace, which starts its trial.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts::signup;
use crate::config::Signup;
use crate::domain::{Email, Password};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::client::Client;
use crate::web::page::refused;
use crate::web::{CsrfForm, csrf};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/signup", web::get().to(show)).route("/signup", web::post().to(submit));
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/signup.html")]
struct SignupPage {
    csrf_token: String,
    email: String,
    /// Set once signed up: where the link went.
    sent_to: Option<String>,
    error: Option<String>,
}

fn require_open(state: &AppState) -> Result<(), AppError> {
    if state.config.signup == Signup::Open { Ok(()) } else { Err(AppError::NotFound) }
}

async fn show(state: web::Data<AppState>, session: Session) -> Result<SignupPage, AppError> {
    require_open(&state)?;
    Ok(SignupPage { csrf_token: csrf::token(&session), email: String::new(), sent_to: None, error: None })
}

#[derive(Deserialize)]
struct SignupForm {
    email: String,
    password: String,
    password_confirmation: String,
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    Client(client): Client,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> Result<HttpResponse, AppError> {
    require_open(&state)?;
    let parsed = Email::parse(&form.email).and_then(|email| {
        if form.password != form.password_confirmation {
            return Err("The two passwords don't match.".to_owned());
        }
        Password::parse(&form.password).map(|password| (email, password))
    });
    let outcome = match &parsed {
        Ok((email, password)) => signup::sign_up(&state.db, &state.config, email, password, &client.ip).await,
        Err(msg) => Err(AppError::Unprocessable(msg.clone())),
    };
    let page = |sent_to: Option<String>, error: Option<String>| SignupPage {
        csrf_token: csrf::token(&session),
        email: form.email.trim().to_owned(),
        sent_to,
        error,
    };
    match outcome {
        Ok(()) => {
            let email = parsed.map(|(email, _)| email.to_string()).unwrap_or_default();
            Ok(page(Some(email), None).respond_to(&req).map_into_boxed_body())
        }
        Err(err @ (AppError::Unprocessable(_) | AppError::TooManyRequests { .. })) => {
            Ok(refused(&req, page(None, Some(err.to_string())), &err))
        }
        Err(other) => Err(other),
    }
}
