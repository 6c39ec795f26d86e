//! Registrations per client address (table `registration_throttle`), shared by every
//! user-soap instance: a fixed window, counted and checked in one row-locking
//! statement, so no number of simultaneous requests gets more than the limit through.
//! An IPv6 client is counted by its prefix (`CLIENT_IPV6_PREFIX`, /64 by default), since
//! it may use any address of it for each request.

use std::time::Duration;

use sqlx::PgConnection;

/// At most `max` registrations per address within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Registrations (that reach the password hashing) per window.
    pub max: i32,
    /// The window.
    pub window: Duration,
}

/// What [`count`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Within the limit: go on.
    Admitted,
    /// Over the limit until the window ends.
    OverLimit {
        /// Seconds until the window ends (at least 1).
        retry_after: u64,
    },
}

/// Counts one registration from the client `from`, given as the text of its key
/// (`ProxyTrust::client_key_text`: an IPv4 address, or an IPv6 prefix);
/// [`Counted::OverLimit`] until its window ends when the client is over the limit (the refused attempt counts
/// too, which changes nothing: the window does not move). The row's key is
/// `addr:192.0.2.1` as before, or `addr:2001:db8:1:2::/64`.
pub async fn count(
    conn: &mut PgConnection,
    from: &str,
    limit: Limit,
) -> Result<Counted, sqlx::Error> {
    let row = sqlx::query!(
        r#"INSERT INTO registration_throttle AS t (key, attempts, window_started)
           VALUES ($1, 1, now())
           ON CONFLICT (key) DO UPDATE SET
             attempts = CASE WHEN t.window_started <= now() - make_interval(secs => $2)
                             THEN 1 ELSE t.attempts + 1 END,
             window_started = CASE WHEN t.window_started <= now() - make_interval(secs => $2)
                                   THEN now() ELSE t.window_started END
           RETURNING attempts AS "attempts!",
                     ceil(extract(epoch FROM window_started + make_interval(secs => $2) - now()))::bigint
                       AS "retry_after!""#,
        format!("addr:{from}"),
        limit.window.as_secs_f64(),
    )
    .fetch_one(conn)
    .await?;
    Ok(if row.attempts > limit.max {
        Counted::OverLimit {
            retry_after: u64::try_from(row.retry_after.max(1)).unwrap_or(1),
        }
    } else {
        Counted::Admitted
    })
}

/// Deletes rows whose window ended more than `older_than` ago.
pub async fn prune(conn: &mut PgConnection, older_than: Duration) -> Result<u64, sqlx::Error> {
    let res = sqlx::query!(
        "DELETE FROM registration_throttle WHERE window_started < now() - make_interval(secs => $1)",
        older_than.as_secs_f64()
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}
