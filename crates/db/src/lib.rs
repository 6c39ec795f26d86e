//! PostgreSQL plumbing: one bounded pool per service, the shared schema, health.
//!
//! Pools connect lazily and fail fast: acquiring a connection waits at most
//! [`PoolSettings::acquire_timeout`], and every statement is bounded by the server-side
//! `statement_timeout`, so a database outage turns into quick errors (503 at the edge)
//! rather than hung requests, and the pool heals by itself when the server returns.

use std::{str::FromStr, time::Duration};

use hub_config::{ConfigError, Vars};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// The migrations in the repository's `migrations/` folder, embedded at build time,
/// run so that a database a newer release has already migrated is no error: the
/// schema changes by expand and contract (docs/ARCHITECTURE.md), so the previous
/// release keeps running on it, and a pod of it that restarts mid-upgrade, or a
/// rollback, must start. sqlx refuses by default (`VersionMissing`). The migrations
/// this release knows are still checked against their checksums.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("../../migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// `DB_MAX_CONNECTIONS`, default 10.
    pub max_connections: u32,
    /// `DB_ACQUIRE_TIMEOUT_MS`, default 1000.
    pub acquire_timeout: Duration,
    /// `DB_STATEMENT_TIMEOUT_MS`, default 5000.
    pub statement_timeout: Duration,
    /// `DB_STARTUP_TIMEOUT_SECS`, default 30: how long start-up waits for the server.
    pub startup_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(30),
        }
    }
}

impl PoolSettings {
    /// Reads the `DB_*` variables, defaults as [`PoolSettings::default`].
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            max_connections: vars.positive_or("DB_MAX_CONNECTIONS", d.max_connections)?,
            acquire_timeout: vars.millis_or("DB_ACQUIRE_TIMEOUT_MS", d.acquire_timeout)?,
            statement_timeout: vars.millis_or("DB_STATEMENT_TIMEOUT_MS", d.statement_timeout)?,
            startup_timeout: vars.seconds_or("DB_STARTUP_TIMEOUT_SECS", d.startup_timeout)?,
        })
    }
}

/// Where the service's PostgreSQL is and how its pool behaves.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// `DATABASE_URL`, or the originals' `POSTGRESQL_*` / `PG_*` parts. Required.
    pub url: SecretString,
    /// `DB_MAX_CONNECTIONS`, `DB_ACQUIRE_TIMEOUT_MS`, `DB_STATEMENT_TIMEOUT_MS`,
    /// `DB_STARTUP_TIMEOUT_SECS`.
    pub pool: PoolSettings,
}

impl PgSettings {
    /// Reads the URL and the `DB_*` variables.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            url: vars.postgres_url()?,
            pool: PoolSettings::from_vars(vars)?,
        })
    }

    /// The service's pool, once the server answers (waiting up to the start-up timeout)
    /// and the schema is migrated.
    pub async fn connect(&self, app_name: &str) -> Result<PgPool, DbError> {
        let pool = pool(&self.url, &self.pool, app_name)?;
        migrate(&pool, self.pool.startup_timeout).await?;
        Ok(pool)
    }
}

/// A database setup error (never includes the URL: it may carry a password).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL cannot be parsed.
    #[error("DATABASE_URL is not a valid PostgreSQL URL")]
    BadUrl,
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The server did not answer within the start-up bound.
    #[error("database unreachable: {0}")]
    Unreachable(#[source] sqlx::Error),
}

/// A pooled connection idle for longer than this is pinged before it is handed out.
///
/// sqlx's own `test_before_acquire` pings every time, and sqlx also pings every
/// connection when it is released: three round trips for a one-statement request
/// (bench/results/2026-11-26.md, "Fixes"). The release ping already proves a connection
/// healthy when it goes back; one reused within this window is very unlikely to have
/// died since, and one that sat idle through a server restart is still caught here.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// A lazily-connecting pool: building it never touches the network.
pub fn pool(
    url: &SecretString,
    settings: &PoolSettings,
    app_name: &str,
) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url.expose_secret())
        .map_err(|_| DbError::BadUrl)?
        .application_name(app_name)
        .options([(
            "statement_timeout",
            settings.statement_timeout.as_millis().to_string(),
        )]);
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options);
    // Pool occupancy, sampled when Prometheus scrapes (db_pool_connections{pool,state}),
    // and its bound (db_pool_max_connections{pool}): saturation is their ratio.
    let sampled = pool.clone();
    let name = app_name.to_owned();
    let max = settings.max_connections;
    hub_metrics::describe(describe_metrics);
    hub_metrics::on_scrape(move || {
        let (size, idle) = (
            sampled.size(),
            u32::try_from(sampled.num_idle()).unwrap_or(u32::MAX),
        );
        let in_use = size.saturating_sub(idle);
        metrics::gauge!("db_pool_connections", "pool" => name.clone(), "state" => "in_use")
            .set(f64::from(in_use));
        metrics::gauge!("db_pool_connections", "pool" => name.clone(), "state" => "idle")
            .set(f64::from(idle));
        metrics::gauge!("db_pool_max_connections", "pool" => name.clone()).set(f64::from(max));
    });
    Ok(pool)
}

