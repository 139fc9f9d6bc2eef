//! Typed settings read once from `OFFSTAGE_*` environment variables. A bad value fails start-up
//! with one line naming the variable; secrets live in `Secret` so they never reach a log.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};

mod limits;
mod mail;
mod retention;
mod secret;

pub use limits::TenantLimits;
pub use mail::{MailSettings, SMTP_CONNECTIONS};
pub use retention::Retention;
pub use secret::Secret;
use secret::persisted_secret_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// How often a worker process adds its counts of ended attempts to the database.
pub const COUNTS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub database_kind: DatabaseKind,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    pub base_url: String,
    pub secret_key: Secret,
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
    /// Number of jobs run at once by this process's workers.
    pub worker_concurrency: usize,
    /// The wait before a failed run's first retry; each later retry waits twice as long.
    pub retry_base: std::time::Duration,
    /// How often a worker process adds its counts of ended attempts to the database, for
    /// Platform → Queue (`engine::tallies`): `COUNTS_EVERY`.
    pub counts_every: std::time::Duration,
    pub stripe: StripeSettings,
    pub mail: MailSettings,
    /// Workspaces created in Offstage start a trial this long; None: no trial.
    pub trial_days: Option<u32>,
    pub sessions: SessionSettings,
    /// Proxies whose `X-Forwarded-For` is believed; everyone else's address is the peer's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub limits: TenantLimits,
    /// Who may create an account (`OFFSTAGE_SIGNUP`).
    pub signup: Signup,
    /// Who must sign in with a second factor (`OFFSTAGE_REQUIRE_2FA`).
    pub require_two_factor: RequireTwoFactor,
    /// Where files go (`OFFSTAGE_STORAGE_URL`, `s3://bucket/prefix`); None: under `data_dir`.
    pub storage_url: Option<String>,
    /// Days an export's file is kept before the daily clean-up deletes it
    /// (`OFFSTAGE_EXPORT_EXPIRY_DAYS`, 7 by default).
    pub export_expiry_days: u32,
    /// How long finished runs and other records of the past are kept (`OFFSTAGE_RETENTION_*`).
    pub retention: Retention,
    /// The Bearer token `/metrics` asks for on the main server (`OFFSTAGE_METRICS_TOKEN`); None:
    /// not served there.
    pub metrics_token: Option<Secret>,
    /// A listener of its own serving `/metrics` without a token (`OFFSTAGE_METRICS_BIND`).
    pub metrics_bind: Option<SocketAddr>,
}

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    /// Only invitations and operators (the default).
    Invite,
    /// Anyone, with a verified email, who then creates their first workspace.
    Open,
}

impl Signup {
    fn from_env() -> anyhow::Result<Signup> {
        match var("OFFSTAGE_SIGNUP").as_deref() {
            None | Some("invite") => Ok(Signup::Invite),
            Some("open") => Ok(Signup::Open),
            Some(other) => bail!("OFFSTAGE_SIGNUP must be invite or open, got “{other}”"),
        }
    }
}

/// Whose accounts must have two-factor sign-in before they may use Offstage (their own account
/// page aside, where they turn it on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequireTwoFactor {
    None,
    /// Platform admins: they can change every tenant's billing and data.
    PlatformAdmins,
    All,
}

impl RequireTwoFactor {
    /// The setting, or by default `platform_admins` for a public base URL and `none` for a
    /// loopback one (a local `cargo run`), so trying Offstage stays one command.
    fn from_env(base_url: &str) -> anyhow::Result<RequireTwoFactor> {
        match var("OFFSTAGE_REQUIRE_2FA").as_deref() {
            Some("none") => Ok(RequireTwoFactor::None),
            Some("platform_admins") => Ok(RequireTwoFactor::PlatformAdmins),
            Some("all") => Ok(RequireTwoFactor::All),
            Some(other) => bail!("OFFSTAGE_REQUIRE_2FA must be none, platform_admins or all, got “{other}”"),
            None => Ok(RequireTwoFactor::default_for(base_url)),
        }
    }

    /// `none` on this machine (`http://127.0.0.1:8080`), `platform_admins` anywhere else.
    pub fn default_for(base_url: &str) -> RequireTwoFactor {
        if is_loopback(base_url) { RequireTwoFactor::None } else { RequireTwoFactor::PlatformAdmins }
    }

    /// Whether `user` must have two-factor sign-in.
    pub fn applies_to(self, platform_admin: bool) -> bool {
        match self {
            RequireTwoFactor::None => false,
            RequireTwoFactor::PlatformAdmins => platform_admin,
            RequireTwoFactor::All => true,
        }
    }
}

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &str) -> bool {
    match url::Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// How long a signed-in session lasts.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// A session unused this long has ended.
    pub idle_timeout: std::time::Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub lifetime: std::time::Duration,
}

impl Default for SessionSettings {
    fn default() -> SessionSettings {
        SessionSettings {
            idle_timeout: std::time::Duration::from_secs(7 * 86_400),
            lifetime: std::time::Duration::from_secs(30 * 86_400),
        }
    }
}

