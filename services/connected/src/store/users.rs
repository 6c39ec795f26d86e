//! The shared `"user"` table, read only.

use sqlx::PgPool;
use uuid::Uuid;

/// The original's query: the id of the user called `username`, if any.
pub async fn find_id(pool: &PgPool, username: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT id FROM "user" WHERE username = $1"#, username)
        .fetch_optional(pool)
        .await
}
