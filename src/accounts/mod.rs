//! User accounts: creating users, signing in (behind the throttle, with argon2 off the web
//! workers), their sessions, and password changes. These queries are global on purpose: a user
//! exists outside any workspace.

pub mod passwords;
pub mod sessions;
pub mod throttle;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::db::entities::user;
use crate::db::is_unique_violation;
use crate::domain::{Email, Password, PublicId};
use crate::error::AppError;

pub async fn create_user(
    db: &DatabaseConnection,
    email: &Email,
    password: &Password,
    platform_admin: bool,
) -> Result<user::Model, AppError> {
    let hash = passwords::hash(password).await?;
    let created = user::ActiveModel {
        id: Set(PublicId::generate("usr")),
        email: Set(email.to_string()),
        password_hash: Set(hash.0),
        is_platform_admin: Set(platform_admin),
        created_at: Set(Utc::now()),
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

/// Whether `candidate` is `account`'s password (on the hashing pool).
pub async fn is_password_of(account: &user::Model, candidate: &str) -> Result<bool, AppError> {
    passwords::verify(Some(account.password_hash.clone()), candidate).await
}

/// Sets a new password and ends every session of the account but `keep` (the one that changed it).
pub async fn change_password(
    db: &DatabaseConnection,
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
    txn.commit().await?;
    Ok(updated)
}