/// HELP text of the pool metrics (registered with `hub_metrics::describe` by each pool
/// made).
fn describe_metrics() {
    metrics::describe_gauge!(
        "db_pool_connections",
        "PostgreSQL pool connections, by pool and state (in_use, idle)."
    );
    metrics::describe_gauge!(
        "db_pool_max_connections",
        "PostgreSQL pool size limit (DB_MAX_CONNECTIONS), by pool."
    );
}

/// Waits (bounded by `deadline`, normally [`PoolSettings::startup_timeout`]) for the
/// server, then runs the migrations.
/// sqlx holds an advisory lock while migrating, so many instances may start at once.
pub async fn migrate(pool: &PgPool, deadline: Duration) -> Result<(), DbError> {
    hub_retry::until_ready(
        deadline,
        hub_retry::Backoff::STARTUP,
        || ping(pool),
        |e| {
            tracing::warn!(error = %e, "database not ready, retrying");
            true
        },
    )
    .await
    .map_err(DbError::Unreachable)?;
    migrator().run(pool).await?;
    Ok(())
}

/// `SELECT 1`: the health check.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
}

/// [`ping`] for a health endpoint: true when PostgreSQL answers; a failure is logged
/// (WARN) and never reaches the body.
pub async fn healthy(pool: &PgPool) -> bool {
    match ping(pool).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            false
        }
    }
}

/// True when the error means "database unavailable" (connection refused or lost, pool
/// exhausted, timeout) rather than a bad query: the edge answers 503 for these.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            // 57014 query_canceled (statement_timeout), 57P01-57P03 shutdown / cannot connect now,
            // 08xxx connection exceptions, 53300 too many connections.
            db.code().is_some_and(|c| {
                c == "57014" || c.starts_with("57P") || c.starts_with("08") || c == "53300"
            })
        }
        _ => false,
    }
}

/// One run of a chore, as [`chore_on`] makes it.
///
/// Boxed, and the one box left here: what `chore_on` returns is a closure whose future
/// wraps the chore's own (it logs the failure), and stable Rust cannot name that
/// future in the closure's return type (`impl Trait` in an `Fn` return type is
/// unstable, rust-lang/rust#99697). One allocation per period, every few minutes.
pub type ChoreRun = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What a periodic background task (`hub_runtime::service::every`) runs: `chore`, given
/// the pool, returning how many rows it changed. Every instance runs it, so it must be
/// idempotent; a failure is logged at DEBUG (the next period retries) under `what`.
///
/// The chore takes an owned pool and returns a `Send + 'static` future, so it is
/// neither boxed nor higher-ranked:
/// `move |pool| async move { prune(&mut *pool.acquire().await?, keep).await }`.
/// It is given the pool rather than a connection because a chore that writes in
/// batches opens its transactions through [`transaction`], which takes the pool.
pub fn chore_on<F, Fut, E>(
    pool: PgPool,
    what: &'static str,
    mut chore: F,
) -> impl FnMut() -> ChoreRun + Send + 'static
where
    F: FnMut(PgPool) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<u64, E>> + Send + 'static,
    E: std::fmt::Display + 'static,
{
    move || {
        let run = chore(pool.clone());
        Box::pin(async move {
            if let Err(e) = run.await {
                tracing::debug!(error = %e, chore = what, "database chore failed");
            }
        })
    }
}

/// The work was cut short before it finished: the runtime is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("database work interrupted by shutdown")]
pub struct Interrupted;

/// A transaction's failure where the caller has no error type of its own (a store
/// function): the database's error, or [`Interrupted`].
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// A statement, `BEGIN` or `COMMIT` failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The runtime shut down before the transaction ended.
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

impl TxError {
    /// The same failure as a caller's error that has both cases (a use case's error
    /// enum), for its `impl From<TxError>`.
    pub fn into_error<E: From<sqlx::Error> + From<Interrupted>>(self) -> E {
        match self {
            Self::Db(e) => e.into(),
            Self::Interrupted(e) => e.into(),
        }
    }
}

