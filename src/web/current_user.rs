//! The signed-in user, found on every admin request through the session cookie, which names a
//! row of `sessions` (see `accounts::sessions`). The row is the session: when it is gone or has
//! ended, the cookie opens nothing. Looked up once per request and kept in its extensions.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::client::Client;
use crate::accounts::sessions;
use crate::db::entities::user;
use crate::error::AppError;
use crate::state::AppState;

/// The cookie session's key for the session row's secret.
const TOKEN_KEY: &str = "sid";

#[derive(Debug, Clone)]
pub struct CurrentUser {
    user: user::Model,
    session_id: String,
}

impl CurrentUser {
    pub fn user(&self) -> &user::Model {
        &self.user
    }
    pub fn id(&self) -> &str {
        &self.user.id
    }
    pub fn email(&self) -> &str {
        &self.user.email
    }
    pub fn is_platform_admin(&self) -> bool {
        self.user.is_platform_admin
    }
    /// The `sessions` row this request was made in.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }
}

/// Puts the secret of a session just started into a fresh cookie.
pub fn sign_in(session: &Session, token: &str) -> Result<(), AppError> {
    session.renew();
    session.insert(TOKEN_KEY, token).map_err(|err| AppError::Internal(anyhow::anyhow!("session insert: {err}")))
}

/// The secret of the browser's session, if it has one.
pub fn token(session: &Session) -> Option<String> {
    session.get::<String>(TOKEN_KEY).ok().flatten()
}

/// Forgets the cookie (the row is ended by `accounts::sessions::end`).
pub fn sign_out(session: &Session) {
    session.purge();
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(found) = req.extensions().get::<CurrentUser>() {
                return Ok(found.clone());
            }
            let next = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?;
            let session = req.get_session();
            let Some(token) = token(&session) else {
                return Err(AppError::LoginRequired(next));
            };
            let client = Client::of(&req);
            match sessions::resume(&state.db, &token, &client, &state.config.sessions).await? {
                Some((found, user)) => {
                    let current = CurrentUser { user, session_id: found.id };
                    req.extensions_mut().insert(current.clone());
                    Ok(current)
                }
                None => {
                    session.purge();
                    Err(AppError::LoginRequired(next))
                }
            }
        })
    }
}