impl SessionSettings {
    fn from_env() -> anyhow::Result<SessionSettings> {
        let defaults = SessionSettings::default();
        let idle_timeout = duration_in("OFFSTAGE_SESSION_IDLE_TIMEOUT", defaults.idle_timeout)?;
        let lifetime = duration_in("OFFSTAGE_SESSION_LIFETIME", defaults.lifetime)?;
        if idle_timeout > lifetime {
            bail!("OFFSTAGE_SESSION_IDLE_TIMEOUT must not be longer than OFFSTAGE_SESSION_LIFETIME");
        }
        Ok(SessionSettings { idle_timeout, lifetime })
    }
}

/// `10.0.0.1, 10.1.0.0/16`: addresses or networks, comma-separated.
pub fn parse_trusted_proxies(list: &str) -> anyhow::Result<Vec<ipnet::IpNet>> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| {
                    format!("OFFSTAGE_TRUSTED_PROXIES must list addresses or networks such as 10.0.0.0/8, got “{item}”")
                })
        })
        .collect()
}

/// Stripe: the webhook endpoint's secrets and how Stripe prices map to Offstage plan names.
#[derive(Debug, Clone, Default)]
pub struct StripeSettings {
    /// Any of these may have signed a delivery (more than one while a secret is rotated).
    pub webhook_secrets: Vec<Secret>,
    /// Stripe price (or legacy plan) id → plan name, e.g. `price_123` → `pro`.
    pub plans: Vec<(String, String)>,
    /// The API key: without it, Offstage only receives webhooks and never calls Stripe.
    pub secret_key: Option<Secret>,
    /// Where the Stripe API is (tests point it at localstripe); Stripe's own when unset.
    pub api_base: Option<String>,
}

impl StripeSettings {
    fn from_env() -> anyhow::Result<StripeSettings> {
        let webhook_secrets = var("OFFSTAGE_STRIPE_WEBHOOK_SECRET")
            .map(|list| list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Secret::new).collect())
            .unwrap_or_default();
        let mut plans = Vec::new();
        for pair in var("OFFSTAGE_STRIPE_PLANS").unwrap_or_default().split(',').filter(|p| !p.trim().is_empty()) {
            let (price, plan) = pair
                .split_once('=')
                .map(|(price, plan)| (price.trim(), plan.trim()))
                .filter(|(price, plan)| !price.is_empty() && !plan.is_empty())
                .with_context(|| {
                    format!("OFFSTAGE_STRIPE_PLANS must be price_id=plan pairs separated by commas, got “{pair}”")
                })?;
            plans.push((price.to_owned(), plan.to_owned()));
        }
        let api_base = match var("OFFSTAGE_STRIPE_API_BASE") {
            Some(url) => Some(
                url::Url::parse(&url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .map(|u| u.as_str().trim_end_matches('/').to_owned())
                    .with_context(|| format!("OFFSTAGE_STRIPE_API_BASE must be an http(s) URL, got “{url}”"))?,
            ),
            None => None,
        };
        let secret_key = var("OFFSTAGE_STRIPE_SECRET_KEY").map(Secret::new);
        Ok(StripeSettings { webhook_secrets, plans, secret_key, api_base })
    }

    /// The plan name for a Stripe price id: the configured name, else the id itself.
    pub fn plan_for(&self, price_id: &str) -> String {
        self.plans
            .iter()
            .find(|(price, _)| price == price_id)
            .map(|(_, plan)| plan.clone())
            .unwrap_or_else(|| price_id.to_owned())
    }
}

/// Reads a variable; unset and empty are the same.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A duration (`30d`, `12h`, `15m`, `45s`) from the variable `name`, or `default` when it is unset.
fn duration_in(name: &str, default: std::time::Duration) -> anyhow::Result<std::time::Duration> {
    match var(name) {
        Some(text) => crate::domain::parse_duration(&text).map_err(|msg| anyhow::anyhow!("{name}: {msg}")),
        None => Ok(default),
    }
}

