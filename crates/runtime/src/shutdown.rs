//! Graceful shutdown: SIGINT/SIGTERM → a cancellation token every task watches.
//!
//! The HTTP server stops accepting, drains in-flight requests within a bound, then
//! background tasks (outbox relay, consumers) finish the item in hand and return.

use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGINT or SIGTERM, or when `token` is cancelled
/// some other way (tests do that). Spawn it once per process.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
        () = token.cancelled() => return,
    }
    token.cancel();
}
