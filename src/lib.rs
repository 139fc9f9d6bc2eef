//! Offstage: the backend of a multi-tenant SaaS, the part that works while no user is looking.
//! Workspaces and members in an admin UI, a JSON API, and durable background jobs, on SQLite
//! or PostgreSQL.

pub mod accounts;
pub mod billing;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod error;
pub mod exports;
pub mod imports;
pub mod mail;
pub mod registry;
pub mod retention;
pub mod revenue;
pub mod routes;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod tenancy;
pub mod tokens;
pub mod web;
pub mod workspaces;
