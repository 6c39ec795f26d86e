//! The server loop: accepting connections within a bound, serving them with a bound on
//! how long request headers may take, and draining on shutdown.
//!
//! `axum::serve` has neither bound: a client trickling a header byte by byte held its
//! connection (and a file descriptor) for as long as it liked, and connections were
//! accepted until the process ran out of descriptors. Here:
//! * `HEADER_READ_TIMEOUT_SECS` (default 30): a connection whose request headers have
//!   not all arrived within it is closed (hyper's HTTP/1 header timeout, which also
//!   closes a keep-alive connection idle that long);
//! * `MAX_CONNECTIONS` (default 10 000, below the usual descriptor limits): at the
//!   bound, the server stops accepting until a connection closes; new clients wait in
//!   the kernel's backlog instead of taking descriptors the service needs for its
//!   backing servers.

use std::{convert::Infallible, sync::Arc, time::Duration};

#[cfg(test)]
use std::net::SocketAddr;

use axum::{Router, body::Body, extract::ConnectInfo, extract::Request, serve::Listener};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Connection-level bounds (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `HEADER_READ_TIMEOUT_SECS`.
    pub header_read_timeout: Duration,
    /// `MAX_CONNECTIONS`.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets in-flight
/// requests finish for at most `drain`. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    mut listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    drain: Duration,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();

    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
        };
        // `Listener::accept` retries transient accept errors (EMFILE, ECONNABORTED)
        // itself, after a pause.
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = Listener::accept(&mut listener) => accepted,
        };
        let service = app
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            })
            .map_err(|e: Infallible| match e {});
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }

    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(drain_secs = drain.as_secs(), "drain bound reached, closing remaining connections");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Instant;

    use axum::routing::get;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };

    use super::*;

    /// A server on port 0 answering `GET /` with `ok`, with these limits; stopped when
    /// the guard drops.
    async fn start(
        header_read_timeout: Duration,
        max_connections: usize,
    ) -> (SocketAddr, tokio_util::sync::DropGuard) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let app = Router::new().route("/", get(|| async { "ok" }));
        tokio::spawn(serve(
            listener,
            app,
            shutdown.clone(),
            Duration::from_secs(1),
            ConnectionLimits {
                header_read_timeout,
                max_connections,
            },
        ));
        (addr, shutdown.drop_guard())
    }

    /// Reads until the server closes the connection or `within` passes; `Some(bytes)`
    /// if it closed.
    async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
        let mut all = Vec::new();
        let read = async {
            let mut buf = [0u8; 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(within, read).await.ok()?;
        Some(all)
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

    /// Asserts that the request already written on `stream` gets a 200 and the
    /// connection closes (it asked for `Connection: close`) within 5 s.
    async fn assert_served(stream: &mut TcpStream) {
        let body = closed_within(stream, Duration::from_secs(5))
            .await
            .expect("the connection stayed open");
        assert!(
            body.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    #[tokio::test]
    async fn a_client_trickling_its_headers_is_cut_off_at_the_bound() {
        let (addr, _server) = start(Duration::from_secs(1), 10).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        let started = Instant::now();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
            .await
            .unwrap();
        // One header byte every 100 ms: each arrives well within any per-read timeout.
        let trickle = async {
            for _ in 0..100 {
                if slow.write_all(b"X").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), trickle)
            .await
            .unwrap_or(());
        let response = closed_within(&mut slow, Duration::from_secs(5)).await;
        assert!(
            response.is_some(),
            "still open after {:?}",
            started.elapsed()
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "closed only after {:?}",
            started.elapsed()
        );

        // A normal client is served as before.
        let mut ok = TcpStream::connect(addr).await.unwrap();
        ok.write_all(GET).await.unwrap();
        assert_served(&mut ok).await;
    }

    #[tokio::test]
    async fn at_the_connection_bound_new_clients_wait_until_one_closes() {
        let (addr, _server) = start(Duration::from_secs(30), 2).await;
        let idle: Vec<TcpStream> = vec![
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        // The kernel completes the handshake (backlog), but nobody serves it yet.
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(GET).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(500), third.read_u8()).await;
        assert!(waiting.is_err(), "served beyond the bound: {waiting:?}");
        drop(idle);
        assert_served(&mut third).await;
    }
}
