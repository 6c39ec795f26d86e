//! The one service skeleton: what every service's `main()` and life cycle share.
//!
//! A service is its configuration, its state, its routes and its background tasks; it
//! says so by implementing [`Service`] on its state. Everything else lives here, once:
//! reading the configuration (a bad value exits 2 naming the variable), telemetry,
//! binding (port 0 allowed, so tests learn the real port), wrapping the routes in the
//! shared HTTP layers, serving until SIGINT/SIGTERM, draining within a bound, letting
//! background tasks finish the item in hand, closing clients and logging "shutdown
//! complete".
//!
//! ```ignore
//! // lib.rs: the state, under the service's name.
//! pub use crate::state::AppState as Connected;
//! impl hub_runtime::service::Service for Connected {
//!     const ENTRY: Entry = Entry::express::<ApiError>("connected", 5020, "/connected/health");
//!     type Config = Config;
//!     async fn connect(config: &Config) -> anyhow::Result<Self> { ... }
//!     fn router(self, _: &Config, _: SocketAddr) -> Router { routes::router(self) }
//!     async fn down(&self) -> Option<String> { ... }
//!     async fn close(self) { self.pool.close().await }
//! }
//! // main.rs
//! fn main() -> ExitCode { hub_runtime::service::run::<connected::Connected>() }
//! ```

use std::{future::Future, net::SocketAddr, pin::Pin, process::ExitCode, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{ConfigError, Env, ProcessEnv, Vars},
    http::{self, ErrorRenderer, HealthBody, HttpConfig, JsonError, KeyOrder},
    shutdown, telemetry,
};

/// A background task of a service (outbox relay, consumer, pruning): it watches the
/// shutdown token it was given and returns after finishing the item in hand.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A background [`Task`] that runs `work` every `period` until `shutdown` (first run
/// after one period). `work` must be safe on any number of instances at once (an
/// idempotent clean-up, say): every instance runs it.
pub fn every<F, Fut>(period: Duration, shutdown: CancellationToken, mut work: F) -> Task
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::pin(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(period) => {}
            }
            work().await;
        }
    })
}

/// A service's own configuration, read once from the environment at start-up; the
/// shared HTTP settings are the skeleton's ([`Settings`]).
pub trait ServiceConfig: Sized + Send + Sync + 'static {
    /// Reads every setting from `vars`; an error names the variable.
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError>;

    /// The default of `MAX_BODY_BYTES`, the largest request body the service reads:
    /// 64 KiB unless the service says otherwise (from its settings, if it must).
    fn default_body_limit(&self) -> usize {
        64 * 1024
    }

    /// Reads from any variable source (tests pass a map) as [`Settings::from_source`]
    /// does, without the HTTP settings.
    fn from_source(env: &dyn Env) -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::new(env))
    }
}

/// Everything a service reads at start-up: the shared HTTP settings ([`HttpConfig`]:
/// `PORT`, `HOST`, `MAX_BODY_BYTES`, CORS, timeouts, drain) and its own, each its own
/// field (`settings.service.db`, never `settings.db`: no `Deref` to stand in for
/// inheritance).
#[derive(Debug, Clone)]
pub struct Settings<C> {
    /// The HTTP stack's settings, read after the service's own.
    pub http: HttpConfig,
    /// The service's own settings.
    pub service: C,
}

impl<C: ServiceConfig> Settings<C> {
    /// Reads any variable source (tests pass a map); `port` is the default of `PORT`.
    /// Each secret comes from its variable or a `<NAME>_FILE` file, and the
    /// `.env.example` placeholders are refused, where it is read ([`Vars::secret`]).
    pub fn from_source(env: &dyn Env, port: u16) -> Result<Self, ConfigError> {
        let vars = Vars::new(env);
        let service = C::from_vars(&vars)?;
        let http = HttpConfig::from_vars(&vars, port, service.default_body_limit())?;
        Ok(Self { http, service })
    }
}

/// A service as `services.toml` lists it (name, port, legacy health path, protocol),
/// and how its health paths and framework-made errors answer.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Its folder under `services/`, its package and binary.
    pub name: &'static str,
    /// The historical port, the default of `PORT`.
    pub port: u16,
    /// The legacy health path served besides `/health`.
    pub health_path: &'static str,
    /// How both health paths answer (the original's bodies); JSON for a REST service.
    pub health: HealthBody,
    /// A REST service's error body key (`{"<key>": "..."}`, its error type's
    /// [`JsonError::KEY`]), which the default
    /// [`Service::renderer`] uses; `None` for a SOAP service, which renders Faults.
    pub error_key: Option<&'static str>,
}

impl Entry {
    /// A REST service ported from Flask, whose `jsonify` sorted the keys of its JSON
    /// bodies; `E` is its error type, whose body key framework-made errors share.
    pub const fn flask<E: JsonError>(
        name: &'static str,
        port: u16,
        health_path: &'static str,
    ) -> Self {
        Self::rest(name, port, health_path, KeyOrder::Sorted, E::KEY)
    }

