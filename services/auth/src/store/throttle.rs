//! Failed-login counters (table `login_throttle`), shared by every auth instance.

use std::time::Duration;

use sqlx::PgConnection;

/// The limits for one kind of key.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Failures within the window that trigger a block.
    pub max_failures: i32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a block lasts.
    pub lockout: Duration,
}

/// Seconds until the longest block among `keys` ends, if any is blocked now.
pub async fn blocked_for(
    conn: &mut PgConnection,
    keys: &[String],
) -> Result<Option<u64>, sqlx::Error> {
    let secs = sqlx::query_scalar!(
        r#"SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::bigint AS "secs"
           FROM login_throttle WHERE key = ANY($1) AND blocked_until > now()"#,
        keys
    )
    .fetch_one(conn)
    .await?;
    Ok(secs.map(|s| u64::try_from(s.max(1)).unwrap_or(1)))
}

/// Counts one failure for `key`; blocks it once `limit.max_failures` is reached
/// within the window (an older window starts again at one).
pub async fn record_failure(
    conn: &mut PgConnection,
    key: &str,
    limit: Limit,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO login_throttle AS t (key, failures, window_started, blocked_until)
           VALUES ($1, 1, now(), CASE WHEN $2 <= 1 THEN now() + make_interval(secs => $4) END)
           ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN t.window_started < now() - make_interval(secs => $3) THEN 1 ELSE t.failures + 1 END,
             window_started = CASE WHEN t.window_started < now() - make_interval(secs => $3) THEN now() ELSE t.window_started END,
             blocked_until = CASE
               WHEN (CASE WHEN t.window_started < now() - make_interval(secs => $3) THEN 1 ELSE t.failures + 1 END) >= $2
               THEN now() + make_interval(secs => $4)
               ELSE t.blocked_until END"#,
        key,
        limit.max_failures,
        limit.window.as_secs_f64(),
        limit.lockout.as_secs_f64(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the failures of `key` (after a successful login).
pub async fn clear(conn: &mut PgConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM login_throttle WHERE key = $1", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes rows whose window and block are both over, so random usernames cannot
/// grow the table without bound.
pub async fn prune(conn: &mut PgConnection, older_than: Duration) -> Result<u64, sqlx::Error> {
    let res = sqlx::query!(
        r#"DELETE FROM login_throttle
           WHERE window_started < now() - make_interval(secs => $1)
             AND (blocked_until IS NULL OR blocked_until < now())"#,
        older_than.as_secs_f64()
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}