/// A whole number within `range` from the variable `name`, or `default` when it is unset.
fn number_in(name: &str, range: std::ops::RangeInclusive<usize>, default: usize) -> anyhow::Result<usize> {
    let Some(text) = var(name) else { return Ok(default) };
    text.parse::<usize>()
        .ok()
        .filter(|n| range.contains(n))
        .with_context(|| format!("{name} must be a number from {} to {}", range.start(), range.end()))
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let data_dir = PathBuf::from(var("OFFSTAGE_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = var("OFFSTAGE_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("offstage.db").display()));
        let database_kind = database_kind(&database_url)?;
        let bind: SocketAddr = var("OFFSTAGE_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .context("OFFSTAGE_BIND must be an address and port such as 127.0.0.1:8080")?;
        let base_url = match var("OFFSTAGE_BASE_URL") {
            Some(url) => {
                let parsed = url::Url::parse(&url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .with_context(|| format!("OFFSTAGE_BASE_URL must be an http(s) URL, got “{url}”"))?;
                parsed.as_str().trim_end_matches('/').to_owned()
            }
            None => format!("http://{bind}"),
        };
        // SQLite has one writer at a time: more concurrent runs only queue on its lock.
        let default_concurrency = if database_kind == DatabaseKind::Sqlite { 4 } else { 16 };
        let worker_concurrency = number_in("OFFSTAGE_WORKER_CONCURRENCY", 1..=1024, default_concurrency)?;
        let retry_base = match var("OFFSTAGE_RETRY_BASE_MS") {
            Some(ms) => ms
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=3_600_000).contains(ms))
                .map(std::time::Duration::from_millis)
                .context("OFFSTAGE_RETRY_BASE_MS must be a number of milliseconds from 1 to 3600000")?,
            None => std::time::Duration::from_secs(2),
        };
        let stripe = StripeSettings::from_env()?;
        let mail = MailSettings::from_env()?;
        let trial_days = match var("OFFSTAGE_TRIAL_DAYS") {
            Some(days) => match days.parse::<u32>().ok().filter(|d| *d <= 365) {
                Some(0) => None,
                Some(d) => Some(d),
                None => bail!("OFFSTAGE_TRIAL_DAYS must be a number of days from 0 (no trial) to 365"),
            },
            None => Some(14),
        };
        let sessions = SessionSettings::from_env()?;
        let trusted_proxies = parse_trusted_proxies(&var("OFFSTAGE_TRUSTED_PROXIES").unwrap_or_default())?;
        let limits = TenantLimits::from_env()?;
        let signup = Signup::from_env()?;
        let require_two_factor = RequireTwoFactor::from_env(&base_url)?;
        let export_expiry_days = number_in("OFFSTAGE_EXPORT_EXPIRY_DAYS", 1..=365, 7)? as u32;
        let retention = Retention::from_env()?;
        let metrics_token = match var("OFFSTAGE_METRICS_TOKEN") {
            Some(token) if token.len() < 16 => bail!("OFFSTAGE_METRICS_TOKEN must be at least 16 characters long"),
            token => token.map(Secret::new),
        };
        let metrics_bind = var("OFFSTAGE_METRICS_BIND")
            .map(|text| {
                text.parse::<SocketAddr>().with_context(|| {
                    format!("OFFSTAGE_METRICS_BIND must be an address and port such as 127.0.0.1:9090, got “{text}”")
                })
            })
            .transpose()?;
        // Last: only a configuration that is otherwise valid may create the key file.
        let secret_key = match var("OFFSTAGE_SECRET_KEY") {
            Some(key) if key.len() < 32 => bail!("OFFSTAGE_SECRET_KEY must be at least 32 characters long"),
            Some(key) => Secret::new(key),
            None => persisted_secret_key(&data_dir)?,
        };
        Ok(Config {
            database_url,
            database_kind,
            data_dir,
            bind,
            base_url,
            secret_key,
            admin_email: var("OFFSTAGE_ADMIN_EMAIL"),
            admin_password: var("OFFSTAGE_ADMIN_PASSWORD").map(Secret::new),
            worker_concurrency,
            retry_base,
            counts_every: COUNTS_EVERY,
            stripe,
            mail,
            trial_days,
            sessions,
            trusted_proxies,
            limits,
            signup,
            require_two_factor,
            storage_url: var("OFFSTAGE_STORAGE_URL"),
            export_expiry_days,
            retention,
            metrics_token,
            metrics_bind,
        })
    }

    /// Session cookies are marked Secure, and browsers told to use https only (HSTS), when the
    /// public URL is https.
    pub fn cookies_secure(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

pub fn database_kind(url: &str) -> anyhow::Result<DatabaseKind> {
    if url.starts_with("sqlite:") {
        Ok(DatabaseKind::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DatabaseKind::Postgres)
    } else {
        bail!("OFFSTAGE_DATABASE_URL must start with sqlite: or postgres://")
    }
}

#[cfg(test)]
mod tests {
    use super::{RequireTwoFactor, is_loopback};

    #[test]
    fn platform_admins_need_two_factor_by_default_unless_offstage_runs_on_this_machine() {
        assert_eq!(RequireTwoFactor::default_for("http://127.0.0.1:8080"), RequireTwoFactor::None);
        assert_eq!(RequireTwoFactor::default_for("https://offstage.example.com"), RequireTwoFactor::PlatformAdmins);
        assert!(
            RequireTwoFactor::PlatformAdmins.applies_to(true) && !RequireTwoFactor::PlatformAdmins.applies_to(false)
        );
        assert!(RequireTwoFactor::All.applies_to(false) && !RequireTwoFactor::None.applies_to(true));
    }

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for local in ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://127.1.2.3"] {
            assert!(is_loopback(local), "{local}");
        }
        for public in ["https://offstage.example.com", "http://10.0.0.5", "http://0.0.0.0:8080", "not a url"] {
            assert!(!is_loopback(public), "{public}");
        }
    }
}
