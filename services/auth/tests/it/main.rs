//! auth's integration tests, in one binary: one link of the service, sqlx, axum and
//! lapin instead of one per file. The fault test, which stops a shared server, is the
//! separate `faults` binary (tests/faults.rs), run alone by scripts/test.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod account;
mod admin_users;
mod api;
mod app;
mod cancel;
mod deletion;
mod harness;
mod hashes;
mod logins;
mod password;
mod process;
mod snapshots;
mod tokens;
mod use_cases;
mod use_cases_account;
mod use_cases_admin;
mod use_cases_deletion;
mod use_cases_password;
