//! `expire_exports`: deletes the files of exports past their expiry (`OFFSTAGE_EXPORT_EXPIRY_DAYS`
//! after they were written) and marks them expired. A built-in schedule runs it daily; a file
//! already gone counts as deleted, so a retry repeats nothing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{Outcome, Priority, RunContext, Workflow};
use crate::exports::record;
use crate::storage::Storage;

pub struct ExpireExports;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// Exports expired per query; the loop goes on until none is left.
const BATCH: u64 = 100;

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
        Ok(Outcome::output(json!({ "expired": expired })))
    }
}
