//! All SQL: the `notification` table, one row per mailed event (migrations/
//! `20261207000051_notification.sql`).
//!
//! A mail is **claimed** before it is sent and **marked sent** after the SMTP server
//! accepted it. The claim is a lease (`lease_until`): while it runs, another delivery of
//! the same `message_id` (a redelivery, the same event published twice, another
//! instance) waits; once sent, it is skipped. An instance that crashed between claim
//! and send leaves a lease that expires, after which the mail is claimed again and sent:
//! at-least-once, with a duplicate only if the crash fell between the server's
//! acceptance and the mark (README.md, "Once per event").
//!
//! The same transaction enforces the per-recipient limit: under a transaction-scoped
//! advisory lock on the recipient (so concurrent claims for one address, on any
//! instance, take turns), it counts the claims of the sliding window before adding one.

use std::time::Duration;

use sqlx::PgPool;

use crate::config::RateLimit;

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This instance holds the mail: send it, then [`Store::mark_sent`].
    Mine,
    /// Already sent: nothing to do.
    Sent,
    /// Another instance holds a live lease on it: try again later.
    Busy,
    /// The recipient had its share of mail in the window: try again in about this long.
    Limited(Duration),
}

/// The `notification` table.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

/// `f64` seconds of a `Duration`, for interval arithmetic in SQL.
fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Store {
    /// The store on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool (health checks, close).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Claims the mail of `message_id` for `recipient` (compared lowercased), within the
    /// rate limit, for `lease`.
    pub async fn claim(
        &self,
        message_id: &str,
        template: &str,
        recipient: &str,
        rate: RateLimit,
        lease: Duration,
    ) -> Result<Claim, sqlx::Error> {
        let pool = self.pool.clone();
        let (message_id, template) = (message_id.to_owned(), template.to_owned());
        let recipient = recipient.to_lowercase();
        // Runs to its end even if the caller is dropped (see hub_db::transaction).
        let claimed = hub_db::transaction(&pool, move |mut tx| async move {
            sqlx::query!(
                "SELECT pg_advisory_xact_lock(hashtextextended('notification:' || $1, 0))",
                recipient
            )
            .execute(&mut *tx)
            .await?;
            let existing = sqlx::query!(
                r#"SELECT sent_at IS NOT NULL AS "sent!", lease_until > clock_timestamp() AS "leased!"
                   FROM notification WHERE message_id = $1 FOR UPDATE"#,
                message_id
            )
            .fetch_optional(&mut *tx)
            .await?;
            let claim = match existing {
                Some(row) if row.sent => Claim::Sent,
                Some(row) if row.leased => Claim::Busy,
                Some(_) => {
                    // A lease that ran out without a send (the holder crashed or failed):
                    // take it over. It already counts towards the recipient's window.
                    sqlx::query!(
                        "UPDATE notification SET lease_until = clock_timestamp() + make_interval(secs => $2)
                         WHERE message_id = $1",
                        message_id,
                        secs(lease)
                    )
                    .execute(&mut *tx)
                    .await?;
                    Claim::Mine
                }
                None => {
                    let window = sqlx::query!(
                        r#"SELECT count(*) AS "n!",
                                  extract(epoch FROM min(claimed_at) + make_interval(secs => $2) - clock_timestamp())::float8 AS "wait"
                           FROM notification
                           WHERE recipient = $1 AND claimed_at > clock_timestamp() - make_interval(secs => $2)"#,
                        recipient,
                        secs(rate.window)
                    )
                    .fetch_one(&mut *tx)
                    .await?;
                    if window.n >= i64::from(rate.max) {
                        let wait = window.wait.unwrap_or(0.0).max(0.0);
                        Claim::Limited(Duration::from_secs_f64(wait))
                    } else {
                        sqlx::query!(
                            "INSERT INTO notification (message_id, template, recipient, claimed_at, lease_until)
                             VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp() + make_interval(secs => $4))",
                            message_id,
                            template,
                            recipient,
                            secs(lease)
                        )
                        .execute(&mut *tx)
                        .await?;
                        Claim::Mine
                    }
                }
            };
            tx.commit().await?;
            Ok::<_, hub_db::TxError>(claim)
        })
        .await;
        claimed.map_err(|e| match e {
            hub_db::TxError::Db(e) => e,
            // The runtime is shutting down: to the consumer, a database it cannot reach.
            hub_db::TxError::Interrupted(_) => sqlx::Error::PoolClosed,
        })
    }

    /// The SMTP server accepted the mail of `message_id`.
    pub async fn mark_sent(&self, message_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE notification SET sent_at = clock_timestamp() WHERE message_id = $1",
            message_id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sending failed: give the lease up, so the next try (here or on another instance)
    /// need not wait for it to run out.
    pub async fn release(&self, message_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE notification SET lease_until = clock_timestamp()
             WHERE message_id = $1 AND sent_at IS NULL",
            message_id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes the rows of mail sent before `retention`, and of claims abandoned as long.
    pub async fn prune(&self, retention: Duration) -> Result<u64, sqlx::Error> {
        let done = sqlx::query!(
            "DELETE FROM notification WHERE claimed_at < clock_timestamp() - make_interval(secs => $1)",
            secs(retention)
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
