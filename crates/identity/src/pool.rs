//! Password work off the async workers, bounded.
//!
//! A hash is ~25 ms of one core and 19 MiB (Argon2id at OWASP's minimum) or ~110 ms
//! (PBKDF2 at 600 000 iterations). Run on an async worker it would
//! stall every other request on that thread; run unbounded on the blocking pool, a burst
//! of logins would start hundreds of threads fighting for the CPUs. So each job runs in
//! `spawn_blocking` behind a semaphore sized to the CPUs, inside the caller's span, and a
//! job that cannot start within the queue timeout is refused (the caller answers 503).
//!
//! Memory: the semaphore bounds it too. At most `HASHING_CONCURRENCY` hashes run at
//! once, each holding `PASSWORD_ARGON2_MEMORY_KIB` while it runs (freed when it ends), so
//! hashing adds at most concurrency x memory cost to the process, plus up to one more
//! cost that the allocator has freed but not yet returned: (2 + 1) x 19 MiB = 57 MiB on
//! two CPUs with the defaults (docs/OPERATIONS.md, "Scaling"). A stored
//! hash asking for more than the configured memory (written under an older, higher
//! setting, or planted) costs what it asks, up to
//! [`MAX_ARGON2_MEMORY_KIB`](crate::password::MAX_ARGON2_MEMORY_KIB) (64 MiB) per slot.

use std::{sync::Arc, time::Duration};

use hub_config::{ConfigError, Vars};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::password::{self, Algorithm, Argon2Cost, HashError, Hasher};

/// The algorithm of new and upgraded hashes when `PASSWORD_HASH` is not set: Argon2id,
/// ~4x cheaper in CPU per login than PBKDF2 at 600 000 iterations, and memory-hard. A
/// deployment reaches this release only through the one before it, which reads Argon2id
/// already (docs/COMPATIBILITY.md, "Password hash format").
pub const DEFAULT_ALGORITHM: Algorithm = Algorithm::Argon2id;

/// Hashing settings.
#[derive(Debug, Clone, Copy)]
pub struct HashSettings {
    /// `PASSWORD_HASH` (`argon2id` or `pbkdf2-sha256`, default [`DEFAULT_ALGORITHM`]):
    /// the algorithm of new and upgraded hashes; `PASSWORD_ARGON2_MEMORY_KIB` (19456),
    /// `PASSWORD_ARGON2_ITERATIONS` (2), `PASSWORD_ARGON2_PARALLELISM` (1): Argon2id's
    /// cost (OWASP's minimum); `PASSWORD_PBKDF2_ITERATIONS` (600 000, OWASP's figure for
    /// PBKDF2-HMAC-SHA256): PBKDF2's.
    pub hasher: Hasher,
    /// `HASHING_CONCURRENCY` (default: the number of CPUs): hashes computed at once; more
    /// requests wait their turn instead of oversubscribing the CPU.
    pub concurrency: usize,
}

impl HashSettings {
    /// Reads the variables.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let algorithm = match vars.string("PASSWORD_HASH") {
            None => DEFAULT_ALGORITHM,
            Some(v) => v
                .parse::<Algorithm>()
                .map_err(|e| ConfigError::invalid("PASSWORD_HASH", e))?,
        };
        let iterations =
            vars.parse_or("PASSWORD_PBKDF2_ITERATIONS", password::DEFAULT_ITERATIONS)?;
        let owasp = Argon2Cost::OWASP;
        let memory = vars.parse_or("PASSWORD_ARGON2_MEMORY_KIB", owasp.memory_kib())?;
        let passes = vars.parse_or("PASSWORD_ARGON2_ITERATIONS", owasp.iterations())?;
        let lanes = vars.parse_or("PASSWORD_ARGON2_PARALLELISM", owasp.parallelism())?;
        let cost = Argon2Cost::new(memory, passes, lanes)
            .map_err(|e| ConfigError::invalid("PASSWORD_ARGON2_*", e.to_string()))?;
        let hasher = Hasher::new(iterations)
            .map_err(|e| ConfigError::invalid("PASSWORD_PBKDF2_ITERATIONS", e.to_string()))?
            .with_argon2(cost)
            .with_algorithm(algorithm);
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
    /// Argon2id's memory could not be allocated.
    #[error(transparent)]
    OutOfMemory(#[from] HashError),
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

    /// A new hash of `password` ([`Hasher::hash`]) on the pool.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashPoolError> {
        Ok(self
            .run(move |h| h.hash(password.expose_secret()))
            .await??)
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
