//! Password work off the async workers, bounded.
//!
//! PBKDF2 at the current cost is ~100 ms of one core. Run on an async worker it would
//! stall every other request on that thread; run unbounded on the blocking pool, a burst
//! of logins would start hundreds of threads fighting for the CPUs. So each job runs in
//! `spawn_blocking` behind a semaphore sized to the CPUs, inside the caller's span, and a
//! job that cannot start within the queue timeout is refused (the caller answers 503).

use std::{sync::Arc, time::Duration};

use hub_config::{ConfigError, Vars};
use tokio::sync::Semaphore;

use crate::password::{self, Hasher};

/// Hashing settings.
#[derive(Debug, Clone, Copy)]
pub struct HashSettings {
    /// `PASSWORD_PBKDF2_ITERATIONS` (default 600 000, OWASP's figure for PBKDF2-HMAC-SHA256).
    pub hasher: Hasher,
    /// `HASHING_CONCURRENCY` (default: the number of CPUs): hashes computed at once; more
    /// requests wait their turn instead of oversubscribing the CPU.
    pub concurrency: usize,
}

impl HashSettings {
    /// Reads the two variables.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let iterations =
            vars.parse_or("PASSWORD_PBKDF2_ITERATIONS", password::DEFAULT_ITERATIONS)?;
        let hasher = Hasher::new(iterations)
            .map_err(|e| ConfigError::invalid("PASSWORD_PBKDF2_ITERATIONS", e.to_string()))?;
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            hasher,
            concurrency: vars.positive_or("HASHING_CONCURRENCY", cpus)?,
        })
    }
}

/// Why a hashing job did not run.
#[derive(Debug, thiserror::Error)]
pub enum HashPoolError {
    /// Every slot stayed busy for the whole queue timeout.
    #[error("password hashing is saturated")]
    Busy,
    /// The job panicked or the runtime is shutting down.
    #[error("password hashing task failed")]
    Failed,
}

/// A [`Hasher`] plus the bound on concurrent jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HashPool {
    hasher: Hasher,
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
}

impl HashPool {
    /// At most `settings.concurrency` jobs at once; a job waits at most 10 s for a slot.
    pub fn new(settings: HashSettings) -> Self {
        Self {
            hasher: settings.hasher,
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            queue_timeout: Duration::from_secs(10),
        }
    }

    /// The hasher (its settings).
    pub fn hasher(&self) -> Hasher {
        self.hasher
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub async fn run<T, F>(&self, work: F) -> Result<T, HashPoolError>
    where
        T: Send + 'static,
        F: FnOnce(Hasher) -> T + Send + 'static,
    {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashPoolError::Busy)?
            .map_err(|_| HashPoolError::Failed)?;
        let hasher = self.hasher;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            let _permit = permit;
            work(hasher)
        })
        .await
        .map_err(|_| HashPoolError::Failed)
    }
}
