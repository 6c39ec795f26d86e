//! hub-db's one integration test binary (one per package: each test binary links sqlx and
//! tokio again, see docs/ARCHITECTURE.md, "Tests").
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod pool;
mod transaction;
