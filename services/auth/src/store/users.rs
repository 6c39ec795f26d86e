//! The shared `"user"` table, as auth reads it.

use sqlx::PgConnection;
use uuid::Uuid;

/// The columns auth needs.
#[derive(Debug, Clone)]
pub struct User {
    /// Primary key.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Stored password hash (legacy hex or PHC string).
    pub password: String,
}

/// The user whose username or email is `login`, as the original's
/// `username = :u OR email = :u`. When two rows match (a legacy username equal to
/// another user's email), a login containing `@` is the email's owner's and any other
/// the username's: registration no longer lets a username hold `@`, so the owner of an
/// email can never be shadowed by a username someone else chose.
pub async fn find_by_login(
    conn: &mut PgConnection,
    login: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"SELECT id, username, email, password FROM "user"
           WHERE username = $1 OR email = $1
           ORDER BY CASE WHEN strpos($1, '@') > 0 THEN email = $1 ELSE username = $1 END DESC
           LIMIT 1"#,
        login
    )
    .fetch_optional(conn)
    .await
}

/// The user with primary key `id`.
pub async fn find_by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        r#"SELECT id, username, email, password FROM "user" WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Replaces the password hash, but only if it is still `old` (a concurrent change
/// wins). Returns whether the row was updated.
pub async fn replace_password(
    conn: &mut PgConnection,
    id: Uuid,
    old: &str,
    new: &str,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query!(
        r#"UPDATE "user" SET password = $3 WHERE id = $1 AND password = $2"#,
        id,
        old,
        new
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}
