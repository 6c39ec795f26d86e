//! The server loop: accepting connections within bounds, closing every connection that
//! has nothing to do, and draining on shutdown.
//!
//! `axum::serve` bounds nothing: a client trickling a header byte by byte, or sending
//! nothing at all, held its connection (and a file descriptor) for as long as it liked,
//! and connections were accepted until the process ran out of descriptors. Here every
//! connection is bounded in time from the moment it is accepted, whatever its protocol:
//! * `HEADER_READ_TIMEOUT_SECS` (default 30): a connection with no request in flight for
//!   that long is closed. That covers a socket that never sends a byte (the HTTP/1 vs
//!   HTTP/2 detection has no deadline of its own), a keep-alive connection idle between
//!   requests, an HTTP/2 connection idle after its preface or its last stream, and
//!   request headers that have not all arrived (hyper's own HTTP/1 header timeout is
//!   set to the same bound). A request in flight is bounded by `REQUEST_TIMEOUT_SECS`;
//!   its connection counts as busy until the response body is sent.
//! * HTTP/2 keep-alive: while streams are open, the peer is PINGed every
//!   `HEADER_READ_TIMEOUT_SECS` and a peer that does not answer within 20 s is dropped.
//! * `MAX_CONNECTIONS` (default 10 000, below the usual descriptor limits): at the bound,
//!   the server stops accepting until a connection closes; new clients wait in the
//!   kernel's backlog instead of taking descriptors the service needs for its backing
//!   servers.
//! * `MAX_CONNECTIONS_PER_CLIENT` (default half of `MAX_CONNECTIONS`, at most 256): each
//!   client (its peer address at accept; IPv6 by its `CLIENT_IPV6_PREFIX`, a /64 by
//!   default) holds at most that many connections at once; one more is closed at accept
//!   (`http_connections_refused_total{reason="client_share"}`). So one host cannot take
//!   the whole process. The proxies in `TRUSTED_PROXIES`, which carry many clients'
//!   connections, are exempt: only `MAX_CONNECTIONS` bounds them.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::IpAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Request},
    serve::Listener,
};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use ipnet::IpNet;
use tokio::{net::TcpListener, sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::client_ip::ProxyTrust;

/// How long an HTTP/2 peer may take to answer a keep-alive PING.
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a connection closed for idleness may take to say goodbye (an HTTP/2 GOAWAY)
/// before it is dropped.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The default of `MAX_CONNECTIONS_PER_CLIENT`: half of `MAX_CONNECTIONS`, so that one
/// client always leaves room for others, and at most 256, far above what a browser
/// (6 per host), the benchmark (32) or the chaos run opens from one address.
pub fn default_per_client(max_connections: usize) -> usize {
    (max_connections / 2).clamp(1, 256)
}

/// Connection-level bounds (see the module docs).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// `HEADER_READ_TIMEOUT_SECS`: the longest a connection may have no request in flight.
    pub header_read_timeout: Duration,
    /// `MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_CLIENT`.
    pub max_per_client: usize,
    /// Who counts as one client, and which peers are exempt (`TRUSTED_PROXIES`).
    pub clients: ProxyTrust,
}

