//! Recurring schedules: a workflow started on a cron expression, globally or for one workspace
//! (in the workspace's timezone unless the schedule names one). Every worker process calls
//! `fire_due` once a second; each due schedule is locked while it fires (FOR UPDATE SKIP LOCKED
//! on PostgreSQL, the single writer on SQLite), and its run carries the idempotency key
//! `schedule:{id}:{tick}`, so a tick starts exactly one run however many processes are running
//! and across restarts. A tick missed while nothing ran fires once, late; older ones are dropped.
//!
//! A workspace's schedules share the workers with every other workspace, so they fire at most
//! once a minute (also those written before that rule) and a workspace has a limited number of
//! them (`OFFSTAGE_SCHEDULES_PER_WORKSPACE`, built-in ones aside). Global schedules are the
//! operator's and have neither limit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::Value;

use super::runs::{self, NewRun, RunView};
use super::{AnyWorkflow, Registry};
use crate::config::TenantLimits;
use crate::db::begin_write;
use crate::db::entities::{schedule, workspace};
use crate::domain::{CronExpr, PublicId, Timezone};
use crate::engine::Error;
use crate::tenancy::{Platform, Scope};

/// How many due schedules one call fires; the rest wait for the next second.
pub const BATCH: u64 = 200;

/// A schedule that ships with Offstage, created (once, then left to the operator) at start-up.
pub struct BuiltIn {
    pub id: &'static str,
    pub workflow: &'static str,
    pub cron: &'static str,
    pub timezone: &'static str,
}

/// Who built-in schedules are created by (the global ones here, each workspace's weekly digest).
pub const BUILT_IN_AUTHOR: &str = "Offstage";

/// Built-in schedules come back at start-up when missing, so they are paused, never deleted.
pub fn is_built_in(found: &schedule::Model) -> bool {
    found.created_by.as_deref() == Some(BUILT_IN_AUTHOR)
}

