//! Per-test names and databases: what makes tests isolated, so they run in parallel.

use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

use crate::env;

/// A fresh, empty database named `test_<prefix>_<uuid>`; returns its URL.
pub async fn create_database(prefix: &str) -> String {
    let admin = env("DATABASE_URL");
    let name = format!("test_{prefix}_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to the admin database");
    // The name is ours (prefix + UUID), never input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}

/// A unique queue name for one test.
pub fn queue_name(prefix: &str) -> String {
    format!("{prefix}-test-{}", Uuid::new_v4().simple())
}

/// A unique MongoDB database name for one test (`test_<prefix>_<uuid>`; MongoDB
/// creates it on first write). At most 63 bytes, MongoDB's limit.
pub fn mongo_database(prefix: &str) -> String {
    let mut name = format!("test_{prefix}_{}", Uuid::new_v4().simple());
    name.truncate(63);
    name
}

/// A unique, valid S3 bucket name for one test (lowercase, 3-63 characters).
pub fn bucket_name(prefix: &str) -> String {
    let mut name = format!("test-{}-{}", prefix.to_lowercase(), Uuid::new_v4().simple());
    name.truncate(63);
    name
}
