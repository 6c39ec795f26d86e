//! Shared handler state.

use std::sync::Arc;

use hub_identity::{jwt::JwtKeys, password::Hasher};
use sqlx::PgPool;
use tokio::sync::Semaphore;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub pool: PgPool,
    /// Password hashing at the configured cost.
    pub hasher: Hasher,
    /// Upgrade legacy/weaker hashes after a successful login.
    pub rehash_on_login: bool,
    /// Bounds concurrent hashing to the CPUs (see `Config::hashing_concurrency`).
    pub hashing: Arc<Semaphore>,
    /// JWT keys.
    pub jwt: JwtKeys,
    /// The queue events go to (`RABBITMQ_QUEUE`).
    pub queue: Arc<str>,
}

impl AppState {
    /// Runs CPU-heavy password work on the blocking pool, at most
    /// `hashing_concurrency` at a time, inside the caller's span.
    pub async fn hash_blocking<T, F>(&self, work: F) -> crate::error::ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Hasher) -> T + Send + 'static,
    {
        use crate::error::ApiError;
        let permit = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.hashing.clone().acquire_owned(),
        )
        .await
        .map_err(|_| ApiError::Unavailable(anyhow::anyhow!("password hashing queue is full")))?
        .map_err(|e| ApiError::Internal(e.into()))?;
        let hasher = self.hasher;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            let _permit = permit;
            work(hasher)
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))
    }
}
