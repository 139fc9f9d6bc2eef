//! CSRF protection: a per-session synchronizer token that every state-changing form carries in a
//! hidden `csrf_token` field. `CsrfForm<T>` is the only form extractor the admin uses, so a
//! handler cannot accept a form without the check.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::AppError;

const SESSION_KEY: &str = "csrf";
/// Forms larger than this are not forms a person filled in.
const FORM_LIMIT: usize = 64 * 1024;

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(existing)) = session.get::<String>(SESSION_KEY) {
        return existing;
    }
    let fresh = crate::tokens::random_hex(32);
    let _ = session.insert(SESSION_KEY, &fresh);
    fresh
}

/// Whether `sent` is the session's token (for a form read another way, such as an upload).
pub fn verify(session: &Session, sent: Option<&str>) -> Result<(), AppError> {
    let expected = session.get::<String>(SESSION_KEY).ok().flatten();
    let valid = matches!((sent, expected.as_deref()), (Some(s), Some(e)) if crate::tokens::constant_time_eq(s, e));
    if !valid {
        return Err(AppError::Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again.".into(),
        ));
    }
    Ok(())
}

/// A urlencoded form whose `csrf_token` matched the session's.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| AppError::BadRequest("The form could not be read".into()))?;
            if body.len() > FORM_LIMIT {
                return Err(AppError::BadRequest("The form is too large".into()));
            }
            let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| AppError::BadRequest("The form could not be read".into()))?;
            verify(&session, fields.iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v.as_str()))?;
            serde_urlencoded::from_bytes(&body)
                .map(CsrfForm)
                .map_err(|err| AppError::BadRequest(format!("The form is incomplete: {err}")))
        })
    }
}
