//! connected's requests only the `it` binary uses ([`ConnectedHelpers`]), and a TCP
//! forwarder the tests cut; the harness and what the `faults` binary shares are in
//! `harness.rs`.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
pub use hub_testkit::json_body;
use mongodb::bson;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::harness::harness;
pub use crate::harness::{ConnectedApp, TestApp, date, session};

/// connected's assertions on its answers, and an instance on a given database.
pub trait ConnectedHelpers {
    /// Starts the service on the database at `db_url`, which the test's own helpers
    /// use directly (`extra` may point the service elsewhere, e.g. through a [`Cut`]).
    async fn spawn_on(db_url: String, extra: &[(&str, &str)]) -> TestApp;
    /// `last_connection(username)` answers 404 `{"error": message}`.
    async fn assert_404(&self, username: &str, message: &str);
    /// `GET /last-connection<query>` answers 400 `{"error": message}`.
    async fn assert_400(&self, query: &str, message: &str);
}

impl ConnectedHelpers for TestApp {
    async fn spawn_on(db_url: String, extra: &[(&str, &str)]) -> TestApp {
        harness().on_database(db_url).spawn(extra).await
    }

    async fn assert_404(&self, username: &str, message: &str) {
        let (status, body) = self.last_connection(username).await;
        assert_eq!(status, 404, "{username:?}");
        assert_eq!(body, json!({ "error": message }), "{username:?}");
    }

    async fn assert_400(&self, query: &str, message: &str) {
        let path = format!("/last-connection{query}");
        let (status, body) = json_body(self.get(&path).await).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body, json!({ "error": message }), "{path}");
    }
}

/// The same instant as RFC 3339 with milliseconds, as the service writes it.
pub fn rfc3339(d: bson::DateTime) -> String {
    DateTime::<Utc>::from_timestamp_millis(d.timestamp_millis())
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A TCP forwarder to a real server that a test can cut and restore, so the service
/// sees that server go away without stopping the shared one (which other tests use).
pub struct Cut {
    pub port: u16,
    target: SocketAddr,
    stop: CancellationToken,
}

impl Cut {
    /// Forwards a fresh local port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        Self::listen(target, 0).await
    }

    async fn listen(target: SocketAddr, port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => accepted.unwrap(),
                };
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Self { port, target, stop }
    }

    /// Closes the port and every connection through it (like a server that died).
    pub fn cut(&self) {
        self.stop.cancel();
    }

    /// Forwards the same port again (like the server coming back).
    pub async fn restore(self) -> Self {
        Self::listen(self.target, self.port).await
    }
}

/// `url` with its `host:port` replaced by `127.0.0.1:<port>`, and the original address.
pub fn via_local_port(url: &str, port: u16) -> (String, SocketAddr) {
    let at = url.find('@').unwrap() + 1;
    let end = at + url[at..].find('/').unwrap();
    let target = std::net::ToSocketAddrs::to_socket_addrs(&url[at..end])
        .unwrap()
        .next()
        .unwrap();
    (
        format!("{}127.0.0.1:{port}{}", &url[..at], &url[end..]),
        target,
    )
}
