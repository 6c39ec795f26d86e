//! user-soap's integration tests, in one binary: one link of the service, sqlx, axum
//! and lapin instead of one per file. The fault test, which stops the shared RabbitMQ,
//! is the separate `faults` binary (tests/faults.rs), run alone by scripts/test.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod addressing;
mod api;
mod app;
mod disconnects;
mod harness;
mod hostile;
mod json_api;
mod process;
mod snapshots;
mod throttle_window;
mod use_cases;
mod verification;
mod wsse;
