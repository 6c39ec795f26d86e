//! Reading a test's PostgreSQL database: row counts, the outbox, open transactions.

use std::time::Duration;

use sqlx::{Connection as _, PgConnection};

use crate::eventually;

/// Rows of `table` in the database at `db_url` (tables named by tests only).
pub async fn count(db_url: &str, sql: &'static str) -> i64 {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

/// Outbox rows not yet confirmed by the broker.
pub async fn outbox_pending(db_url: &str) -> i64 {
    count(
        db_url,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL",
    )
    .await
}

/// Polls until every outbox row has been confirmed by the broker.
pub async fn wait_outbox_drained(db_url: &str, within: Duration) {
    eventually(within, async || match outbox_pending(db_url).await {
        0 => Ok(()),
        pending => Err(format!("{pending} outbox rows still pending")),
    })
    .await;
}

/// Polls (bounded by `within`) until no other connection to `db`'s database is idle
/// inside a transaction. Work a dropped request left running finishes within
/// milliseconds; a transaction leaked into the pool stays open, since nothing uses
/// its connection any more. `context` goes into the failure message.
pub async fn assert_no_connection_left_in_a_transaction(
    db: &mut PgConnection,
    within: Duration,
    context: &str,
) {
    eventually(within, async || {
        let stuck: Vec<(i32, Option<String>)> = sqlx::query_as(
            "SELECT pid, query FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state LIKE 'idle in transaction%'",
        )
        .fetch_all(&mut *db)
        .await
        .unwrap();
        if stuck.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{context}: sessions left inside a transaction: {stuck:?}"
            ))
        }
    })
    .await;
}
