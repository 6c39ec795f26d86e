//! A TCP relay in front of a backing server, that a test cuts.

use std::net::SocketAddr;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A TCP relay in front of a backing server, that a test cuts: the server goes away for
/// whatever connects through the relay (one service's pool), while the shared server
/// stays up for every other test. Cheaper than [`Down`], and safe in parallel.
pub struct TcpRelay {
    addr: SocketAddr,
    cut: CancellationToken,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl TcpRelay {
    /// Relays a new local port to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = CancellationToken::new();
        let (target, stop) = (target.to_owned(), cut.clone());
        let task = tokio::spawn(async move {
            let mut relayed = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { continue };
                        let target = target.clone();
                        relayed.spawn(async move {
                            if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                    }
                }
            }
            // The listener goes with this task (new connections are refused), and every
            // relayed connection is dropped (reset).
            relayed.shutdown().await;
        });
        Self {
            addr,
            cut,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// A relay to the server of `url` (`scheme://[user:password@]host:port/...`), and
    /// `url` through it.
    pub async fn for_url(url: &str) -> (Self, String) {
        let (head, authority, path) = split_url(url);
        let relay = Self::start(authority).await;
        let through = format!("{head}{}{path}", relay.addr);
        (relay, through)
    }

    /// The relay's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the relay and every connection through it; returns once the port refuses
    /// connections.
    pub async fn cut(&self) {
        self.cut.cancel();
        if let Some(task) = self.task.lock().await.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.cut.cancel();
    }
}

/// `url` as (scheme and credentials, `host:port`, path and query).
fn split_url(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").expect("a URL with a scheme") + 3;
    let start = url[start..].find('@').map_or(start, |at| start + at + 1);
    let end = url[start..].find('/').map_or(url.len(), |at| start + at);
    (&url[..start], &url[start..end], &url[end..])
}