    /// A REST service ported from Express, which kept keys in the order written.
    pub const fn express<E: JsonError>(
        name: &'static str,
        port: u16,
        health_path: &'static str,
    ) -> Self {
        Self::rest(name, port, health_path, KeyOrder::AsWritten, E::KEY)
    }

    const fn rest(
        name: &'static str,
        port: u16,
        health_path: &'static str,
        order: KeyOrder,
        error_key: &'static str,
    ) -> Self {
        Self {
            name,
            port,
            health_path,
            health: HealthBody::Json(order),
            error_key: Some(error_key),
        }
    }

    /// A service the hub added, with no original and so no legacy health path (e.g.
    /// notifications): its `health_path` is `/health` itself, answered in JSON as the
    /// Express ports answer theirs; errors the framework makes are `{"message": "..."}`.
    pub const fn new_service(name: &'static str, port: u16) -> Self {
        Self {
            name,
            port,
            health_path: "/health",
            health: HealthBody::Json(KeyOrder::AsWritten),
            error_key: Some("message"),
        }
    }

    /// A SOAP service, whose original answered its health paths with fixed texts.
    pub const fn soap(
        name: &'static str,
        port: u16,
        health_path: &'static str,
        health: HealthBody,
    ) -> Self {
        Self {
            name,
            port,
            health_path,
            health,
            error_key: None,
        }
    }
}

/// What makes a service different from the others; the life cycle is [`App`]'s.
///
/// It is implemented on the service's state, what its handlers share (cheap handles:
/// pools, clients, settings): a service is built from its configuration
/// ([`connect`](Self::connect)), turned into routes, checked, and closed.
pub trait Service: Clone + Send + Sync + 'static {
    /// Its entry in `services.toml` (checked against it by `tests/tests/it/registry.rs`).
    const ENTRY: Entry;
    /// `ENTRY.name`: its folder, its package, the `service` field of its logs.
    const NAME: &'static str = Self::ENTRY.name;
    /// `ENTRY.port`: the historical port, the default of `PORT`.
    const PORT: u16 = Self::ENTRY.port;
    /// Its configuration.
    type Config: ServiceConfig;

    /// How errors the service did not render itself (404, 405, 413, timeouts, panics)
    /// are rendered: by default `{"<ENTRY.error_key>": "..."}` (`message` when none is
    /// set); the SOAP services answer SOAP Faults instead.
    fn renderer() -> ErrorRenderer {
        http::json_renderer(Self::ENTRY.error_key.unwrap_or("message"))
    }

    /// Connects to what the service needs (waiting up to each start-up timeout) and
    /// builds the state.
    fn connect(config: &Self::Config) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Every route of the service, with this state applied. `local` is the bound address
    /// (the SOAP services' last resort for the address in their WSDL).
    fn router(self, config: &Self::Config, local: SocketAddr) -> Router;

    /// Background tasks started beside the server; each watches `shutdown`.
    fn tasks(&self, _config: &Self::Config, _shutdown: &CancellationToken) -> Vec<Task> {
        Vec::new()
    }

    /// What is down, if anything: `Some(what)` while a backing server the service needs
    /// to answer requests is unreachable (the check logs why, once), as [`unavailable`]
    /// words it. `GET /readyz` and both health paths run this check. Nothing to check
    /// by default.
    fn down(&self) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }

    /// Closes the clients once requests and tasks are done.
    fn close(self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// What [`Service::down`] answers from its checks, each a backing server's name and
/// whether it answered (the check logs its own failure): `None` when all answered,
/// else the names of those that did not, in the order given, as
/// `"PostgreSQL and MongoDB unavailable"`.
pub fn unavailable(checks: &[(&str, bool)]) -> Option<String> {
    let down: Vec<&str> = checks
        .iter()
        .filter(|(_, answered)| !answered)
        .map(|(name, _)| *name)
        .collect();
    let (last, rest) = down.split_last()?;
    Some(if rest.is_empty() {
        format!("{last} unavailable")
    } else {
        format!("{} and {last} unavailable", rest.join(", "))
    })
}

/// A built service: dependencies reached, listener bound, not yet serving.
pub struct App<S: Service> {
    listener: TcpListener,
    router: Router,
    state: S,
    settings: Settings<S::Config>,
}

impl<S: Service> App<S> {
    /// Builds the state (waiting for the backing servers up to their start-up
    /// timeouts), then binds the listener and wraps the routes in the shared HTTP layers.
    /// Binding last: until the service can serve, connections are refused (a load
    /// balancer or probe moves on at once) rather than queued unanswered.
    pub async fn build(settings: Settings<S::Config>) -> anyhow::Result<Self> {
        let state = S::connect(&settings.service).await?;
        let addr = settings.http.addr;
        let listener = http::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let router = router(&state, &settings, listener.local_addr()?);
        crate::metrics::set_build_info(S::NAME);
        Ok(Self {
            listener,
            router,
            state,
            settings,
        })
    }

    /// The address actually bound (the real port when `PORT=0`).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves requests and runs the background tasks until `shutdown` is cancelled, then
    /// drains requests, waits for the tasks to finish the item in hand, closes the clients.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tasks = self
            .state
            .tasks(&self.settings.service, &shutdown)
            .into_iter()
            .map(tokio::spawn)
            .collect();
        let served = serve(
            S::NAME,
            self.listener,
            self.router,
            shutdown,
            &self.settings.http,
            tasks,
        )
        .await;
        self.state.close().await;
        tracing::info!(service = S::NAME, "shutdown complete");
        served
    }
}

