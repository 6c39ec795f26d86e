//! The SOAP services' PostgreSQL side of hub-soap: WS-Security's replay cache.
//!
//! [`PgNonces`] is the [`NonceStore`] of user-soap and user-lookup: the `wsse_nonce`
//! table, which every instance of both services shares, so a `(username, nonce)` pair is
//! accepted once across all of them. hub-soap, the protocol, knows no database; hub-db
//! sits beneath the web stack and cannot implement hub-soap's trait; so the two meet
//! here, once, rather than in each service.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hub_runtime::service::Task;
use hub_soap::{
    ServerError,
    wsse::{BoxFuture, NonceStore},
};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

/// How often each instance deletes expired nonces.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The replay cache in the `wsse_nonce` table.
#[derive(Debug, Clone)]
pub struct PgNonces {
    pool: PgPool,
}

impl PgNonces {
    /// The cache in `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl NonceStore for PgNonces {
    /// One statement, `INSERT ... ON CONFLICT DO NOTHING`, whose row count says whether
    /// the pair is new: of any number of simultaneous requests on any instances, one
    /// wins.
    fn first_use<'a>(
        &'a self,
        username: &'a str,
        nonce: &'a [u8],
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, ServerError>> {
        Box::pin(async move {
            first_use(&self.pool, username, nonce, until)
                .await
                .map_err(|e| ServerError::new(hub_db::is_unavailable(&e), e))
        })
    }

    fn prune_task(&self, margin: Duration, shutdown: CancellationToken) -> Task {
        hub_runtime::service::every(
            PRUNE_EVERY,
            shutdown,
            hub_db::chore_on(
                self.pool.clone(),
                "wsse nonce prune",
                move |pool: PgPool| async move { prune(&mut *pool.acquire().await?, margin).await },
            ),
        )
    }
}

/// Records `(username, nonce)` until `until`; true when it was not there yet.
async fn first_use(
    pool: &PgPool,
    username: &str,
    nonce: &[u8],
    until: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO wsse_nonce (username, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        username,
        nonce,
        until
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes nonces remembered until more than `margin` ago.
pub async fn prune(conn: &mut PgConnection, margin: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM wsse_nonce WHERE expires_at < now() - make_interval(secs => $1)",
        margin.as_secs_f64()
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
