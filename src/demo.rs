//! `offstage demo`: seeds three workspaces in different timezones, their schedules and a few
//! runs that end every way a run can (succeeded, skipped, failed, scheduled), so a newcomer sees
//! a living system at first start. Seeding twice changes nothing.

use chrono::{Duration, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;

use crate::db::entities::user;
use crate::domain::{CronExpr, Slug, Timezone, WorkspaceName};
use crate::engine::Registry;
use crate::engine::schedules::{self, NewSchedule};
use crate::engine::{NewRun, probe, runs};
use crate::error::AppError;
use crate::workspaces::workflows::refresh_workspace_health::{self, RefreshWorkspaceHealth};
use crate::workspaces::{self, NewWorkspace};

const WORKSPACES: [(&str, &str, &str); 3] = [
    ("Acme Corp", "acme-corp", "Europe/Berlin"),
    ("Globex", "globex", "America/New_York"),
    ("Initech", "initech", "Asia/Tokyo"),
];

fn parse<T>(result: Result<T, String>) -> Result<T, AppError> {
    result.map_err(|e| AppError::Internal(anyhow::anyhow!(e)))
}

/// Seeds the demo data owned by `owner`; returns how many workspaces it created (0 when the
/// demo data is already there).
pub async fn seed(db: &DatabaseConnection, registry: &Registry, owner: &user::Model) -> Result<usize, AppError> {
    let mut created = 0;
    for (name, slug, tz) in WORKSPACES {
        if workspaces::find_by_slug(db, slug).await?.is_some() {
            continue;
        }
        let new = NewWorkspace {
            name: parse(WorkspaceName::parse(name))?,
            slug: Some(parse(Slug::parse(slug))?),
            timezone: parse(Timezone::parse(tz))?,
            trial_days: Some(14),
        };
        let ws = workspaces::create(db, new, owner).await?;
        created += 1;
        let every = |cron: &str, workflow: &str, params: serde_json::Value| -> Result<NewSchedule, AppError> {
            Ok(NewSchedule {
                workflow: registry.find(workflow).ok_or(AppError::NotFound)?,
                workspace: Some(ws.clone()),
                cron: parse(CronExpr::parse(cron))?,
                timezone: None,
                params,
                created_by: "offstage demo".into(),
            })
        };
        let limits = crate::config::TenantLimits::default();
        schedules::create(db, every("0 9 * * *", "refresh_workspace_health", json!({}))?, &limits).await?;
        schedules::create(db, every("*/15 * * * *", "probe", json!({ "value": "heartbeat" }))?, &limits).await?;
        let health = refresh_workspace_health::Params { workspace_id: ws.id.clone() };
        runs::start(db, NewRun::of::<RefreshWorkspaceHealth>(&health).trigger("demo")).await?;
        let base = probe::Params {
            workspace_id: ws.id.clone(),
            value: Some(json!({ "hello": name })),
            sleep_ms: 0,
            fail_attempts: 0,
            skip: false,
        };
        let variants = [
            base.clone(),
            probe::Params { skip: true, ..base.clone() },
            probe::Params { fail_attempts: 9, ..base.clone() },
        ];
        for params in variants {
            runs::start(db, NewRun::of::<probe::Probe>(&params).trigger("demo")).await?;
        }
        runs::start(db, NewRun::of::<probe::Probe>(&base).at(Utc::now() + Duration::hours(6)).trigger("demo")).await?;
    }
    Ok(created)
}