/// HELP text of the metric the server loop records.
pub(super) fn describe() {
    metrics::describe_counter!(
        "http_connections_refused_total",
        "Connections closed at accept, by reason (client_share: the client held its MAX_CONNECTIONS_PER_CLIENT)."
    );
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
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    let max = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let permits = Arc::new(tokio::sync::Semaphore::new(max as usize));
    let shares = Arc::new(Shares {
        per_client: limits.max_per_client.max(1),
        clients: limits.clients.clone(),
        held: Mutex::new(HashMap::new()),
    });

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
        let Some(share) = shares.take(peer.ip()) else {
            metrics::counter!("http_connections_refused_total", "reason" => "client_share")
                .increment(1);
            tracing::debug!(peer = %peer.ip(), "client at its connection share, connection closed");
            continue; // drops the stream and the permit
        };
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            let app = app.clone();
            hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let busy = Busy::begin(&activity);
                req.extensions_mut().insert(ConnectInfo(peer));
                let answer = app.clone().oneshot(req.map(Body::new));
                async move {
                    let response = answer.await?;
                    Ok::<_, Infallible>(
                        response.map(|body| Body::new(BusyBody { body, _busy: busy })),
                    )
                }
            })
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let shutdown = shutdown.clone();
        let idle_bound = limits.header_read_timeout;
        tokio::spawn(async move {
            let _held = (permit, share);
            let mut connection = std::pin::pin!(connection);
            let grace = tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(e) = ended {
                        tracing::trace!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = shutdown.cancelled() => drain,
                () = activity.idle_for(idle_bound) => IDLE_CLOSE_GRACE,
            };
            connection.as_mut().graceful_shutdown();
            // Whatever is still running after its grace is cut off with the connection.
            let _ = tokio::time::timeout(grace, connection).await;
        });
    }

    // Every connection holds a permit until it has closed: all of them back means all
    // connections drained.
    if tokio::time::timeout(drain, permits.acquire_many(max))
        .await
        .is_err()
    {
        tracing::warn!(
            drain_secs = drain.as_secs(),
            "drain bound reached, closing remaining connections"
        );
    }
    Ok(())
}

/// The connections each client holds now (only clients holding one or more).
struct Shares {
    per_client: usize,
    clients: ProxyTrust,
    held: Mutex<HashMap<IpNet, usize>>,
}

/// One connection of a client's share; gives it back when dropped.
struct Share {
    shares: Arc<Shares>,
    /// `None` for a trusted proxy, which is exempt.
    client: Option<IpNet>,
}

impl Shares {
    /// A share for a connection from `peer`, or `None` if its client holds all of its own.
    fn take(self: &Arc<Self>, peer: IpAddr) -> Option<Share> {
        if self.clients.is_trusted_proxy(peer) {
            return Some(Share {
                shares: self.clone(),
                client: None,
            });
        }
        let client = self.clients.client_key(peer);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(Share {
            shares: self.clone(),
            client: Some(client),
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let Some(client) = self.client else { return };
        let mut held = self
            .shares
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&client);
            }
        }
    }
}

/// What a connection is doing: how many of its requests are in flight, and since when
/// it has had none.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the moment the last request finished.
    idle_since_ms: AtomicU64,
    /// Woken when the last request in flight finishes.
    went_idle: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            went_idle: Notify::new(),
        }
    }

    /// When the connection, idle since the last request finished, reaches `bound`.
    fn deadline(&self, bound: Duration) -> Instant {
        self.opened + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire)) + bound
    }

    /// Returns once the connection has had no request in flight for `bound`.
    async fn idle_for(&self, bound: Duration) {
        loop {
            if self.in_flight.load(Ordering::Acquire) > 0 {
                // A wake-up stored by an earlier finish may end this early; the loop
                // then looks again.
                self.went_idle.notified().await;
                continue;
            }
            let deadline = self.deadline(bound);
            tokio::time::sleep_until(deadline).await;
            if self.in_flight.load(Ordering::Acquire) == 0 && self.deadline(bound) <= Instant::now()
            {
                return;
            }
        }
    }
}

/// One request of a connection, from its headers until its response body is sent.
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        let since = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_since_ms.store(since, Ordering::Release);
        if activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.went_idle.notify_one();
        }
    }
}

/// A response body that keeps its request counted as in flight until it is sent (or
/// dropped).
struct BusyBody {
    body: Body,
    _busy: Busy,
}

impl HttpBody for BusyBody {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::{net::SocketAddr, time::Instant};

