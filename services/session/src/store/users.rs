//! The shared `"user"` table, as session reads it.

use sqlx::PgPool;
use uuid::Uuid;

/// Whether a user with primary key `id` exists.
pub async fn exists(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE id = $1) AS "exists!""#,
        id
    )
    .fetch_one(pool)
    .await
}
