//! images' integration tests, in one binary: one link of the service, sqlx, axum and
//! the S3 client instead of one per file. The fault test, which stops the shared S3
//! server, is the separate `faults` binary (tests/faults.rs), run alone by
//! scripts/test.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// The helpers are async trait methods (harness.rs, app.rs): their futures nest deeper
// than the default limit lets rustc lay out.
#![recursion_limit = "256"]

mod api;
mod app;
mod harness;
mod processing;
mod snapshots;
