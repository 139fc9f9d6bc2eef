//! Workspace API keys: `osk_<prefix>_<secret>`, shown once at creation, stored as SHA-256,
//! revocable. A key authenticates as its workspace and nothing else.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};

use super::Error;
use super::{ActivityKind, Scope};
use crate::db::entities::{api_key, workspace};
use crate::domain::PublicId;
use crate::tokens;

/// `last_used_at` is written at most this often per key, to keep API reads read-only.
const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

pub struct ApiKeyCreated {
    pub key: api_key::Model,
    /// The full secret: returned once, never stored.
    pub secret: String,
}

impl Scope {
    pub async fn api_keys(&self, db: &DatabaseConnection) -> Result<Vec<api_key::Model>, Error> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::WorkspaceId.eq(self.workspace_id()))
            .order_by_desc(api_key::Column::CreatedAt)
            .all(db)
            .await?)
    }

    pub async fn create_api_key(&self, db: &DatabaseConnection, name: &str) -> Result<ApiKeyCreated, Error> {
        self.require_manager()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(Error::BadRequest(
                "Give the key a name of 1 to 80 characters, such as “Production server”.".into(),
            ));
        }
        let prefix = tokens::random_hex(4);
        let secret = format!("osk_{prefix}_{}", tokens::random_hex(24));
        let txn = crate::db::begin_write(db).await?;
        let key = api_key::ActiveModel {
            id: Set(PublicId::generate("key")),
            workspace_id: Set(self.workspace_id().to_owned()),
            name: Set(name.to_owned()),
            prefix: Set(format!("osk_{prefix}")),
            token_hash: Set(tokens::sha256_hex(&secret)),
            created_by: Set(Some(self.actor().label())),
            created_at: Set(Utc::now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
        self.record_activity(&txn, ActivityKind::ApiKeyCreated, format!("API key “{name}” was created")).await?;
        txn.commit().await?;
        Ok(ApiKeyCreated { key, secret })
    }

    pub async fn revoke_api_key(&self, db: &DatabaseConnection, key_id: &str) -> Result<api_key::Model, Error> {
        self.require_manager()?;
        let found = api_key::Entity::find_by_id(key_id)
            .filter(api_key::Column::WorkspaceId.eq(self.workspace_id()))
            .one(db)
            .await?
            .ok_or(Error::NotFound)?;
        if found.revoked_at.is_some() {
            return Ok(found);
        }
        let name = found.name.clone();
        let txn = crate::db::begin_write(db).await?;
        let mut active: api_key::ActiveModel = found.into();
        active.revoked_at = Set(Some(Utc::now()));
        let revoked = active.update(&txn).await?;
        self.record_activity(&txn, ActivityKind::ApiKeyRevoked, format!("API key “{name}” was revoked")).await?;
        txn.commit().await?;
        Ok(revoked)
    }
}

/// The scope of a bearer token, or `Unauthorized` for a missing, unknown or revoked key.
pub async fn authenticate_api_key(db: &DatabaseConnection, secret: &str) -> Result<Scope, Error> {
    let unauthorized = || Error::Unauthorized("The API key is missing, unknown or revoked.".into());
    if !secret.starts_with("osk_") || secret.len() > 200 {
        return Err(unauthorized());
    }
    let found = api_key::Entity::find()
        .filter(api_key::Column::TokenHash.eq(tokens::sha256_hex(secret)))
        .find_also_related(workspace::Entity)
        .one(db)
        .await?;
    let (key, Some(ws)) = found.ok_or_else(unauthorized)? else {
        return Err(unauthorized());
    };
    if key.revoked_at.is_some() {
        return Err(unauthorized());
    }
    let now = Utc::now();
    let stale = key.last_used_at.is_none_or(|at| now - at > Duration::seconds(LAST_USED_RESOLUTION_SECONDS));
    let scope = Scope::for_api_key(ws, &key);
    if stale {
        let mut active: api_key::ActiveModel = key.into();
        active.last_used_at = Set(Some(now));
        active.update(db).await?;
    }
    Ok(scope)
}
