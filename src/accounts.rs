//! User accounts: creating users, signing in with a throttle on failures, changing passwords.
//! These queries are global on purpose: a user exists outside any workspace.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::db::entities::{login_attempt, user};
use crate::db::is_unique_violation;
use crate::domain::{Email, Password, PasswordHash, PublicId};
use crate::error::AppError;

/// Failed sign-ins allowed per email within the window before further tries are refused.
pub const MAX_FAILED_LOGINS: u64 = 5;
/// Failed sign-ins allowed per client address within the window, whatever the emails.
pub const MAX_FAILED_LOGINS_PER_IP: u64 = 30;
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;

pub async fn create_user(
    db: &DatabaseConnection,
    email: &Email,
    password: &Password,
    platform_admin: bool,
) -> Result<user::Model, AppError> {
    let hash = password.hash().map_err(|err| AppError::Internal(anyhow::anyhow!("hashing password: {err}")))?;
    let created = user::ActiveModel {
        id: Set(PublicId::generate("usr")),
        email: Set(email.to_string()),
        password_hash: Set(hash.0),
        is_platform_admin: Set(platform_admin),
        session_epoch: Set(0),
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

/// Checks the password; refuses with 429 after too many recent failures for this email, and
/// takes the same time whether or not the account exists.
pub async fn authenticate(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<user::Model, AppError> {
    let email = email.trim().to_lowercase();
    let since = Utc::now() - Duration::minutes(THROTTLE_WINDOW_MINUTES);
    let for_email = login_attempt::Entity::find()
        .filter(login_attempt::Column::Email.eq(&email))
        .filter(login_attempt::Column::AttemptedAt.gt(since))
        .count(db)
        .await?;
    let for_ip = login_attempt::Entity::find()
        .filter(login_attempt::Column::Ip.eq(ip))
        .filter(login_attempt::Column::AttemptedAt.gt(since))
        .count(db)
        .await?;
    if for_email >= MAX_FAILED_LOGINS || for_ip >= MAX_FAILED_LOGINS_PER_IP {
        return Err(AppError::TooManyRequests(format!(
            "Too many failed sign-in attempts for this email. Wait {THROTTLE_WINDOW_MINUTES} minutes and try again."
        )));
    }
    let found = user::Entity::find().filter(user::Column::Email.eq(&email)).one(db).await?;
    let verified = match &found {
        Some(u) => PasswordHash(u.password_hash.clone()).verify(password),
        None => {
            PasswordHash::decoy().verify(password);
            false
        }
    };
    match found {
        Some(u) if verified => {
            login_attempt::Entity::delete_many().filter(login_attempt::Column::Email.eq(&email)).exec(db).await?;
            Ok(u)
        }
        _ => {
            // Old failures no longer count; drop them as new ones arrive.
            login_attempt::Entity::delete_many()
                .filter(login_attempt::Column::AttemptedAt.lt(Utc::now() - Duration::days(1)))
                .exec(db)
                .await?;
            login_attempt::ActiveModel {
                email: Set(email),
                ip: Set(ip.to_owned()),
                attempted_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await?;
            Err(AppError::Unauthorized("That email and password don't match an account.".into()))
        }
    }
}

/// Sets a new password and bumps the session epoch, which signs out every other session.
pub async fn change_password(
    db: &DatabaseConnection,
    account: user::Model,
    new_password: &Password,
) -> Result<user::Model, AppError> {
    let hash = new_password.hash().map_err(|err| AppError::Internal(anyhow::anyhow!("hashing password: {err}")))?;
    let epoch = account.session_epoch + 1;
    let mut active: user::ActiveModel = account.into();
    active.password_hash = Set(hash.0);
    active.session_epoch = Set(epoch);
    Ok(active.update(db).await?)
}
