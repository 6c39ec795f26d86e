//! The shared `"user"` table, as auth reads it.

use hub_identity::revocation::Standing;
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

/// `login` under the canonical form (`identity_canonical`: NFKC, then case folded), as
/// [`find_by_login`] compares it: two strings that could name the same account have the
/// same canonical form. `login` must not hold NUL (PostgreSQL text cannot).
pub async fn canonical(conn: &mut PgConnection, login: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT identity_canonical($1) AS "canonical!""#, login)
        .fetch_one(conn)
        .await
}

/// The user with primary key `id`, and what revokes a token of theirs whose `sid` is
/// `sid`: one indexed read (two primary-key lookups), done on every authenticated
/// request.
pub async fn find_for_token(
    conn: &mut PgConnection,
    id: Uuid,
    sid: Option<Uuid>,
) -> Result<Option<(User, Standing)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.id, u.username, u.email, u.password, u.tokens_valid_after,
                  f.created_at AS "family_created_at?",
                  f.revoked_at IS NOT NULL AS "family_revoked?",
                  u.deactivated_at IS NOT NULL AS "deactivated!"
           FROM "user" u
           LEFT JOIN token_family f ON f.id = $2 AND f.user_id = u.id
           WHERE u.id = $1"#,
        id,
        sid as Option<Uuid>,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        let standing =
            Standing::from_columns(r.tokens_valid_after, r.family_created_at, r.family_revoked)
                .deactivated(r.deactivated);
        let user = User {
            id: r.id,
            username: r.username,
            email: r.email,
            password: r.password,
        };
        (user, standing)
    }))
}

/// Replaces the password hash with an upgraded hash of the same password, but only if
/// it is still `old` (a concurrent change wins). Returns whether the row was updated.
///
/// Call inside a transaction: it marks the transaction as a rehash
/// (`hub.password_rehash`), so the trigger that revokes a user's tokens on a password
/// change leaves them alone; the mark ends with the transaction.
pub async fn replace_password(
    conn: &mut PgConnection,
    id: Uuid,
    old: &str,
    new: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!("SELECT set_config('hub.password_rehash', 'on', true)")
        .fetch_one(&mut *conn)
        .await?;
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

/// What an account may do now: whether an administrator deactivated it, and the roles
/// an operator granted it (`"user".deactivated_at`, `"user".roles`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// `deactivated_at` is set: no login, no refresh, no token admitted.
    pub deactivated: bool,
    /// Granted roles (only `admin` exists).
    pub roles: Vec<String>,
}

impl Access {
    /// Whether the stored row grants `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// [`Access`] of user `id`, or `None` if no such user.
pub async fn access(conn: &mut PgConnection, id: Uuid) -> Result<Option<Access>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT deactivated_at IS NOT NULL AS "deactivated!", roles FROM "user" WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Access {
        deactivated: r.deactivated,
        roles: r.roles,
    }))
}
