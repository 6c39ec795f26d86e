//! notifications' integration tests, in one binary (one per package, as every service:
//! docs/ARCHITECTURE.md, "Running and testing").
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod notifications;
