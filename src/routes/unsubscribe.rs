//! `/unsubscribe/{token}`: the link in every lifecycle email. Opening it asks to confirm (mail
//! scanners follow links, so a GET changes nothing); the button, or a mail client's one-click
//! POST (RFC 8058 `List-Unsubscribe-Post`), unsubscribes. The signed token is the credential.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use crate::error::AppError;
use crate::mail::unsubscribe;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/unsubscribe/{token}", web::get().to(show)).route("/unsubscribe/{token}", web::post().to(confirm));
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/unsubscribe.html")]
struct UnsubscribePage {
    email: String,
    token: String,
    done: bool,
}

fn email_of(state: &AppState, token: &str) -> Result<String, AppError> {
    unsubscribe::verify(&state.config.secret_key, token).ok_or_else(|| {
        AppError::BadRequest(
            "This unsubscribe link is not valid. Use the link from the latest email you received.".into(),
        )
    })
}

async fn show(state: web::Data<AppState>, token: web::Path<String>) -> Result<UnsubscribePage, AppError> {
    let email = email_of(&state, &token)?;
    let done = unsubscribe::is_suppressed(&state.db, &email).await?;
    Ok(UnsubscribePage { email, token: token.into_inner(), done })
}

async fn confirm(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let email = email_of(&state, &token)?;
    unsubscribe::unsubscribe(&state.db, &email).await?;
    let page = UnsubscribePage { email, token: token.into_inner(), done: true };
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page.render().map_err(anyhow::Error::from)?))
}
