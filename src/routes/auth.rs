//! Sign in and sign out. Sign-ins pass the throttle (`accounts::throttle`); a right password
//! for an account with two-factor sign-in leads to the code step (`two_factor_sign_in`), else
//! (or after it) `finish_sign_in` starts a session (`accounts::sessions`) in a fresh cookie,
//! remembers the browser for that email (`web::device`) and returns to the page that asked for
//! it, if it is on this site. Signing out ends the session itself, not only this browser's cookie.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts::{self, sessions};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::client::Client;
use crate::web::{CsrfForm, Flash, csrf, current_user, device, redirect};

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
    /// Whether to offer "Create an account" (`OFFSTAGE_SIGNUP=open`).
    signup_open: bool,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Where a sign-in goes when `next` is missing or not a path of this site.
const AFTER_SIGN_IN: &str = "/admin";

/// Only a path of this site is followed after sign-in: one leading `/`, no `//`, no `\`, and
/// printable ASCII only. Browsers drop tabs and newlines from a `Location` and read `\` as `/`,
/// so `/\t/evil.example` or `/\\evil.example` would leave the site; a CR/LF would not even fit in
/// a header.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            path.to_owned()
        }
        _ => AFTER_SIGN_IN.to_owned(),
    }
}

async fn show(state: web::Data<AppState>, session: Session, query: web::Query<NextQuery>) -> impl Responder {
    LoginPage {
        csrf_token: csrf::token(&session),
        flashes: Flash::take(&session),
        email: String::new(),
        next: safe_next(query.next.as_deref()),
        error: None,
        signup_open: state.config.signup == crate::config::Signup::Open,
    }
}

/// The last step of every sign-in: a session in a fresh cookie, the browser remembered for the
/// email, and back to `next`.
pub(crate) async fn finish_sign_in(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    client: &crate::accounts::sessions::ClientInfo,
    user: &crate::db::entities::user::Model,
    next: String,
) -> Result<HttpResponse, AppError> {
    let token = sessions::start(&state.db, user, client, &state.config.sessions).await?;
    current_user::sign_in(session, &token)?;
    accounts::record_sign_in(&state.db, user).await?;
    let mut response = redirect(next);
    device::remember(req, &mut response, &state.config, &user.email);
    Ok(response)
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
    Client(client): Client,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref());
    let known_device = device::knows(&req, &state.config, &form.email);
    match accounts::authenticate(&state.db, &form.email, &form.password, &client.ip, known_device).await {
        Ok(user) if user.two_factor_enabled() => {
            super::two_factor_sign_in::ask_for_code(&session, &user, next)?;
            Ok(redirect("/login/two-factor"))
        }
        Ok(user) => finish_sign_in(&req, &state, &session, &client, &user, next).await,
        Err(err @ (AppError::Unauthorized(_) | AppError::TooManyRequests { .. })) => {
            let page = LoginPage {
                csrf_token: csrf::token(&session),
                flashes: Vec::new(),
                email: form.email.trim().to_owned(),
                next,
                error: Some(err.to_string()),
                signup_open: state.config.signup == crate::config::Signup::Open,
            };
            Ok(crate::web::page::refused(&req, page, &err))
        }
        Err(other) => Err(other),
    }
}

async fn logout(
    state: web::Data<AppState>,
    session: Session,
    CsrfForm(_): CsrfForm<serde::de::IgnoredAny>,
) -> Result<HttpResponse, AppError> {
    if let Some(token) = current_user::token(&session) {
        sessions::end(&state.db, &token).await?;
    }
    current_user::sign_out(&session);
    Ok(redirect("/login"))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        for kept in ["/admin/account", "/admin/workspaces?q=a%20b&page=2", "/invitations/abc"] {
            assert_eq!(safe_next(Some(kept)), kept);
        }
        let refused = [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\t\t/evil.example",
            " /evil",
            "/admin\r\nSet-Cookie: x=1",
            "/\u{0}x",
            "/é",
            "https://evil.example",
            "evil.example",
            "",
        ];
        for next in refused {
            assert_eq!(safe_next(Some(next)), "/admin", "{next:?}");
        }
        assert_eq!(safe_next(None), "/admin");
    }
}
