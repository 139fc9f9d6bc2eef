//! The account's email address: send the confirmation link again, or change the address (with
//! the current password; it takes effect once the new address is confirmed, and the old one is
//! told).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::page;
use crate::accounts::{self, verification};
use crate::domain::Email;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::page::{render_refused, unprocessable};
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/email", web::post().to(change))
        .route("/account/email/confirmation", web::post().to(send_confirmation));
}

async fn send_confirmation(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    let account = ctx.user.user();
    if account.email_verified() {
        Flash::info(&ctx.session, "Your email address is already confirmed.");
        return Ok(redirect("/admin/account"));
    }
    match verification::send_for_own_address(&state.db, &state.config, account).await {
        Ok(()) => {
            Flash::success(&ctx.session, format!("A confirmation link is on its way to {}.", account.email));
            Ok(redirect("/admin/account"))
        }
        Err(refused @ AppError::TooManyRequests { .. }) => {
            render_refused(&refused, &page(ctx, &state, Some(refused.to_string())).await?)
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
struct ChangeForm {
    new_email: String,
    current_password: String,
}

async fn change(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    let checked = match Email::parse(&form.new_email) {
        Err(msg) => Err(AppError::Unprocessable(msg)),
        Ok(_) if !accounts::is_password_of(ctx.user.user(), &form.current_password).await? => {
            Err(AppError::Unprocessable("The current password is not right.".into()))
        }
        Ok(email) => {
            verification::request_change(&state.db, &state.config, ctx.user.user(), &email).await.map(|()| email)
        }
    };
    match checked {
        Ok(email) => {
            Flash::success(
                &ctx.session,
                format!(
                    "Check {email}: your address changes once you open the link we sent there. We told your current address too."
                ),
            );
            Ok(redirect("/admin/account"))
        }
        Err(err @ (AppError::Unprocessable(_) | AppError::BadRequest(_))) => {
            unprocessable(&page(ctx, &state, Some(err.to_string())).await?)
        }
        Err(refused @ AppError::TooManyRequests { .. }) => {
            render_refused(&refused, &page(ctx, &state, Some(refused.to_string())).await?)
        }
        Err(other) => Err(other),
    }
}
