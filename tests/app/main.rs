//! Integration tests: each test spawns Offstage on port 0 against a fresh database (a temporary
//! SQLite file, or a PostgreSQL database cloned from a migrated template when
//! OFFSTAGE_TEST_POSTGRES_URL is set) and drives it over HTTP like a browser would.

// A test that cannot go on should stop right there: unwrapping is how these tests fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod access_log;
mod account;
mod api_contract;
mod api_keys;
mod api_rate_limit;
mod api_waits;
mod auth;
mod backup;
mod batch_starts;
mod browser;
mod cli;
mod csrf;
mod demo;
mod demo_cli;
mod email_delivery;
mod email_helpers;
mod email_sequences;
mod email_smtp;
mod email_verification;
mod exports;
mod fair_dispatch;
mod health;
mod health_scores;
mod imports;
mod internal_runs;
mod invitation_tallies;
mod invitations;
mod jobs;
mod limits_per_workspace;
mod logs;
mod members;
mod metrics;
mod operator_tools;
mod password_reset;
mod platform;
mod priorities;
mod queue_dashboard;
mod retention;
mod revenue;
mod schedules;
mod scheduling;
mod sessions;
mod sign_in_throttle;
mod signup;
mod single_starts;
mod sqlite_readers;
mod storage;
mod stripe_api;
mod stripe_pages;
mod stripe_state;
mod stripe_webhooks;
mod tenancy;
mod two_factor;
mod weekly_facts;
mod worker_processes;
mod workflow_pages;
mod workflow_runs;
mod workspaces;