/// Every route of `state`'s service as [`App::build`] serves it: its own routes, the
/// probes and the shared HTTP layers, as if bound to `local`. Also for driving a service
/// in-process without a listener (`hub-icount`, bench/README.md: requests go straight to
/// the router with `tower::ServiceExt::oneshot`).
pub fn router<S: Service>(state: &S, settings: &Settings<S::Config>, local: SocketAddr) -> Router {
    let routes = state.clone().router(&settings.service, local);
    http::wrap(probes::<S>(routes, state), &settings.http, S::renderer())
}

/// The probes every service answers the same way, all from [`Service::down`]:
/// `GET /livez`: 200 `{"status":"alive"}` whenever the process serves, checking nothing
/// (a liveness probe must not restart pods because a database is down). `GET /readyz`:
/// 200 `{"status":"ready"}`, else 503 `{"status":"unready","error":<what is down>}`
/// (take the instance out of rotation). `GET /health` and the entry's `health_path`: the
/// original's answer (the entry's `health`).
fn probes<S: Service>(routes: Router, state: &S) -> Router {
    use axum::{Json, extract::State, http::StatusCode, response::IntoResponse, routing::get};
    let health = get(|State(state): State<S>| async move {
        S::ENTRY.health.render(state.down().await.as_deref())
    });
    let ready = get(|State(state): State<S>| async move {
        match state.down().await {
            None => Json(serde_json::json!({ "status": "ready" })).into_response(),
            Some(down) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unready", "error": down })),
            )
                .into_response(),
        }
    });
    let mut probes = Router::new()
        .route(
            "/livez",
            get(|| async { Json(serde_json::json!({ "status": "alive" })) }),
        )
        .route("/readyz", ready)
        .route("/health", health.clone());
    // A service without a legacy path names `/health` itself (`Entry::new_service`).
    if S::ENTRY.health_path != "/health" {
        probes = probes.route(S::ENTRY.health_path, health);
    }
    let probes = probes.with_state(state.clone());
    routes.merge(probes)
}

/// A service's whole `main()`: the async runtime, telemetry, configuration (a bad value
/// exits 2 with a message that names the variable), SIGINT/SIGTERM handling, then the
/// service until it returns (exit 0) or fails (exit 1, the cause chain logged).
pub fn run<S: Service>() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", S::NAME);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        telemetry::init(telemetry::LogFormat::from_env(), S::NAME);
        let settings = match Settings::from_source(&ProcessEnv, S::PORT) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(service = S::NAME, error = %e, "invalid configuration");
                return ExitCode::from(2);
            }
        };
        let token = CancellationToken::new();
        tokio::spawn(shutdown::cancel_on_signal(token.clone()));
        let result = match App::<S>::build(settings).await {
            Ok(app) => app.run(token).await,
            Err(e) => Err(e),
        };
        // The last spans (the drain's included) go out before the process ends.
        tokio::task::spawn_blocking(hub_trace::shutdown).await.ok();
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(
                    service = S::NAME,
                    error = format!("{e:#}"),
                    "stopped with an error"
                );
                ExitCode::FAILURE
            }
        }
    })
}

/// Serves `router` until `shutdown` is cancelled (in-flight requests get the drain time),
/// then waits for the `background` tasks, which watch the same token.
async fn serve(
    name: &str,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    http: &HttpConfig,
    background: Vec<JoinHandle<()>>,
) -> anyhow::Result<()> {
    tracing::info!(service = name, addr = %listener.local_addr()?, "listening");
    let served = http::serve(
        listener,
        router,
        shutdown.clone(),
        http.drain_timeout,
        http.connections.clone(),
    )
    .await;
    shutdown.cancel();
    for task in background {
        if task.await.is_err() {
            tracing::error!(service = name, "background task panicked");
        }
    }
    served.context("HTTP server failed")
}

#[cfg(test)]
mod tests {
    use super::unavailable;

    #[test]
    fn unavailable_names_what_did_not_answer_in_the_order_given() {
        assert_eq!(unavailable(&[]), None);
        assert_eq!(
            unavailable(&[("PostgreSQL", true), ("MongoDB", true)]),
            None
        );
        assert_eq!(
            unavailable(&[("database", false)]).as_deref(),
            Some("database unavailable")
        );
        assert_eq!(
            unavailable(&[("PostgreSQL", true), ("MongoDB", false)]).as_deref(),
            Some("MongoDB unavailable")
        );
        assert_eq!(
            unavailable(&[("MongoDB", false), ("PostgreSQL", false)]).as_deref(),
            Some("MongoDB and PostgreSQL unavailable")
        );
        assert_eq!(
            unavailable(&[("A", false), ("B", true), ("C", false), ("D", false)]).as_deref(),
            Some("A, C and D unavailable")
        );
    }
}
