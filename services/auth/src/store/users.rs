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
/// `username = :u OR email = :u`, or, failing an exact match, is `login` under the
/// canonical form (another case, width or accent composition: see the migration
/// `user_canonical`). When two rows match exactly (a legacy username equal to another
/// user's email), a login containing `@` is the email owner's and any other the
/// username owner's; registration no longer lets a username hold `@`, so the owner of an
/// email can never be shadowed by a username someone else chose. Two rows that match
/// only canonically (legacy look-alikes) are ambiguous: neither is chosen.
pub async fn find_by_login(
    conn: &mut PgConnection,
    login: &str,
) -> Result<Option<User>, sqlx::Error> {
    let found = sqlx::query_as!(
        User,
        r#"SELECT id, username, email, password FROM "user"
           WHERE username = $1 OR email = $1
              OR identity_canonical(username) = identity_canonical($1)
              OR identity_canonical(email) = identity_canonical($1)
           ORDER BY CASE WHEN strpos($1, '@') > 0 THEN email = $1 ELSE username = $1 END DESC,
                    (username = $1 OR email = $1) DESC
           LIMIT 2"#,
        login
    )
    .fetch_all(conn)
    .await?;
    let mut found = found.into_iter();
    Ok(match (found.next(), found.next()) {
        (Some(first), _) if first.username == login || first.email == login => Some(first),
        (Some(only), None) => Some(only),
        _ => None,
    })
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