    use axum::routing::get;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };

    use super::*;

    /// A server on port 0 answering `GET /` with `ok` (and `GET /slow` after 1.5 s), with
    /// these limits and no per-client share below the cap; stopped when the guard drops.
    async fn start(
        header_read_timeout: Duration,
        max_connections: usize,
    ) -> (SocketAddr, tokio_util::sync::DropGuard) {
        start_with(ConnectionLimits {
            header_read_timeout,
            max_connections,
            max_per_client: max_connections,
            clients: ProxyTrust::default(),
        })
        .await
    }

    async fn start_with(limits: ConnectionLimits) -> (SocketAddr, tokio_util::sync::DropGuard) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let app = Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                // The work of a slow handler, not a synchronisation.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        );
        tokio::spawn(serve(
            listener,
            app,
            shutdown.clone(),
            Duration::from_secs(1),
            limits,
        ));
        (addr, shutdown.drop_guard())
    }

    /// A connection to `addr` from the loopback address `from` (127.0.0.0/8 is all ours).
    async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(addr).await.unwrap()
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

    /// Asserts that the server closes `stream` no sooner than `bound` (less a margin for
    /// timer granularity) and within twice the bound; returns what it sent.
    async fn assert_closed_at_the_bound(stream: &mut TcpStream, bound: Duration) -> Vec<u8> {
        let started = Instant::now();
        let sent = closed_within(stream, bound * 2 + Duration::from_secs(1))
            .await
            .unwrap_or_else(|| panic!("still open after {:?}", started.elapsed()));
        assert!(
            started.elapsed() >= bound - Duration::from_millis(100),
            "closed after only {:?}",
            started.elapsed()
        );
        sent
    }

    #[tokio::test]
    async fn a_connection_that_never_sends_a_byte_is_closed_at_the_bound() {
        let bound = Duration::from_secs(1);
        let (addr, _server) = start(bound, 10).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let sent = assert_closed_at_the_bound(&mut silent, bound).await;
        assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    }

    #[tokio::test]
    async fn a_keep_alive_connection_idle_after_its_request_is_closed_at_the_bound() {
        let bound = Duration::from_secs(1);
        let (addr, _server) = start(bound, 10).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let sent = assert_closed_at_the_bound(&mut client, bound).await;
        assert!(sent.starts_with(b"HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn a_request_in_flight_outlives_the_idle_bound() {
        let (addr, _server) = start(Duration::from_secs(1), 10).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let body = closed_within(&mut client, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            body.starts_with(b"HTTP/1.1 200") && body.ends_with(b"slow"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    /// The HTTP/2 connection preface and an empty SETTINGS frame (prior knowledge, h2c).
    const H2_PREFACE: &[u8] =
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

    /// The HTTP/2 frames in `bytes`, as (type, stream id).
    fn h2_frames(mut bytes: &[u8]) -> Vec<(u8, u32)> {
        let mut frames = Vec::new();
        while bytes.len() >= 9 {
            let len =
                usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
            let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
            frames.push((bytes[3], stream));
            bytes = &bytes[(9 + len).min(bytes.len())..];
        }
        frames
    }

    const SETTINGS: u8 = 0x4;
    const HEADERS: u8 = 0x1;
    const GOAWAY: u8 = 0x7;

    #[tokio::test]
    async fn an_http2_connection_idle_after_its_preface_is_closed_at_the_bound() {
        let bound = Duration::from_secs(1);
        let (addr, _server) = start(bound, 10).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(H2_PREFACE).await.unwrap();
        let frames = h2_frames(&assert_closed_at_the_bound(&mut client, bound).await);
        assert_eq!(frames.first(), Some(&(SETTINGS, 0)), "{frames:?}");
        assert!(
            frames.contains(&(GOAWAY, 0)),
            "closed without GOAWAY: {frames:?}"
        );
    }

    #[tokio::test]
    async fn an_http2_connection_idle_after_one_request_is_closed_at_the_bound() {
        let bound = Duration::from_secs(1);
        let (addr, _server) = start(bound, 10).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut request = H2_PREFACE.to_vec();
        // HEADERS on stream 1, END_STREAM | END_HEADERS: `:method GET`, `:scheme http`,
        // `:path /` (HPACK static table entries 2, 6 and 4).
        request.extend_from_slice(&[0, 0, 3, HEADERS, 0x5, 0, 0, 0, 1, 0x82, 0x86, 0x84]);
        client.write_all(&request).await.unwrap();
        let frames = h2_frames(&assert_closed_at_the_bound(&mut client, bound).await);
        assert!(frames.contains(&(HEADERS, 1)), "no response: {frames:?}");
    }

    #[tokio::test]
    async fn one_client_at_its_share_leaves_another_client_answered_at_once() {
        let max_connections = 50;
        let share = default_per_client(max_connections);
        let (addr, _server) = start_with(ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            max_connections,
            max_per_client: share,
            clients: ProxyTrust::default(),
        })
        .await;
        // One client opens as many silent connections as the whole cap.
        let mut hog = Vec::new();
        for _ in 0..max_connections {
            hog.push(connect_from("127.0.0.1", addr).await);
        }
        // Beyond its share, its connections are closed at accept (not at the 30 s bound).
        let mut closed = 0;
        for stream in &mut hog {
            if closed_within(stream, Duration::from_millis(200))
                .await
                .is_some()
            {
                closed += 1;
            }
        }
        assert_eq!(closed, max_connections - share);

        // Another client is answered at once.
        let started = Instant::now();
        let mut other = connect_from("127.0.0.2", addr).await;
        other.write_all(GET).await.unwrap();
        assert_served(&mut other).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "answered after {:?}",
            started.elapsed()
        );
        // The hog's share comes back as its connections close.
        hog.clear();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut again = connect_from("127.0.0.1", addr).await;
            again.write_all(GET).await.unwrap();
            if let Some(body) = closed_within(&mut again, Duration::from_secs(2)).await
                && body.starts_with(b"HTTP/1.1 200")
            {
                break;
            }
            assert!(Instant::now() < deadline, "the share never came back");
        }
    }

    #[tokio::test]
    async fn trusted_proxies_are_exempt_from_the_share() {
        let trust = ProxyTrust::from_vars(&crate::config::Vars::new(&hub_config::fixed(&[(
            "TRUSTED_PROXIES",
            "127.0.0.1",
        )])))
        .unwrap();
        let (addr, _server) = start_with(ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 50,
            max_per_client: 2,
            clients: trust,
        })
        .await;
        let mut proxy = Vec::new();
        for _ in 0..10 {
            proxy.push(connect_from("127.0.0.1", addr).await);
        }
        let mut last = connect_from("127.0.0.1", addr).await;
        last.write_all(GET).await.unwrap();
        assert_served(&mut last).await;
        // Another address is held to its share of 2.
        let _a = connect_from("127.0.0.3", addr).await;
        let _b = connect_from("127.0.0.3", addr).await;
        let mut third = connect_from("127.0.0.3", addr).await;
        assert!(
            closed_within(&mut third, Duration::from_secs(2))
                .await
                .is_some(),
            "a third connection from one client stayed open"
        );
    }

    #[test]
    fn an_ipv6_client_is_one_share_across_its_prefix() {
        let shares = Arc::new(Shares {
            per_client: 2,
            clients: ProxyTrust::default(),
            held: Mutex::new(HashMap::new()),
        });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = shares.take(ip("2001:db8:1:2::1")).unwrap();
        let b = shares.take(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(shares.take(ip("2001:db8:1:2:1234::5")).is_none());
        // Another /64 has its own share.
        let _c = shares.take(ip("2001:db8:1:3::1")).unwrap();
        drop(a);
        let _d = shares.take(ip("2001:db8:1:2::77")).unwrap();
        drop(b);
        assert!(shares.held.lock().unwrap().len() == 2);
    }

    #[test]
    fn the_default_share_leaves_room_and_stays_above_the_load_runs() {
        assert_eq!(default_per_client(10_000), 256);
        assert_eq!(default_per_client(50), 25);
        assert_eq!(default_per_client(1), 1);
    }
}
