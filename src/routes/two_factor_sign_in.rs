//! The second step of signing in to an account with two-factor sign-in: after the right
//! password, the browser holds (in its signed, encrypted cookie) only "this person passed the
//! password, for five minutes"; a current TOTP code or an unused recovery code finishes the
//! sign-in. Wrong codes are limited per account (5 in 15 minutes, then 429).

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

use crate::accounts::request_limits::{self, WRONG_CODES_PER_USER};
use crate::accounts::two_factor;
use crate::db::entities::user;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::client::Client;
use crate::web::page::refused;
use crate::web::{CsrfForm, csrf, redirect};

const PENDING_KEY: &str = "pending_two_factor";
/// How long the code step waits after the password.
const PENDING_SECONDS: i64 = 300;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/two-factor", web::get().to(show)).route("/login/two-factor", web::post().to(submit));
}

/// A sign-in that passed the password and waits for the code.
#[derive(Serialize, Deserialize)]
struct Pending {
    user_id: String,
    next: String,
    until: i64,
}

/// Remembers, in the browser's cookie, that `user` passed the password.
pub(crate) fn ask_for_code(session: &Session, user: &user::Model, next: String) -> Result<(), AppError> {
    let pending = Pending { user_id: user.id.clone(), next, until: Utc::now().timestamp() + PENDING_SECONDS };
    session.insert(PENDING_KEY, pending).map_err(|err| AppError::Internal(anyhow::anyhow!("session insert: {err}")))
}

fn pending(session: &Session) -> Option<Pending> {
    session.get::<Pending>(PENDING_KEY).ok().flatten().filter(|p| p.until > Utc::now().timestamp())
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/two_factor.html")]
struct CodePage {
    csrf_token: String,
    error: Option<String>,
}

async fn show(req: HttpRequest, session: Session) -> HttpResponse {
    if pending(&session).is_none() {
        return redirect("/login");
    }
    CodePage { csrf_token: csrf::token(&session), error: None }.respond_to(&req).map_into_boxed_body()
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    Client(client): Client,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let Some(waiting) = pending(&session) else {
        return Ok(redirect("/login"));
    };
    let refuse = |err: AppError| -> Result<HttpResponse, AppError> {
        let page = CodePage { csrf_token: csrf::token(&session), error: Some(err.to_string()) };
        Ok(refused(&req, page, &err))
    };
    if request_limits::used_up(&state.db, WRONG_CODES_PER_USER, &waiting.user_id).await? {
        return refuse(request_limits::refused("wrong codes for this account", WRONG_CODES_PER_USER));
    }
    let Some(account) = user::Entity::find_by_id(&waiting.user_id).one(&state.db).await? else {
        session.remove(PENDING_KEY);
        return Ok(redirect("/login"));
    };
    if !two_factor::check(&state.db, &state.config, &account, &form.code).await? {
        request_limits::take(&state.db, WRONG_CODES_PER_USER, &account.id).await?;
        return refuse(AppError::Unauthorized(
            "That code is not right, or was used already: enter the 6 digits your app shows now, or a recovery code."
                .into(),
        ));
    }
    request_limits::forget(&state.db, WRONG_CODES_PER_USER, &account.id).await?;
    session.remove(PENDING_KEY);
    super::auth::finish_sign_in(&req, &state, &session, &client, &account, waiting.next).await
}
