//! The device cookie (OWASP's defence against locking owners out): a browser that signed in as
//! an email carries a signed note saying so, and the sign-in throttle does not slow it down for
//! failures other machines caused on that email. The note names the email only by a hash, is
//! signed with the secret key, and is sent only to `/login`.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse};
use hmac::Mac;

use crate::config::Config;
use crate::tokens;

const COOKIE: &str = "offstage_device";
/// Accounts one browser is remembered for.
const MAX_ACCOUNTS: usize = 5;

/// `{hash of the email}.{signature of that hash}`.
fn note(config: &Config, email: &str) -> String {
    let id = tokens::sha256_hex(&format!("device:{}", email.trim().to_lowercase()));
    format!("{}.{}", &id[..32], signature(config, &id[..32]))
}

fn signature(config: &Config, id: &str) -> String {
    let mut mac = tokens::hmac_sha256(&config.secret_key);
    mac.update(b"device-cookie:");
    mac.update(id.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

fn notes(req: &HttpRequest) -> Vec<String> {
    req.cookie(COOKIE).map(|c| c.value().split('-').take(MAX_ACCOUNTS).map(str::to_owned).collect()).unwrap_or_default()
}

/// Whether this browser has signed in as `email` before.
pub fn knows(req: &HttpRequest, config: &Config, email: &str) -> bool {
    let expected = note(config, email);
    notes(req).iter().any(|found| tokens::constant_time_eq(found, &expected))
}

/// Remembers, in `response`, that this browser signed in as `email`.
pub fn remember(req: &HttpRequest, response: &mut HttpResponse, config: &Config, email: &str) {
    let fresh = note(config, email);
    let genuine = |found: &String| {
        found.split_once('.').is_some_and(|(id, sig)| tokens::constant_time_eq(sig, signature(config, id)))
    };
    let mut kept: Vec<String> = vec![fresh.clone()];
    kept.extend(notes(req).into_iter().filter(|found| *found != fresh && genuine(found)).take(MAX_ACCOUNTS - 1));
    let cookie = Cookie::build(COOKIE, kept.join("-"))
        .path("/login")
        .http_only(true)
        .secure(config.cookies_secure())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .finish();
    // The response is a redirect built here, so adding a cookie cannot fail.
    let _ = response.add_cookie(&cookie);
}
