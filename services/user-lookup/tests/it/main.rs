//! user-lookup's integration tests, in one binary: one link of the service, sqlx and
//! axum instead of one per file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api;
mod app;
mod harness;
mod snapshots;
mod wsse;
