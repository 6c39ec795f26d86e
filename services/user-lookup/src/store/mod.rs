//! All database access of the user-lookup service; handlers hold no SQL.

use sqlx::PgPool;
use uuid::Uuid;

/// The original's query: `SELECT id, username FROM "user" WHERE username = $1`.
pub async fn find_by_username(
    pool: &PgPool,
    username: &str,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, username FROM "user" WHERE username = $1"#,
        username
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.id, r.username)))
}
