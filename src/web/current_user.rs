//! The signed-in user, loaded from the session cookie on every admin request. A session is
//! valid only while its epoch matches the user's, so changing the password signs out every
//! other browser.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use sea_orm::EntityTrait;

use crate::db::entities::user;
use crate::error::AppError;
use crate::state::AppState;

const USER_KEY: &str = "uid";
const EPOCH_KEY: &str = "epoch";

#[derive(Debug, Clone)]
pub struct CurrentUser(pub user::Model);

impl CurrentUser {
    pub fn id(&self) -> &str {
        &self.0.id
    }
    pub fn email(&self) -> &str {
        &self.0.email
    }
    pub fn is_platform_admin(&self) -> bool {
        self.0.is_platform_admin
    }
}

/// Starts a fresh session for `user` (a new cookie, so a planted one can't be reused).
pub fn sign_in(session: &Session, user: &user::Model) -> Result<(), AppError> {
    session.renew();
    session
        .insert(USER_KEY, &user.id)
        .and_then(|_| session.insert(EPOCH_KEY, user.session_epoch))
        .map_err(|err| AppError::Internal(anyhow::anyhow!("session insert: {err}")))
}

pub fn sign_out(session: &Session) {
    session.purge();
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let next = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState missing")))?;
            let user_id = session.get::<String>(USER_KEY).ok().flatten();
            let epoch = session.get::<i32>(EPOCH_KEY).ok().flatten();
            let (Some(user_id), Some(epoch)) = (user_id, epoch) else {
                return Err(AppError::LoginRequired(next));
            };
            match user::Entity::find_by_id(user_id).one(&state.db).await? {
                Some(found) if found.session_epoch == epoch => Ok(CurrentUser(found)),
                _ => {
                    session.purge();
                    Err(AppError::LoginRequired(next))
                }
            }
        })
    }
}