/// An open transaction, as [`transaction`] hands it to its work: it owns its pooled
/// connection. `tx.commit().await?` ends it; dropped uncommitted (an error returned
/// with `?`), it rolls back.
pub type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Runs `work` in a transaction of `pool`: the one way to open a transaction (clippy's
/// `disallowed-methods` in `clippy.toml` refuses `begin` anywhere else).
///
/// `work` is given the open transaction, owned, and commits it (`tx.commit().await?`)
/// or lets it drop, which rolls back. `BEGIN`, `work` and the end of the transaction
/// run to completion in a task of their own, even if the caller's future is dropped
/// (client gone, request timeout): cancel-safe by construction.
///
/// Why: dropping a future in the middle of `begin()` leaves sqlx 0.9's connection inside
/// a server-side transaction that sqlx believes is closed (upstream issues 4385, 4393);
/// the next borrower's statements then run inside it, and after one error every query on
/// that connection fails (`25P02`). A transaction that never stops half-way never
/// returns a connection in that state. `work` runs in the caller's span, so its logs keep
/// the request's id. A panic inside `work` is resumed in the caller, so the HTTP layer
/// answers 500 as for any other panic; [`Interrupted`] means the runtime shut down.
///
/// `work` takes owned arguments and returns a `Send + 'static` future (what
/// `tokio::spawn` needs), so neither it nor its future is boxed, and no higher-ranked
/// lifetime is involved. Everything it uses is moved in (a pool clone, owned keys); a
/// result it needs back is returned.
///
/// ```ignore
/// let id = hub_db::transaction(&pool, move |mut tx| async move {
///     users::insert(&mut tx, &user).await?;
///     outbox::enqueue(&mut tx, &queue, &event, None).await?;
///     tx.commit().await?;
///     Ok::<_, TxError>(user.id)
/// })
/// .await?;
/// ```
pub async fn transaction<F, Fut, T, E>(pool: &PgPool, work: F) -> Result<T, E>
where
    F: FnOnce(Tx) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<sqlx::Error> + From<Interrupted> + Send + 'static,
{
    to_completion(pool, move |pool| async move {
        // The one place a transaction begins: inside the task of its own, so a dropped
        // caller cannot cut it short.
        #[allow(clippy::disallowed_methods)]
        let tx = pool.begin().await?;
        work(tx).await
    })
    .await
}

/// Runs `work` (database work that is not a transaction: one statement on a connection
/// taken from `pool`, say) to completion in a task of its own, even if the caller's
/// future is dropped, as [`transaction`] does: for work that must happen once begun (a
/// counter a client must not dodge by hanging up). Owned arguments, as [`transaction`].
pub async fn to_completion<F, Fut, T, E>(pool: &PgPool, work: F) -> Result<T, E>
where
    F: FnOnce(PgPool) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<Interrupted> + Send + 'static,
{
    use tracing::Instrument as _;
    match tokio::spawn(work(pool.clone()).in_current_span()).await {
        Ok(out) => out,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Interrupted.into()),
    }
}

#[doc(hidden)]
pub use sqlx as __sqlx;

/// `impl From<sqlx::Error> for $error`: an outage ([`is_unavailable`]) becomes
/// `$error::Unavailable`, anything else `$error::Internal`, both holding an
/// `anyhow::Error`; with `($error, $failed)`, a REST service's
/// `$error::$failed(hub_runtime::http::Failure)`, unavailable or internal alike (the
/// calling crate depends on `hub_runtime`, as every service does).
/// Every service error enum has these (the edge answers 503 and 500); the macro keeps
/// the one classification in one place, which a shared `impl` cannot do (neither the
/// error type nor `From` is this crate's).
#[macro_export]
macro_rules! impl_from_sqlx_error {
    ($error:ty, $failed:ident) => {
        impl ::core::convert::From<$crate::__sqlx::Error> for $error {
            fn from(e: $crate::__sqlx::Error) -> Self {
                Self::$failed(::hub_runtime::http::Failure::new(
                    $crate::is_unavailable(&e),
                    e,
                ))
            }
        }
    };
    ($error:ty) => {
        impl ::core::convert::From<$crate::__sqlx::Error> for $error {
            fn from(e: $crate::__sqlx::Error) -> Self {
                if $crate::is_unavailable(&e) {
                    Self::Unavailable(e.into())
                } else {
                    Self::Internal(e.into())
                }
            }
        }
    };
}
