//! The signed-in user's own account: the email (confirming and changing it: `email`), the
//! password (changing it ends every other session), two-factor sign-in (`two_factor`), and the
//! browsers signed in as them, each of which can be signed out, or all but this one at once.

mod email;
mod two_factor;

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::platform::Utc;
use crate::accounts::{self, sessions};
use crate::config::SessionSettings;
use crate::db::entities::session;
use crate::domain::{Password, describe_duration};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::page::unprocessable;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(email::configure).configure(two_factor::configure);
    cfg.route("/account", web::get().to(show))
        .route("/account/password", web::post().to(change_password))
        .route("/account/sessions/sign-out-others", web::post().to(sign_out_others))
        .route("/account/sessions/{id}/sign-out", web::post().to(sign_out_one));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/account/show.html")]
pub(super) struct AccountPage {
    ctx: PageContext,
    sessions: Vec<session::Model>,
    settings: SessionSettings,
    error: Option<String>,
    utc: Utc,
}

impl AccountPage {
    fn browser(&self, found: &session::Model) -> String {
        sessions::describe_browser(&found.user_agent)
    }

    fn is_this_one(&self, found: &session::Model) -> bool {
        found.id == self.ctx.user.session_id()
    }

    fn idle_text(&self) -> String {
        describe_duration(self.settings.idle_timeout)
    }

    fn lifetime_text(&self) -> String {
        describe_duration(self.settings.lifetime)
    }

    fn others(&self) -> usize {
        self.sessions.iter().filter(|found| !self.is_this_one(found)).count()
    }
}

pub(super) async fn page(ctx: PageContext, state: &AppState, error: Option<String>) -> Result<AccountPage, AppError> {
    let sessions = sessions::live(&state.db, ctx.user.id(), &state.config.sessions).await?;
    Ok(AccountPage { ctx, sessions, settings: state.config.sessions, error, utc: Utc })
}

async fn show(ctx: PageContext, state: web::Data<AppState>) -> Result<AccountPage, AppError> {
    page(ctx, &state, None).await
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirmation: String,
}

async fn change_password(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let checked = if !accounts::is_password_of(ctx.user.user(), &form.current_password).await? {
        Err("The current password is not right.".to_owned())
    } else if form.new_password != form.new_password_confirmation {
        Err("The two new passwords don't match.".to_owned())
    } else {
        Password::parse(&form.new_password)
    };
    match checked {
        Ok(password) => {
            accounts::change_password(
                &state.db,
                &state.config,
                ctx.user.user().clone(),
                &password,
                ctx.user.session_id(),
            )
            .await?;
            Flash::success(&ctx.session, "Password changed. Other browsers signed in as you have been signed out.");
            Ok(redirect("/admin/account"))
        }
        Err(msg) => unprocessable(&page(ctx, &state, Some(msg)).await?),
    }
}

async fn sign_out_others(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let ended = sessions::end_others(&state.db, ctx.user.id(), ctx.user.session_id()).await?;
    let message = match ended {
        0 => "You were signed in nowhere else.".to_owned(),
        1 => "Signed out of 1 other browser.".to_owned(),
        n => format!("Signed out of {n} other browsers."),
    };
    Flash::success(&ctx.session, message);
    Ok(redirect("/admin/account"))
}

async fn sign_out_one(
    ctx: PageContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    if id.as_str() == ctx.user.session_id() {
        return Err(AppError::BadRequest("To end this session, use Sign out at the top of the page.".into()));
    }
    if !sessions::end_one(&state.db, ctx.user.id(), &id).await? {
        return Err(AppError::NotFound);
    }
    Flash::success(&ctx.session, "That browser has been signed out.");
    Ok(redirect("/admin/account"))
}
