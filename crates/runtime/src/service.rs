//! The parts of a service's `main()` and `App::run` that every service shares.

use std::{fmt::Display, future::Future, process::ExitCode, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{http, shutdown, telemetry};

/// A whole `main()`: telemetry, configuration (a bad value exits 2 with a message that
/// names the variable), SIGINT/SIGTERM handling, then `run` until it returns (exit 0)
/// or fails (exit 1, the cause chain logged).
pub async fn main<C, E, F, Fut>(
    name: &str,
    config: impl FnOnce() -> Result<C, E>,
    run: F,
) -> ExitCode
where
    E: Display,
    F: FnOnce(C, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    telemetry::init(telemetry::LogFormat::from_env());
    let config = match config() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(service = name, error = %e, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let token = CancellationToken::new();
    tokio::spawn(shutdown::cancel_on_signal(token.clone()));
    match run(config, token).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(
                service = name,
                error = format!("{e:#}"),
                "stopped with an error"
            );
            ExitCode::FAILURE
        }
    }
}

/// Serves `router` until `shutdown` is cancelled (in-flight requests get `drain`),
/// then waits for the `background` tasks, which watch the same token (outbox relay,
/// consumers) and finish the item in hand.
pub async fn serve(
    name: &str,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    drain: Duration,
    background: Vec<JoinHandle<()>>,
) -> anyhow::Result<()> {
    tracing::info!(service = name, addr = %listener.local_addr()?, "listening");
    let served = http::serve(listener, router, shutdown.clone(), drain).await;
    shutdown.cancel();
    for task in background {
        if task.await.is_err() {
            tracing::error!(service = name, "background task panicked");
        }
    }
    served.context("HTTP server failed")
}
