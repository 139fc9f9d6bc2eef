//! `export_workspaces {export_id?, format}`: every workspace as one row of a CSV or JSON Lines
//! file, 1,000 rows per run of one chain (`exports::step`). Operators only. Started from
//! Platform → Exports (which creates the export first) or by hand, when the first run creates
//! it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{NewRun, Outcome, Priority, RunContext, Workflow};
use crate::exports::record::{self, Kind, NewExport};
use crate::exports::step::{self, Position};
use crate::exports::{Format, Source};
use crate::storage::Storage;

pub struct ExportWorkspaces;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The export this chain writes; a new one when omitted.
    #[serde(default)]
    pub export_id: Option<String>,
    /// `csv` (the default) or `jsonl`.
    #[serde(default = "csv")]
    pub format: Format,
    /// Where the chain stands (set by the chain itself).
    #[serde(default)]
    pub at: Position,
}

fn csv() -> Format {
    Format::Csv
}

/// The file's name when downloaded: `workspaces-2026-12-03.csv`.
pub fn file_name(format: Format, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("workspaces-{}.{}", at.format("%Y-%m-%d"), format.as_str())
}

/// The export row for a new export of every workspace.
pub fn new_export(format: Format, requested_by: Option<String>) -> NewExport {
    NewExport {
        kind: Kind::Workspaces,
        workspace_id: None,
        format: format.as_str(),
        requested_by,
        file_name: file_name(format, chrono::Utc::now()),
    }
}

impl Workflow for ExportWorkspaces {
    const NAME: &'static str = "export_workspaces";
    const DESCRIPTION: &'static str =
        "Writes every workspace as one row of a CSV or JSON Lines file (Platform → Exports), 1,000 rows per run.";
    const PRIORITY: Priority = Priority::Bulk;
    const OPERATOR_ONLY: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let export = match &params.export_id {
            Some(id) => record::find(&ctx.db, id).await?.ok_or_else(|| anyhow::anyhow!("no export has the id {id}"))?,
            // Keyed by this run, so a retried first run finds the export it made.
            None => record::create_for_run(&ctx.db, new_export(params.format, None), &ctx.run_id).await?,
        };
        anyhow::ensure!(export.workspace_id.is_none(), "export {} is not an export of every workspace", export.id);
        let storage = ctx.service::<Storage>()?;
        let source = Source::workspaces(export.created_at);
        let done = step::step(&ctx.db, storage, &export, &source, params.at, ctx.config.export_expiry_days).await?;
        if let Some(at) = done.next.clone() {
            let next = Params { export_id: Some(export.id.clone()), format: params.format, at };
            ctx.continue_chain(NewRun::of::<ExportWorkspaces>(&next)).await?;
        }
        Ok(Outcome::output(json!({
            "export_id": export.id,
            "progress": { "processed": done.processed, "total": done.total },
            "continues": done.next.is_some(),
        })))
    }
}
