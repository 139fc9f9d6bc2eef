//! First run: when no platform admin exists, create one from OFFSTAGE_ADMIN_EMAIL and
//! OFFSTAGE_ADMIN_PASSWORD, or else with a generated password printed once on the console.

use crate::accounts;
use crate::config::Config;
use crate::domain::{Email, Password};
use crate::error::AppError;

const DEFAULT_ADMIN_EMAIL: &str = "admin@offstage.local";

pub async fn ensure_platform_admin(db: &sea_orm::DatabaseConnection, config: &Config) -> anyhow::Result<()> {
    if accounts::platform_admin_exists(db).await? {
        return Ok(());
    }
    let email = Email::parse(config.admin_email.as_deref().unwrap_or(DEFAULT_ADMIN_EMAIL))
        .map_err(|msg| anyhow::anyhow!("OFFSTAGE_ADMIN_EMAIL: {msg}"))?;
    let (raw_password, generated) = match &config.admin_password {
        Some(secret) => (secret.expose().to_owned(), false),
        None => (crate::tokens::random_hex(10), true),
    };
    let password = Password::parse(&raw_password).map_err(|msg| anyhow::anyhow!("OFFSTAGE_ADMIN_PASSWORD: {msg}"))?;
    match accounts::create_user(db, &email, &password, true, accounts::EmailProof::Verified).await {
        Ok(_) => {}
        // Another process sharing the database created it a moment ago.
        Err(AppError::Conflict(_)) => return Ok(()),
        Err(err) => return Err(anyhow::anyhow!("creating the first platform admin: {err}")),
    }
    println!();
    println!("  Offstage is ready. Sign in as the platform admin:");
    println!("    URL:      {}/login", config.base_url);
    println!("    Email:    {email}");
    if generated {
        // Printed once: it is not stored anywhere in clear.
        println!("    Password: {raw_password}");
    } else {
        println!("    Password: (from OFFSTAGE_ADMIN_PASSWORD)");
    }
    println!();
    Ok(())
}
