//! `/invitations/{token}`: where an invited person lands. Someone new chooses a password and
//! joins; someone with an account signs in as that address and accepts.

use actix_session::{Session, SessionExt};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::accounts::{self, sessions};
use crate::db::entities::{invitation, workspace};
use crate::domain::{Email, Password};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::client::Client;
use crate::web::{CsrfForm, CurrentUser, Flash, csrf, current_user, redirect};
use crate::workspaces::{accept_invitation, find_pending_invitation};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invitations/{token}", web::get().to(show)).route("/invitations/{token}", web::post().to(accept));
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/invitation.html")]
struct InvitationPage {
    csrf_token: String,
    token: String,
    invitation: invitation::Model,
    workspace: workspace::Model,
    /// The email of whoever is signed in, if anyone.
    signed_in_as: Option<String>,
    has_account: bool,
    error: Option<String>,
}

impl InvitationPage {
    fn signed_in_as_invitee(&self) -> bool {
        self.signed_in_as.as_deref() == Some(self.invitation.email.as_str())
    }
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    error: Option<String>,
) -> Result<InvitationPage, AppError> {
    let (invitation, workspace) = find_pending_invitation(&state.db, token).await?;
    let signed_in = CurrentUser::extract(req).await.ok();
    let email = Email::parse(&invitation.email).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let has_account = accounts::find_by_email(&state.db, &email).await?.is_some();
    Ok(InvitationPage {
        csrf_token: csrf::token(&req.get_session()),
        token: token.to_owned(),
        invitation,
        workspace,
        signed_in_as: signed_in.map(|u| u.email().to_owned()),
        has_account,
        error,
    })
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<InvitationPage, AppError> {
    page(&req, &state, &token, None).await
}

#[derive(Deserialize)]
struct AcceptForm {
    password: Option<String>,
    password_confirmation: Option<String>,
}

async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    CsrfForm(form): CsrfForm<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let (invitation, ws) = find_pending_invitation(&state.db, &token).await?;
    let slug = ws.slug.clone();
    let name = ws.name.clone();
    let user = match CurrentUser::extract(&req).await {
        Ok(user) => user.user().clone(),
        Err(_) => {
            let email = Email::parse(&invitation.email).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
            if accounts::find_by_email(&state.db, &email).await?.is_some() {
                let next = format!("/invitations/{token}");
                return Err(AppError::LoginRequired(next));
            }
            let password = form.password.unwrap_or_default();
            if Some(&password) != form.password_confirmation.as_ref() {
                return rerender(&req, &state, &token, "The two passwords don't match.".into()).await;
            }
            let password = match Password::parse(&password) {
                Ok(p) => p,
                Err(msg) => return rerender(&req, &state, &token, msg).await,
            };
            let created =
                accounts::create_user(&state.db, &email, &password, false, accounts::EmailProof::Verified).await?;
            let secret = sessions::start(&state.db, &created, &Client::of(&req), &state.config.sessions).await?;
            current_user::sign_in(&session, &secret)?;
            created
        }
    };
    accept_invitation(&state.db, invitation, ws, &user).await?;
    Flash::success(&session, format!("Welcome to {name}!"));
    Ok(redirect(format!("/admin/workspaces/{slug}")))
}

async fn rerender(req: &HttpRequest, state: &AppState, token: &str, error: String) -> Result<HttpResponse, AppError> {
    let page = page(req, state, token, Some(error)).await?;
    Ok(page.customize().with_status(StatusCode::UNPROCESSABLE_ENTITY).respond_to(req).map_into_boxed_body())
}
