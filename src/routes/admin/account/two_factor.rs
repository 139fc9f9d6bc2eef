//! Two-factor sign-in on the Account page: set it up (a QR code and the secret, then a code to
//! confirm, then ten recovery codes shown once), see how many recovery codes are left, make new
//! ones, or turn it off; each of those last two asks for a code. Turning it off is refused while
//! the operator requires it (`OFFSTAGE_REQUIRE_2FA`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts::two_factor::{self, Enrolment};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::page::render_with_status;
use crate::web::{CsrfForm, Flash, PageContext, redirect};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/two-factor", web::get().to(show))
        .route("/account/two-factor", web::post().to(confirm))
        .route("/account/two-factor/recovery-codes", web::post().to(new_recovery_codes))
        .route("/account/two-factor/disable", web::post().to(disable));
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/account/two_factor.html")]
struct TwoFactorPage {
    ctx: PageContext,
    /// The set-up, while two-factor sign-in is off.
    enrolment: Option<Enrolment>,
    /// Recovery codes to show once (just made).
    recovery_codes: Vec<String>,
    codes_left: u64,
    /// The operator requires it of this account.
    required: bool,
    error: Option<String>,
}

impl TwoFactorPage {
    fn must_set_up(&self) -> bool {
        self.required && self.enrolment.is_some()
    }

    fn enabled_since(&self) -> String {
        self.ctx.user.user().totp_enabled_at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
    }
}

async fn page(ctx: PageContext, state: &AppState, error: Option<String>) -> Result<TwoFactorPage, AppError> {
    let account = ctx.user.user().clone();
    let enrolment = if account.two_factor_enabled() {
        None
    } else {
        Some(two_factor::begin(&state.db, &state.config, &account).await?)
    };
    let codes_left = two_factor::recovery_codes_left(&state.db, &account.id).await?;
    let required = state.config.require_two_factor.applies_to(account.is_platform_admin);
    Ok(TwoFactorPage { ctx, enrolment, recovery_codes: Vec::new(), codes_left, required, error })
}

async fn show(ctx: PageContext, state: web::Data<AppState>) -> Result<TwoFactorPage, AppError> {
    page(ctx, &state, None).await
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// The page again with `err`, as a 422.
async fn wrong(ctx: PageContext, state: &AppState, err: AppError) -> Result<HttpResponse, AppError> {
    render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page(ctx, state, Some(err.to_string())).await?)
}

async fn confirm(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let account = ctx.user.user().clone();
    match two_factor::confirm(&state.db, &state.config, &account, &form.code).await {
        Ok(codes) => {
            let mut shown = page(ctx, &state, None).await?;
            shown.enrolment = None;
            shown.codes_left = codes.len() as u64;
            shown.recovery_codes = codes;
            render_with_status(StatusCode::OK, &shown)
        }
        Err(err @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => wrong(ctx, &state, err).await,
        Err(other) => Err(other),
    }
}

/// Checks `code` for the signed-in account; a wrong one is the page again with why.
async fn code_is_right(state: &AppState, ctx: &PageContext, code: &str) -> Result<bool, AppError> {
    two_factor::check(&state.db, &state.config, ctx.user.user(), code).await
}

fn not_right() -> AppError {
    AppError::Unprocessable("That code is not right, or was used already: enter the code your app shows now.".into())
}

async fn new_recovery_codes(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    if !code_is_right(&state, &ctx, &form.code).await? {
        return wrong(ctx, &state, not_right()).await;
    }
    let codes = two_factor::new_recovery_codes(&state.db, ctx.user.id()).await?;
    let mut shown = page(ctx, &state, None).await?;
    shown.codes_left = codes.len() as u64;
    shown.recovery_codes = codes;
    render_with_status(StatusCode::OK, &shown)
}

async fn disable(
    ctx: PageContext,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    if state.config.require_two_factor.applies_to(ctx.is_platform_admin()) {
        return Err(AppError::Forbidden(
            "Two-factor sign-in is required for your account; it cannot be turned off.".into(),
        ));
    }
    if !code_is_right(&state, &ctx, &form.code).await? {
        return wrong(ctx, &state, not_right()).await;
    }
    two_factor::turn_off(&state.db, ctx.user.user()).await?;
    Flash::success(&ctx.session, "Two-factor sign-in is off. Signing in takes only your password now.");
    Ok(redirect("/admin/account"))
}
