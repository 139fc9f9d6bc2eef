//! `AppError`: every way a request can fail, and how it renders, as an HTML page for people or
//! as `{"error": {"code", "message"}}` for the API. 5xx bodies stay opaque; the full cause chain
//! goes to the log.

use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, LOCATION};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("Not found")]
    NotFound,
    /// The visitor must sign in first; carries the page to return to.
    #[error("Sign in to continue")]
    LoginRequired(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// A link that worked once and does no more (used, replaced or expired).
    #[error("{0}")]
    Gone(String),
    /// The account must turn on two-factor sign-in before it goes on (`OFFSTAGE_REQUIRE_2FA`).
    #[error("Turn on two-factor sign-in to continue")]
    TwoFactorRequired,
    /// A body larger than the request may send (an uploaded file); the message says the limit.
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but invalid input, such as parameters that don't match a workflow's schema.
    #[error("{0}")]
    Unprocessable(String),
    /// Refused for now; `retry_after` seconds is when trying again makes sense (`Retry-After`).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("Service unavailable")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::Internal(err.into())
    }
}

// Each area's own error becomes a response here, in one place; a failure that is not the
// caller's keeps its whole cause for the log.

impl From<crate::engine::Error> for AppError {
    fn from(err: crate::engine::Error) -> Self {
        use crate::engine::Error;
        match err {
            Error::NotFound => AppError::NotFound,
            Error::Conflict(message) => AppError::Conflict(message),
            Error::Invalid(message) => AppError::Unprocessable(message),
            other @ (Error::Database(_) | Error::Encode(_) | Error::Corrupt(_)) => AppError::Internal(other.into()),
        }
    }
}

impl From<crate::mail::Error> for AppError {
    fn from(err: crate::mail::Error) -> Self {
        use crate::mail::Error;
        match err {
            Error::NotFound => AppError::NotFound,
            Error::Engine(err) => err.into(),
            other @ (Error::Render(_) | Error::Database(_) | Error::Writer(_) | Error::Loader(_)) => {
                AppError::Internal(other.into())
            }
        }
    }
}

impl From<crate::billing::Error> for AppError {
    fn from(err: crate::billing::Error) -> Self {
        use crate::billing::Error;
        match err {
            Error::NotFound => AppError::NotFound,
            Error::Engine(err) => err.into(),
            Error::Mail(err) => err.into(),
            other @ (Error::Stripe { .. } | Error::Record(_) | Error::Database(_)) => AppError::Internal(other.into()),
        }
    }
}

impl From<crate::workspaces::Error> for AppError {
    fn from(err: crate::workspaces::Error) -> Self {
        use crate::workspaces::Error;
        match err {
            Error::NotFound => AppError::NotFound,
            Error::Conflict(message) => AppError::Conflict(message),
            Error::Forbidden(message) => AppError::Forbidden(message),
            Error::TooManyRequests { message, retry_after } => AppError::TooManyRequests { message, retry_after },
            Error::Tenancy(err) => err.into(),
            Error::Engine(err) => err.into(),
            Error::Mail(err) => err.into(),
            Error::Billing(err) => err.into(),
            other @ Error::Database(_) => AppError::Internal(other.into()),
        }
    }
}

impl From<crate::tenancy::Error> for AppError {
    fn from(err: crate::tenancy::Error) -> Self {
        use crate::tenancy::Error;
        match err {
            Error::NotFound => AppError::NotFound,
            Error::Forbidden(message) => AppError::Forbidden(message),
            Error::Unauthorized(message) => AppError::Unauthorized(message),
            Error::BadRequest(message) => AppError::BadRequest(message),
            Error::Conflict(message) => AppError::Conflict(message),
            other @ Error::Database(_) => AppError::Internal(other.into()),
        }
    }
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::LoginRequired(_) | AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::BadRequest(_) => "bad_request",
            AppError::Conflict(_) => "conflict",
            AppError::Gone(_) => "gone",
            AppError::TwoFactorRequired => "two_factor_required",
            AppError::TooLarge(_) => "too_large",
            AppError::Unprocessable(_) => "unprocessable",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// What a person or client may read: never the internal cause.
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound => "Not found".into(),
            AppError::Internal(_) => "Something went wrong on our side; it has been logged.".into(),
            other => other.to_string(),
        }
    }

    /// The `Retry-After` header a refusal for now carries.
    pub fn retry_after(&self) -> Option<(&'static str, String)> {
        match self {
            AppError::TooManyRequests { retry_after, .. } => Some(("retry-after", retry_after.to_string())),
            _ => None,
        }
    }

    fn log(&self) {
        if let AppError::Internal(err) = self {
            tracing::error!(error = ?err, "request failed");
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: String,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::LoginRequired(_) => StatusCode::SEE_OTHER,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::TwoFactorRequired => StatusCode::SEE_OTHER,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        if let AppError::LoginRequired(next) = self {
            let target =
                format!("/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
            return HttpResponse::SeeOther().insert_header((LOCATION, target)).finish();
        }
        if let AppError::TwoFactorRequired = self {
            return HttpResponse::SeeOther().insert_header((LOCATION, "/admin/account/two-factor?required=1")).finish();
        }
        let status = self.status_code();
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message: self.public_message(),
        };
        let body = page.render().unwrap_or_else(|_| self.public_message());
        let mut response = HttpResponse::build(status);
        if let Some(header) = self.retry_after() {
            response.insert_header(header);
        }
        response.content_type(ContentType::html()).body(body)
    }
}

/// The same errors, rendered as JSON for `/api/*`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

/// The API answers every error a page can meet, in JSON.
macro_rules! api_error_from {
    ($($source:ty),*) => {$(
        impl From<$source> for ApiError {
            fn from(err: $source) -> Self {
                ApiError(err.into())
            }
        }
    )*};
}

api_error_from!(
    AppError,
    sea_orm::DbErr,
    crate::engine::Error,
    crate::tenancy::Error,
    crate::mail::Error,
    crate::billing::Error,
    crate::workspaces::Error
);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            AppError::LoginRequired(_) => StatusCode::UNAUTHORIZED,
            AppError::TwoFactorRequired => StatusCode::FORBIDDEN,
            other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.0.log();
        let mut response = HttpResponse::build(self.status_code());
        if let Some(header) = self.0.retry_after() {
            response.insert_header(header);
        }
        response.json(serde_json::json!({
            "error": { "code": self.0.code(), "message": self.0.public_message() }
        }))
    }
}