/// Creates the built-in schedules that don't exist yet; existing ones (paused or not) are kept.
pub async fn ensure_built_in(db: &DatabaseConnection, built_in: &[BuiltIn]) -> Result<(), Error> {
    for built_in in built_in {
        if schedule::Entity::find_by_id(built_in.id).one(db).await?.is_some() {
            continue;
        }
        let cron = CronExpr::parse(built_in.cron).map_err(Error::Corrupt)?;
        let tz = Timezone::parse(built_in.timezone).map_err(Error::Corrupt)?;
        let inserted = schedule::ActiveModel {
            id: Set(built_in.id.to_owned()),
            workflow: Set(built_in.workflow.to_owned()),
            workspace_id: Set(None),
            cron: Set(built_in.cron.to_owned()),
            timezone: Set(Some(tz.name().to_owned())),
            params: Set("{}".into()),
            paused: Set(false),
            next_run_at: Set(cron.next_after(Utc::now(), tz)),
            last_run_at: Set(None),
            last_run_id: Set(None),
            created_by: Set(Some(BUILT_IN_AUTHOR.into())),
            created_at: Set(Utc::now()),
        }
        .insert(db)
        .await;
        match inserted {
            Ok(_) => {}
            // Another process created it a moment ago.
            Err(err) if crate::db::is_unique_violation(&err) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

pub struct NewSchedule {
    pub workflow: &'static dyn AnyWorkflow,
    pub workspace: Option<workspace::Model>,
    pub cron: CronExpr,
    /// None: the workspace's timezone (UTC when global).
    pub timezone: Option<Timezone>,
    pub params: Value,
    pub created_by: String,
}

fn zone(timezone: &Option<String>, workspace: Option<&workspace::Model>) -> Timezone {
    match (timezone, workspace) {
        (Some(name), _) => Timezone::from_stored(name),
        (None, Some(ws)) => ws.tz(),
        (None, None) => Timezone::from_stored("UTC"),
    }
}

/// The parameters each run of the schedule gets.
fn run_params(params: &str, workspace_id: &Option<String>) -> Value {
    let mut params: Value = serde_json::from_str(params).unwrap_or_else(|_| Value::Object(Default::default()));
    if let (Some(ws), Some(map)) = (workspace_id, params.as_object_mut()) {
        map.insert("workspace_id".into(), Value::String(ws.clone()));
    }
    params
}

/// Creates a schedule. A workspace's must fire at most once a minute and stay within
/// `limits.schedules_per_workspace` (422 otherwise).
pub async fn create(
    db: &DatabaseConnection,
    new: NewSchedule,
    limits: &TenantLimits,
) -> Result<schedule::Model, Error> {
    let workspace_id = new.workspace.as_ref().map(|w| w.id.clone());
    let params = new.params.to_string();
    new.workflow.check_params(&run_params(&params, &workspace_id)).map_err(|err| Error::Invalid(err.to_string()))?;
    let tz = new.timezone.unwrap_or_else(|| zone(&None, new.workspace.as_ref()));
    let next = new.cron.next_after(Utc::now(), tz);
    let txn = begin_write(db).await?;
    if let Some(ws) = &workspace_id {
        if !new.cron.at_most_once_a_minute() {
            return Err(Error::Invalid(
                "cron: a workspace's schedule runs at most once a minute; give the seconds field a single number, \
                 or use five fields"
                    .into(),
            ));
        }
        if db.get_database_backend() == DbBackend::Postgres {
            // Two schedules created at once must not both pass the limit.
            workspace::Entity::find_by_id(ws).lock_exclusive().one(&txn).await?;
        }
        let limit = limits.schedules_per_workspace;
        let existing = schedule::Entity::find()
            .filter(schedule::Column::WorkspaceId.eq(ws))
            .filter(
                sea_orm::Condition::any()
                    .add(schedule::Column::CreatedBy.is_null())
                    .add(schedule::Column::CreatedBy.ne(BUILT_IN_AUTHOR)),
            )
            .count(&txn)
            .await?;
        if existing >= u64::from(limit) {
            return Err(Error::Invalid(format!(
                "This workspace already has {limit} schedules, the most it may; delete or reuse one."
            )));
        }
    }
    let created = schedule::ActiveModel {
        id: Set(PublicId::generate("sch")),
        workflow: Set(new.workflow.name().to_owned()),
        workspace_id: Set(workspace_id),
        cron: Set(new.cron.as_str().to_owned()),
        timezone: Set(new.timezone.map(|t| t.name().to_owned())),
        params: Set(params),
        paused: Set(false),
        next_run_at: Set(next),
        last_run_at: Set(None),
        last_run_id: Set(None),
        created_by: Set(Some(new.created_by)),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(created)
}

pub async fn for_workspace(db: &DatabaseConnection, scope: &Scope) -> Result<Vec<schedule::Model>, Error> {
    Ok(schedule::Entity::find()
        .filter(schedule::Column::WorkspaceId.eq(scope.workspace_id()))
        .order_by_asc(schedule::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn global(db: &DatabaseConnection, _platform: &Platform) -> Result<Vec<schedule::Model>, Error> {
    Ok(schedule::Entity::find()
        .filter(schedule::Column::WorkspaceId.is_null())
        .order_by_asc(schedule::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn find_global(db: &DatabaseConnection, _platform: &Platform, id: &str) -> Result<schedule::Model, Error> {
    schedule::Entity::find_by_id(id)
        .filter(schedule::Column::WorkspaceId.is_null())
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn find_in_workspace(db: &DatabaseConnection, scope: &Scope, id: &str) -> Result<schedule::Model, Error> {
    schedule::Entity::find_by_id(id)
        .filter(schedule::Column::WorkspaceId.eq(scope.workspace_id()))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

/// Pausing clears the next tick; resuming computes it from now (missed ticks are not replayed).
pub async fn set_paused(
    db: &DatabaseConnection,
    found: schedule::Model,
    paused: bool,
) -> Result<schedule::Model, Error> {
    let workspace = match &found.workspace_id {
        Some(id) => workspace::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let next = if paused {
        None
    } else {
        let cron = CronExpr::parse(&found.cron).map_err(Error::Corrupt)?;
        cron.next_after(Utc::now(), zone(&found.timezone, workspace.as_ref()))
    };
    let mut active: schedule::ActiveModel = found.into();
    active.paused = Set(paused);
    active.next_run_at = Set(next);
    Ok(active.update(db).await?)
}

/// Creates each workspace's built-in schedule of `workflow` on `cron` (`(schedule id, workspace)`),
/// following the workspace's timezone, inside the caller's transaction, in one statement; an
/// existing one is kept as the operator left it (paused, say).
pub async fn ensure_built_in_for_workspaces_in<C: sea_orm::ConnectionTrait>(
    txn: &C,
    workflow: &str,
    cron: &str,
    each: &[(String, &workspace::Model)],
) -> Result<(), Error> {
    if each.is_empty() {
        return Ok(());
    }
    let parsed = CronExpr::parse(cron).map_err(Error::Corrupt)?;
    let now = Utc::now();
    let backend = txn.get_database_backend();
    let row = |n: usize| {
        let p: Vec<String> = crate::db::placeholders(backend, n * 8 + 1, 8).collect();
        format!("({}, {}, {}, {}, NULL, {}, false, {}, {}, {})", p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
    };
    let mut sql = format!(
        "INSERT INTO schedules (id, workflow, workspace_id, cron, timezone, params, paused, next_run_at, created_by, created_at) VALUES {}",
        (0..each.len()).map(row).collect::<Vec<_>>().join(", ")
    );
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(each.len() * 8);
    for (id, ws) in each {
        values.extend([
            id.clone().into(),
            workflow.into(),
            ws.id.clone().into(),
            cron.into(),
            "{}".into(),
            parsed.next_after(now, ws.tz()).into(),
            BUILT_IN_AUTHOR.into(),
            now.into(),
        ]);
    }
    sql.push_str(" ON CONFLICT (id) DO NOTHING");
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

/// After a workspace's timezone changed: its schedules that follow the workspace's timezone get
/// their next tick computed again in the new one.
pub async fn follow_timezone<C: sea_orm::ConnectionTrait>(db: &C, ws: &workspace::Model) -> Result<(), Error> {
    let following = schedule::Entity::find()
        .filter(schedule::Column::WorkspaceId.eq(&ws.id))
        .filter(schedule::Column::Timezone.is_null())
        .filter(schedule::Column::Paused.eq(false))
        .all(db)
        .await?;
    for found in following {
        let Ok(cron) = CronExpr::parse(&found.cron) else { continue };
        let next = cron.next_after(Utc::now(), ws.tz());
        let mut active: schedule::ActiveModel = found.into();
        active.next_run_at = Set(next);
        active.update(db).await?;
    }
    Ok(())
}

/// Starts a run at once, outside the schedule's ticks.
pub async fn run_now(db: &DatabaseConnection, registry: &Registry, found: &schedule::Model) -> Result<RunView, Error> {
    let new =
        NewRun::named(registry, &found.workflow, run_params(&found.params, &found.workspace_id))?.trigger("schedule");
    runs::start(db, new).await
}

pub async fn delete(db: &DatabaseConnection, found: schedule::Model) -> Result<(), Error> {
    if is_built_in(&found) {
        return Err(Error::Conflict(
            "This schedule is built into Offstage and would come back at the next start: pause it instead.".into(),
        ));
    }
    schedule::Entity::delete_by_id(found.id).exec(db).await?;
    Ok(())
}

/// Fires every schedule due at `now`: one run per tick. Returns how many runs were started.
pub async fn fire_due(db: &DatabaseConnection, registry: &Registry, now: DateTime<Utc>) -> Result<usize, Error> {
    let txn = begin_write(db).await?;
    let mut due = schedule::Entity::find()
        .filter(schedule::Column::Paused.eq(false))
        .filter(schedule::Column::NextRunAt.lte(now))
        .order_by_asc(schedule::Column::NextRunAt)
        .limit(BATCH);
    if db.get_database_backend() == DbBackend::Postgres {
        due =
            due.lock_with_behavior(sea_orm::sea_query::LockType::Update, sea_orm::sea_query::LockBehavior::SkipLocked);
    }
    let due = due.all(&txn).await?;
    let workspace_ids: Vec<String> = due.iter().filter_map(|s| s.workspace_id.clone()).collect();
    let workspaces: HashMap<String, workspace::Model> = if workspace_ids.is_empty() {
        HashMap::new()
    } else {
        workspace::Entity::find()
            .filter(workspace::Column::Id.is_in(workspace_ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|ws| (ws.id.clone(), ws))
            .collect()
    };
    // The ticks' runs, started together (three multi-row INSERTs for the whole batch).
    let mut ticks: Vec<(usize, NewRun)> = Vec::new();
    for (i, found) in due.iter().enumerate() {
        let Some(tick) = found.next_run_at else { continue };
        let key = format!("schedule:{}:{}", found.id, tick.timestamp());
        let new = match NewRun::named(registry, &found.workflow, run_params(&found.params, &found.workspace_id)) {
            Ok(new) => new.idempotency_key(key).trigger("schedule").at(tick),
            Err(err) => {
                tracing::warn!(schedule = found.id, error = %err, "schedule names an unknown workflow");
                continue;
            }
        };
        ticks.push((i, new));
    }
    // A tick already started (by a process that died before moving the schedule on) is not
    // started twice: its key gives the first run back.
    let (indexes, news): (Vec<usize>, Vec<NewRun>) = ticks.into_iter().unzip();
    let placed = runs::start_batch_in(&txn, &news).await?;
    let started = placed.iter().filter(|p| !p.duplicate).count();
    let mut started_by: HashMap<usize, String> =
        indexes.into_iter().zip(placed).filter(|(_, p)| !p.duplicate).map(|(i, p)| (i, String::from(p.id))).collect();
    let mut moved = Vec::with_capacity(due.len());
    for (i, found) in due.into_iter().enumerate() {
        let Some(tick) = found.next_run_at else { continue };
        let workspace = found.workspace_id.as_ref().and_then(|id| workspaces.get(id));
        // A workspace's schedule fires at most once a minute, whatever its expression says.
        let earliest = if found.workspace_id.is_some() { tick + chrono::Duration::seconds(59) } else { tick };
        let next = CronExpr::parse(&found.cron)
            .ok()
            .and_then(|cron| cron.next_after(now.max(earliest), zone(&found.timezone, workspace)));
        let last_run_id = started_by.remove(&i).or_else(|| found.last_run_id.clone());
        moved.push(Moved { id: found.id, next, tick, last_run_id });
    }
    move_on(&txn, &moved).await?;
    txn.commit().await?;
    Ok(started)
}

/// A fired schedule's new state.
struct Moved {
    id: String,
    next: Option<DateTime<Utc>>,
    tick: DateTime<Utc>,
    last_run_id: Option<String>,
}

/// Moves the fired schedules on, in one statement (a batch is up to `BATCH` schedules).
async fn move_on<C: ConnectionTrait>(txn: &C, moved: &[Moved]) -> Result<(), Error> {
    if moved.is_empty() {
        return Ok(());
    }
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(moved.len() * 4);
    let rows: Vec<String> = moved
        .iter()
        .enumerate()
        .map(|(i, m)| {
            values.extend([m.id.clone().into(), m.next.into(), Some(m.tick).into(), m.last_run_id.clone().into()]);
            format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4)
        })
        .collect();
    let sql = format!(
        "UPDATE schedules SET next_run_at = v.column2, last_run_at = v.column3, last_run_id = v.column4 \
         FROM (VALUES {}) AS v WHERE schedules.id = v.column1",
        rows.join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(txn.get_database_backend(), sql, values)).await?;
    Ok(())
}
