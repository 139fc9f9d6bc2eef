//! `expire_exports`: deletes the files of exports past their expiry (`OFFSTAGE_EXPORT_EXPIRY_DAYS`
//! after they were written) and marks them expired, and deletes the parts of exports whose chain
//! stopped before the end a day ago or more (its last run failed for good or was cancelled),
//! marking them failed. A built-in schedule runs it daily; a file already gone counts as
//! deleted, so a retry repeats nothing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::RunId;
use crate::engine::{Outcome, Priority, RunContext, Workflow, runs};
use crate::exports::{files, record};
use crate::storage::Storage;
use crate::tenancy::Platform;

pub struct ExpireExports;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// Exports expired per query; the loop goes on until none is left.
const BATCH: u64 = 100;
/// How long an export may run before a stopped chain counts as for good (an operator may still
/// retry its failed run meanwhile).
const STOPPED_FOR: chrono::Duration = chrono::Duration::days(1);
/// Running exports looked at per day: those older than a day are few (a chain takes minutes).
const RUNNING_LOOKED_AT: u64 = 1_000;

impl Workflow for ExpireExports {
    const NAME: &'static str = "expire_exports";
    const DESCRIPTION: &'static str = "Deletes the files of exports past their expiry.";
    const PRIORITY: Priority = Priority::Bulk;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, _params: Params) -> anyhow::Result<Outcome> {
        let storage = ctx.service::<Storage>()?;
        let mut expired = 0u64;
        loop {
            let due = record::due_to_expire(&ctx.db, ctx.now(), BATCH).await?;
            for export in &due {
                if let Some(key) = &export.file_key {
                    storage.delete(key).await?;
                }
                record::mark_expired(&ctx.db, &export.id).await?;
            }
            expired += due.len() as u64;
            if (due.len() as u64) < BATCH {
                break;
            }
        }
        let mut failed = 0u64;
        for export in record::running_before(&ctx.db, ctx.now() - STOPPED_FOR, RUNNING_LOOKED_AT).await? {
            let stopped = match &export.run_id {
                Some(first) => {
                    let first = RunId::from(first.clone());
                    let chain = runs::progress_of_chain(&ctx.db, &first, &Platform::system()).await?;
                    chain.is_none_or(|chain| !chain.in_progress)
                }
                None => true,
            };
            if stopped {
                storage.delete_folder(&files::parts_folder(&export.id)).await?;
                record::mark_failed(&ctx.db, &export.id).await?;
                failed += 1;
            }
        }
        Ok(Outcome::output(json!({ "expired": expired, "failed": failed })))
    }
}
