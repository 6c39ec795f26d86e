//! Password change and reset (tables `password_reset`, `password_reset_throttle`, and
//! `"user".password`; see the migration `password_reset`). Every decision is one atomic
//! statement, so two auth instances never both use a code or both replace the same
//! password.

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

/// A reset-request counter after this request: its key, the requests in its window
/// (this one included) and the seconds until the window ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// The key (`account:`, `login:` or `addr:`).
    pub key: String,
    /// Requests in the window, this one included.
    pub requests: i32,
    /// Seconds until the window ends (at least 1).
    pub retry_after: u64,
}

/// Counts one reset request on each of `keys` (a fixed window of `window`; a window
/// that has run out starts again), in one row-locking upsert, in key order so that
/// concurrent requests sharing keys cannot deadlock. Call inside the request's
/// transaction: the counters, the code and the event commit together.
pub async fn count_request(
    conn: &mut PgConnection,
    keys: &[String],
    window: Duration,
) -> Result<Vec<Count>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"INSERT INTO password_reset_throttle AS t (key, requests, window_started)
           SELECT k, 1, now() FROM unnest($1::text[]) AS k ORDER BY k
           ON CONFLICT (key) DO UPDATE SET
             requests = CASE WHEN t.window_started <= now() - make_interval(secs => $2)
                             THEN 1 ELSE t.requests + 1 END,
             window_started = CASE WHEN t.window_started <= now() - make_interval(secs => $2)
                                   THEN now() ELSE t.window_started END
           RETURNING key AS "key!", requests AS "requests!",
             ceil(extract(epoch FROM window_started + make_interval(secs => $2) - now()))::bigint
               AS "retry_after!""#,
        keys,
        window.as_secs_f64(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Count {
            key: r.key,
            requests: r.requests,
            retry_after: u64::try_from(r.retry_after.max(1)).unwrap_or(1),
        })
        .collect())
}

/// Stores the code `digest` for `user_id`, usable for `lifetime`. With no user (the
/// login names no account, or the account is over its limit) the same statement runs
/// and inserts nothing: both paths of a request cost the same.
pub async fn store_code(
    conn: &mut PgConnection,
    digest: &[u8],
    user_id: Option<Uuid>,
    lifetime: Duration,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query!(
        r#"INSERT INTO password_reset (digest, user_id, expires_at)
           SELECT $1, $2, clock_timestamp() + make_interval(secs => $3)
           WHERE $2::uuid IS NOT NULL"#,
        digest,
        user_id as Option<Uuid>,
        lifetime.as_secs_f64(),
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// The user of the code `digest` if it is unused and unexpired now (a read: the code is
/// used by [`use_code`]).
pub async fn live_code(
    conn: &mut PgConnection,
    digest: &[u8],
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT user_id FROM password_reset
           WHERE digest = $1 AND used_at IS NULL AND expires_at > clock_timestamp()"#,
        digest
    )
    .fetch_optional(conn)
    .await
}

/// Uses the code `digest`: one `UPDATE ... WHERE used_at IS NULL`, so of concurrent
/// uses on any instances the first holds the row until it commits and the others then
/// find it used. Then uses every other live code of the same user. Returns the user, or
/// `None` if the code is unknown, used or expired.
pub async fn use_code(conn: &mut PgConnection, digest: &[u8]) -> Result<Option<Uuid>, sqlx::Error> {
    let user = sqlx::query_scalar!(
        r#"UPDATE password_reset SET used_at = clock_timestamp()
           WHERE digest = $1 AND used_at IS NULL AND expires_at > clock_timestamp()
           RETURNING user_id"#,
        digest
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(user_id) = user {
        sqlx::query!(
            r#"UPDATE password_reset SET used_at = clock_timestamp()
               WHERE user_id = $1 AND used_at IS NULL"#,
            user_id
        )
        .execute(conn)
        .await?;
    }
    Ok(user)
}

/// Who a password was set for: where the notice goes.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The username.
    pub username: String,
    /// The account's email.
    pub email: String,
}

/// Sets `user_id`'s password hash to `new`, if it is still `old` (`None`: whatever it
/// is). Of two changes at once from the same password, on any instances, the second
/// waits for the first to commit and then finds the password changed: `None`. The
/// trigger `user_password_revokes_tokens` sets `tokens_valid_after`, revoking every
/// token issued until now.
pub async fn set_password(
    conn: &mut PgConnection,
    user_id: Uuid,
    old: Option<&str>,
    new: &str,
) -> Result<Option<Changed>, sqlx::Error> {
    sqlx::query_as!(
        Changed,
        r#"UPDATE "user" SET password = $3
           WHERE id = $1 AND ($2::text IS NULL OR password = $2)
           RETURNING username, email"#,
        user_id,
        old,
        new,
    )
    .fetch_optional(conn)
    .await
}

/// Deletes codes expired more than a day ago and counters whose window ended more than
/// `window` ago (any instance may: idempotent).
pub async fn prune(conn: &mut PgConnection, window: Duration) -> Result<u64, sqlx::Error> {
    let codes =
        sqlx::query!("DELETE FROM password_reset WHERE expires_at < now() - interval '1 day'")
            .execute(&mut *conn)
            .await?;
    let counters = sqlx::query!(
        r#"DELETE FROM password_reset_throttle
           WHERE window_started < now() - make_interval(secs => $1)"#,
        (window * 2).as_secs_f64()
    )
    .execute(conn)
    .await?;
    Ok(codes.rows_affected() + counters.rows_affected())
}
