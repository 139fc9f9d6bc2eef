//! What an export reads: its sections (one for a plain file, one per CSV in a ZIP), how many
//! rows they hold in all (the progress's total), and one page of a section after a cursor.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::Value;

use super::{workspace_data, workspaces};
use crate::tenancy::Scope;

/// A file of the export: its name in a ZIP and its columns.
pub struct Section {
    pub name: &'static str,
    pub header: &'static [&'static str],
}

/// Rows of one section, and the cursor after the last of them (opaque to the caller).
pub struct Page {
    pub rows: Vec<Vec<Value>>,
    pub last: Option<String>,
}

/// Runs a workspace's own export covers, back from when it was asked for.
const RUNS_WITHIN_DAYS: i64 = 90;

pub enum Source {
    /// Every workspace as of `at` ("last month" and "the last 30 days" are counted from it).
    Workspaces { at: DateTime<Utc> },
    /// One workspace's data; runs created since `runs_since`.
    WorkspaceData { scope: Box<Scope>, runs_since: DateTime<Utc> },
}

impl Source {
    pub fn workspaces(asked_at: DateTime<Utc>) -> Source {
        Source::Workspaces { at: asked_at }
    }

    pub fn workspace_data(scope: Scope, asked_at: DateTime<Utc>) -> Source {
        Source::WorkspaceData { scope: Box::new(scope), runs_since: asked_at - Duration::days(RUNS_WITHIN_DAYS) }
    }

    pub fn sections(&self) -> &'static [Section] {
        match self {
            Source::Workspaces { .. } => workspaces::SECTIONS,
            Source::WorkspaceData { .. } => workspace_data::SECTIONS,
        }
    }

    /// Rows in all sections (a page may find a few more or fewer if they change meanwhile).
    pub async fn count(&self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        match self {
            Source::Workspaces { .. } => workspaces::count(db).await,
            Source::WorkspaceData { scope, runs_since } => workspace_data::count(db, scope, *runs_since).await,
        }
    }

    /// Up to `limit` rows of section `section` after the cursor `after` (from its start when None).
    pub async fn page(
        &self,
        db: &DatabaseConnection,
        section: usize,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Page, DbErr> {
        match self {
            Source::Workspaces { at } => workspaces::page(db, *at, after, limit).await,
            Source::WorkspaceData { scope, runs_since } => {
                workspace_data::page(db, scope, *runs_since, section, after, limit).await
            }
        }
    }
}

/// A time as the files write it: RFC 3339 in UTC, to the second.
pub fn time(at: DateTime<Utc>) -> Value {
    Value::from(at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

pub fn maybe_time(at: Option<DateTime<Utc>>) -> Value {
    at.map(time).unwrap_or(Value::Null)
}
