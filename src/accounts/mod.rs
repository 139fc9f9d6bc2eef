//! User accounts: creating users, signing in (behind the throttle, with argon2 off the web
//! workers), their sessions, password changes and resets, verified email addresses, sign-up and
//! two-factor sign-in. These queries are global on purpose: a user exists outside any workspace.

pub mod links;
pub mod password_reset;
pub mod passwords;
pub mod request_limits;
pub mod sessions;
pub mod signup;
pub mod throttle;
pub mod two_factor;
pub mod verification;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::db::entities::user;
use crate::db::is_unique_violation;
use crate::domain::{Email, Password, PublicId};
use crate::error::AppError;

/// Whether the new account's email is proven: operators and emailed links vouch for it, a
/// sign-up does not (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProof {
    Verified,
    Unverified,
}

pub async fn create_user(
    db: &DatabaseConnection,
    email: &Email,
    password: &Password,
    platform_admin: bool,
    proof: EmailProof,
) -> Result<user::Model, AppError> {
    let hash = passwords::hash(password).await?;
    let now = Utc::now();
    let created = user::ActiveModel {
        id: Set(PublicId::generate("usr")),
        email: Set(email.to_string()),
        password_hash: Set(hash.0),
        is_platform_admin: Set(platform_admin),
        created_at: Set(now),
        email_verified_at: Set((proof == EmailProof::Verified).then_some(now)),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        last_signed_in_at: Set(None),
    }
    .insert(db)
    .await;
    match created {
        Ok(model) => Ok(model),
        Err(err) if is_unique_violation(&err) => {
            Err(AppError::Conflict(format!("A user with the email {email} already exists.")))
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn find_by_email(db: &DatabaseConnection, email: &Email) -> Result<Option<user::Model>, AppError> {
    Ok(user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db).await?)
}

/// The first platform admin (by creation), if any.
pub async fn first_platform_admin(db: &DatabaseConnection) -> Result<Option<user::Model>, AppError> {
    use sea_orm::QueryOrder;
    Ok(user::Entity::find()
        .filter(user::Column::IsPlatformAdmin.eq(true))
        .order_by_asc(user::Column::CreatedAt)
        .one(db)
        .await?)
}

pub async fn platform_admin_exists(db: &DatabaseConnection) -> Result<bool, AppError> {
    Ok(user::Entity::find().filter(user::Column::IsPlatformAdmin.eq(true)).count(db).await? > 0)
}

/// Checks the password, once the throttle has let the attempt through (429 otherwise). Takes
/// the same time whether or not the account exists. `known_device`: this browser has signed in
/// as this email before (see `throttle`).
pub async fn authenticate(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
    ip: &str,
    known_device: bool,
) -> Result<user::Model, AppError> {
    let email = email.trim().to_lowercase();
    let attempt = throttle::begin(db, &email, ip, known_device).await?;
    let found = user::Entity::find().filter(user::Column::Email.eq(&email)).one(db).await?;
    let verified = match passwords::verify(found.as_ref().map(|u| u.password_hash.clone()), password).await {
        Ok(verified) => verified,
        Err(busy) => {
            throttle::abandoned(db, attempt).await?;
            return Err(busy);
        }
    };
    match found {
        Some(account) if verified => {
            throttle::succeeded(db, attempt).await?;
            Ok(account)
        }
        _ => {
            throttle::failed(db, attempt).await?;
            Err(AppError::Unauthorized("That email and password don't match an account.".into()))
        }
    }
}

/// A person as the platform's user list shows them.
pub struct UserRow {
    pub user: user::Model,
    /// Names of the workspaces they belong to.
    pub workspaces: Vec<String>,
}

/// Users whose email contains `search` (every user when empty), by email, at most `limit`.
pub async fn directory(
    db: &DatabaseConnection,
    _platform: &crate::tenancy::Platform,
    search: &str,
    limit: u64,
) -> Result<Vec<UserRow>, AppError> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut query = user::Entity::find().order_by_asc(user::Column::Email).limit(limit);
    let search = search.trim().to_lowercase();
    if !search.is_empty() {
        query = query.filter(user::Column::Email.contains(&search));
    }
    let found = query.all(db).await?;
    let ids: Vec<String> = found.iter().map(|u| u.id.clone()).collect();
    let memberships = crate::db::entities::membership::Entity::find()
        .filter(crate::db::entities::membership::Column::UserId.is_in(ids))
        .find_also_related(crate::db::entities::workspace::Entity)
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .map(|user| {
            let mut workspaces: Vec<String> = memberships
                .iter()
                .filter(|(m, _)| m.user_id == user.id)
                .filter_map(|(_, ws)| ws.as_ref().map(|ws| ws.name.clone()))
                .collect();
            workspaces.sort();
            UserRow { user, workspaces }
        })
        .collect())
}

/// Notes that `account` just signed in (the platform's user list shows it).
pub async fn record_sign_in(db: &DatabaseConnection, account: &user::Model) -> Result<(), AppError> {
    let mut active: user::ActiveModel = account.clone().into();
    active.last_signed_in_at = Set(Some(Utc::now()));
    active.update(db).await?;
    Ok(())
}

/// Whether `candidate` is `account`'s password (on the hashing pool).
pub async fn is_password_of(account: &user::Model, candidate: &str) -> Result<bool, AppError> {
    passwords::verify(Some(account.password_hash.clone()), candidate).await
}

/// Sets a new password, ends every session of the account but `keep` (the one that changed it)
/// and tells the account's address.
pub async fn change_password(
    db: &DatabaseConnection,
    config: &crate::config::Config,
    account: user::Model,
    new_password: &Password,
    keep: &str,
) -> Result<user::Model, AppError> {
    let hash = passwords::hash(new_password).await?;
    let txn = crate::db::begin_write(db).await?;
    let mut active: user::ActiveModel = account.into();
    active.password_hash = Set(hash.0);
    let updated = active.update(&txn).await?;
    sessions::end_others(&txn, &updated.id, keep).await?;
    password_reset::password_changed_notice(&txn, config, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}
