//! `/email/verify/{token}`: the link that proves an email address (a new account's, or the new
//! address of an email change) is its owner's. Opening it confirms the address at once, as
//! GitHub's does; the link works once, for a day.

use actix_session::Session;
use actix_web::{HttpResponse, web};

use crate::accounts::verification::{self, Confirmed};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Flash, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/email/verify/{token}", web::get().to(confirm));
}

async fn confirm(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let confirmed = verification::confirm(&state.db, &token).await.map_err(|err| match err {
        AppError::NotFound => AppError::Gone(
            "This confirmation link has expired or was already used. Sign in and ask for a new one on your account page."
                .into(),
        ),
        other => other,
    })?;
    let message = match confirmed {
        Confirmed::Verified(account) => format!("{} is confirmed.", account.email),
        Confirmed::Changed { account, old_email } => {
            format!("Your email address is now {} (it was {old_email}).", account.email)
        }
    };
    Flash::success(&session, message);
    // A signed-in person lands on their account; anyone else signs in (the link is not a password).
    Ok(redirect("/admin/account"))
}
