//! Web plumbing shared by the admin pages: who is asking (client address, device cookie), the
//! signed-in user, CSRF-checked forms, flash messages, the per-page context the layout needs,
//! security headers, embedded static files and server-drawn SVG charts.
//! Route handlers live in `routes`; this module holds no page of its own.

pub mod access_log;
pub mod chart;
pub mod client;
pub mod csrf;
pub mod current_user;
pub mod device;
pub mod flash;
pub mod page;
pub mod request_id;
pub mod request_metrics;
mod scope_extractor;
pub mod security_headers;
pub mod static_files;
pub mod upload;

pub use csrf::CsrfForm;
pub use current_user::CurrentUser;
pub use flash::Flash;
pub use page::PageContext;

use actix_web::HttpResponse;
use actix_web::http::header::LOCATION;

/// 303 See Other to `path`: the answer to every successful form post.
pub fn redirect(path: impl AsRef<str>) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((LOCATION, path.as_ref())).finish()
}
