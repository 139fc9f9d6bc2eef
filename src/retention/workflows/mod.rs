//! Retention's workflow: the daily prune.

pub mod prune_expired_data;
