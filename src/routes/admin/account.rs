//! The signed-in user's own account: see the email, change the password (which signs out every
//! other session).

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts;
use crate::domain::{Password, PasswordHash};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::page::unprocessable;
use crate::web::{CsrfForm, Flash, PageContext, current_user, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(show)).route("/account/password", web::post().to(change_password));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/account/show.html")]
struct AccountPage {
    ctx: PageContext,
    error: Option<String>,
}

async fn show(ctx: PageContext) -> AccountPage {
    AccountPage { ctx, error: None }
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
    let check = || -> Result<Password, String> {
        if !PasswordHash(ctx.user.0.password_hash.clone()).verify(&form.current_password) {
            return Err("The current password is not right.".into());
        }
        if form.new_password != form.new_password_confirmation {
            return Err("The two new passwords don't match.".into());
        }
        Password::parse(&form.new_password)
    };
    match check() {
        Ok(password) => {
            let updated = accounts::change_password(&state.db, ctx.user.0.clone(), &password).await?;
            current_user::sign_in(&ctx.session, &updated)?;
            Flash::success(&ctx.session, "Password changed. Other browsers signed in as you have been signed out.");
            Ok(redirect("/admin/account"))
        }
        Err(msg) => unprocessable(&AccountPage { ctx, error: Some(msg) }),
    }
}
