//! `users`: people who sign in.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    pub is_platform_admin: bool,
    pub created_at: DateTimeUtc,
    /// When the person proved the email is theirs (an emailed link; operators and emailed
    /// invitations count); None: unverified.
    pub email_verified_at: Option<DateTimeUtc>,
    /// The TOTP secret, encrypted (`accounts::two_factor`); set while enrolling too.
    pub totp_secret: Option<String>,
    /// When two-factor sign-in was turned on; None: off.
    pub totp_enabled_at: Option<DateTimeUtc>,
    /// The last TOTP time step accepted: a code is good once.
    pub totp_last_step: Option<i64>,
    pub last_signed_in_at: Option<DateTimeUtc>,
}

impl Model {
    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    pub fn two_factor_enabled(&self) -> bool {
        self.totp_enabled_at.is_some()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::membership::Entity")]
    Memberships,
}

impl Related<super::membership::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memberships.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
