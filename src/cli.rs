//! The `offstage` command line: run modes (`serve`, `web`, `worker`, `migrate`) and admin verbs
//! for scripts (`user create`, `user reset-2fa`, `workspace create`, `api-key create`, `revenue`,
//! `export workspaces`, `import workspaces`, `prune`, `backup`, `restore`). Errors end the process
//! with one clear line and a non-zero exit code.

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::{Email, Month, Password, Slug, Timezone, WorkspaceName};
use crate::startup::{self, Application, Mode};
use crate::tenancy::{Platform, Scope};
use crate::{accounts, revenue, workspaces};

#[derive(Parser)]
#[command(
    name = "offstage",
    version,
    about = "Backend workflows, Stripe billing and lifecycle email for multi-tenant SaaS"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and the job workers in one process (the default).
    Serve,
    /// Run only the web server.
    Web,
    /// Run only the job workers.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Seed demo workspaces, schedules and runs (once), then serve like `serve`.
    Demo,
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        action: WorkspaceAction,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Print a month's revenue per workspace and currency, computing the month first if it
    /// never was.
    Revenue {
        /// YYYY-MM, a UTC calendar month; last month when omitted.
        #[arg(long)]
        month: Option<String>,
        #[arg(long, value_enum, default_value_t = RevenueFormat::Csv)]
        format: RevenueFormat,
    },
    /// Write an export to a file.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Import a CSV file, in this process.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Write a consistent copy of the SQLite database while Offstage runs; prints one JSON line.
    Backup {
        /// The file to write (must not exist yet).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Put a backup in place of the SQLite database, with every Offstage process stopped (the
    /// database it replaces is kept beside it); prints one JSON line.
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
    },
    /// Remove now what has outlived its retention (`OFFSTAGE_RETENTION_*`; the built-in daily
    /// schedule does the same); prints one JSON line of what it removed.
    Prune,
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Workspaces (`name,slug,owner_email,timezone,plan,stripe_customer_id`), as Platform →
    /// Imports makes them; prints one JSON line with the counts. Running the same file again
    /// makes nothing twice, and continues the import an earlier run left unfinished (killed).
    Workspaces {
        #[arg(long)]
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ExportWhat {
    /// Every workspace, one row each (the columns of Platform → Exports); prints one JSON line
    /// with the counts.
    Workspaces {
        /// The file to write (replaced if it exists).
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RevenueFormat {
    Csv,
    Json,
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        platform_admin: bool,
    },
    /// Turn off a user's two-factor sign-in (they lost their phone and their recovery codes) and
    /// sign them out everywhere; they sign in with their password and may set it up again.
    #[command(name = "reset-2fa")]
    Reset2fa {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum WorkspaceAction {
    /// Create a workspace owned by an existing user; prints it as one JSON line.
    Create {
        #[arg(long)]
        name: String,
        /// Email of the owner (an existing user).
        #[arg(long)]
        owner: String,
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// URL name; derived from the name when omitted.
        #[arg(long)]
        slug: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApiKeyAction {
    /// Create an API key; its secret is printed once, alone on the last line.
    Create {
        /// The workspace's slug.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config, Mode::Serve).await,
        Command::Web => serve(config, Mode::Web).await,
        Command::Worker => serve(config, Mode::Worker).await,
        Command::Demo => {
            let db = startup::prepare_database(&config).await?;
            crate::bootstrap::ensure_platform_admin(&db, &config).await?;
            let owner =
                accounts::first_platform_admin(&db).await?.context("no platform admin to own the demo workspaces")?;
            let registry = crate::registry::workflows().map_err(anyhow::Error::msg)?;
            let created = crate::demo::seed(&db, &registry, &owner).await?;
            println!("Demo: {created} workspaces seeded (acme-corp, globex, initech), owned by {}.", owner.email);
            serve(config, Mode::Serve).await
        }
        Command::Migrate => {
            startup::prepare_database(&config).await?;
            println!("Database is up to date.");
            Ok(())
        }
        Command::User { action: UserAction::Create { email, password_stdin, platform_admin } } => {
            if !password_stdin {
                bail!("pass --password-stdin and write the password on standard input");
            }
            let email = Email::parse(&email).map_err(anyhow::Error::msg)?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = Password::parse(password.trim_end_matches(['\r', '\n'])).map_err(anyhow::Error::msg)?;
            let db = startup::prepare_database(&config).await?;
            let user =
                accounts::create_user(&db, &email, &password, platform_admin, accounts::EmailProof::Verified).await?;
            println!(
                "{}",
                serde_json::json!({ "id": user.id, "email": user.email, "platform_admin": user.is_platform_admin })
            );
            Ok(())
        }
        Command::User { action: UserAction::Reset2fa { email } } => {
            let email = Email::parse(&email).map_err(anyhow::Error::msg)?;
            let db = startup::prepare_database(&config).await?;
            let account = accounts::find_by_email(&db, &email)
                .await?
                .with_context(|| format!("no user has the email {email}"))?;
            crate::accounts::two_factor::reset(&db, &account).await?;
            println!("Two-factor sign-in is off for {email}, and every session of the account has ended.");
            Ok(())
        }
        Command::Workspace { action: WorkspaceAction::Create { name, owner, timezone, slug } } => {
            let new = workspaces::NewWorkspace {
                name: WorkspaceName::parse(&name).map_err(anyhow::Error::msg)?,
                slug: slug.as_deref().map(Slug::parse).transpose().map_err(anyhow::Error::msg)?,
                timezone: Timezone::parse(&timezone).map_err(anyhow::Error::msg)?,
                trial_days: config.trial_days,
            };
            let owner = Email::parse(&owner).map_err(anyhow::Error::msg)?;
            let db = startup::prepare_database(&config).await?;
            let owner = accounts::find_by_email(&db, &owner).await?.with_context(|| {
                format!("no user has the email {owner}; create it first with `offstage user create`")
            })?;
            let ws = workspaces::create(&db, new, &owner).await?;
            println!(
                "{}",
                serde_json::json!({ "id": ws.id, "slug": ws.slug, "name": ws.name, "timezone": ws.timezone, "owner": owner.email })
            );
            Ok(())
        }
        Command::ApiKey { action: ApiKeyAction::Create { workspace, name } } => {
            let db = startup::prepare_database(&config).await?;
            let ws = workspaces::find_by_slug(&db, &workspace)
                .await?
                .with_context(|| format!("no workspace has the slug “{workspace}”"))?;
            let scope = Scope::acting_for(&Platform::system(), ws);
            let created = scope.create_api_key(&db, &name).await?;
            println!(
                "Created API key “{}” ({}) for workspace {}. Store the secret now; it is not shown again:",
                created.key.name, created.key.id, workspace
            );
            println!("{}", created.secret);
            Ok(())
        }
        Command::Revenue { month, format } => revenue(&config, month, format).await,
        Command::Backup { to } => {
            println!("{}", serde_json::to_string(&crate::db::backup::backup(&config.database_url, &to).await?)?);
            Ok(())
        }
        Command::Restore { from } => {
            println!("{}", serde_json::to_string(&crate::db::backup::restore(&config.database_url, &from).await?)?);
            Ok(())
        }
        Command::Prune => {
            let db = startup::prepare_database(&config).await?;
            let started = std::time::Instant::now();
            let pruned = crate::retention::prune(&db, &config.retention, chrono::Utc::now()).await?;
            let mut line = serde_json::to_value(pruned)?;
            line["seconds"] = serde_json::json!((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
            println!("{line}");
            Ok(())
        }
        Command::Import { what: ImportWhat::Workspaces { file } } => {
            let db = startup::prepare_database(&config).await?;
            let done = crate::imports::from_file::workspaces_from_file(&db, &config, &file).await?;
            println!("{}", serde_json::to_string(&done)?);
            Ok(())
        }
        Command::Export { what: ExportWhat::Workspaces { out, format } } => {
            let format = match format {
                ExportFormat::Csv => crate::exports::Format::Csv,
                ExportFormat::Jsonl => crate::exports::Format::Jsonl,
            };
            let db = startup::prepare_database(&config).await?;
            let written = crate::exports::to_file::workspaces_to_file(&db, format, &out).await?;
            println!(
                "{}",
                serde_json::json!({ "file": out.display().to_string(), "format": format.as_str(), "rows": written.rows, "bytes": written.bytes })
            );
            Ok(())
        }
    }
}

async fn revenue(config: &Config, month: Option<String>, format: RevenueFormat) -> anyhow::Result<()> {
    let month = match month {
        Some(text) => Month::parse(&text).map_err(anyhow::Error::msg)?,
        None => Month::last(chrono::Utc::now()),
    };
    let db = startup::prepare_database(config).await?;
    if revenue::report::computed(&db, month).await?.is_none() {
        revenue::calculate::month(&db, &config.stripe, month).await?;
    }
    let rows = revenue::report::month_rows(&db, &Platform::system(), month).await?;
    match format {
        RevenueFormat::Csv => print!("{}", revenue::report::csv(&rows)?),
        RevenueFormat::Json => {
            let written: Vec<_> = rows.iter().map(|row| row.written(false)).collect();
            println!("{}", serde_json::to_string(&written)?);
        }
    }
    Ok(())
}

async fn serve(config: Config, mode: Mode) -> anyhow::Result<()> {
    let app = Application::build(config, mode).await?;
    if let Some(port) = app.port() {
        tracing::info!("listening on {} (port {port})", app.state().config.base_url);
    }
    app.run_until_stopped().await
}
