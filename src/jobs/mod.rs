//! Background jobs on apalis. This module is the ONLY place that touches apalis: its storages,
//! workers, monitor and tables. Everything else enqueues through `enqueue`, which writes the job
//! inside the caller's own database transaction, so a job exists exactly when the change that
//! caused it was committed.

mod enqueue;
mod record_workspace_created;
mod runtime;

pub use enqueue::{Job, enqueue, pending_count, unfinished_count};
pub use record_workspace_created::RecordWorkspaceCreated;
pub use runtime::{JobContext, run_workers, setup_queue_tables};
