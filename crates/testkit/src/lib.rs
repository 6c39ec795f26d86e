//! Test support for the services' integration tests. Never a dependency of a service.
//!
//! Every test gets its own database ([`create_database`]) and queue names, against the
//! real servers that `scripts/backing.sh` starts, so tests run in parallel. Waiting is
//! always polling with a deadline, never a sleep standing in for synchronisation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    fmt::Display,
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use hub_runtime::{
    config::Env,
    service::{App, Service, Settings},
};
use lapin::{
    Channel, Connection, ConnectionProperties,
    options::{BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};
use serde_json::Value;
use sqlx::{Connection as _, PgConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub mod snapshot;
pub mod soap;

/// A required environment variable, with a hint when it is missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh (it starts the backing servers)")
    })
}

/// The broker URL (`AMQP_URL`, default the local guest account).
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A service's settings for one test: `base`, overridden by `extra`, read the way the
/// services read their environment (`Settings::from_source`).
pub fn config_source(
    base: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
    hub_runtime::config::fixed(&pairs)
}

/// [`config_source`] for a service started by [`spawn`]: `HOST` 127.0.0.1 and `PORT` 0
/// (a free port), then `base`, then `extra`.
pub fn local_source(
    base: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> impl Fn(&str) -> Option<String> + use<> {
    let local = [("HOST", "127.0.0.1"), ("PORT", "0")];
    let base: Vec<(&str, &str)> = local.iter().chain(base).copied().collect();
    config_source(&base, extra)
}

/// A service's `App::run` on a task of the test's runtime. Dropping it cancels the
/// shutdown token; [`Running::stop`] also waits for `run` to return.
pub struct Running {
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Spawns `run(token)`; the token is cancelled by [`Running::stop`] or on drop.
    pub fn start<F>(run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(run(shutdown.clone()));
        Self {
            shutdown,
            handle: Some(handle),
        }
    }

    /// Cancels the token without waiting.
    pub fn cancel(&self) {
        self.shutdown.cancel();
    }

    /// Cancels the token and waits (at most 15 s) for `run` to return its result.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let handle = self.handle.take().expect("stopped once");
        tokio::time::timeout(Duration::from_secs(15), handle)
            .await
            .expect("shutdown within 15 s")
            .unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs `work` on a runtime of its own, on a thread of its own, and waits for it: async
/// clean-up from a `Drop`, where the test's runtime cannot be awaited on (so `work` makes
/// its own clients). Best effort: if no runtime can be built, nothing runs.
pub fn block_on_own_thread(work: impl Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(work);
        }
    })
    .join();
}

/// A fresh, empty database named `test_<prefix>_<uuid>`; returns its URL.
pub async fn create_database(prefix: &str) -> String {
    let admin = env("DATABASE_URL");
    let name = format!("test_{prefix}_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to the admin database");
    // The name is ours (prefix + UUID), never input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}

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

/// A unique queue name for one test.
pub fn queue_name(prefix: &str) -> String {
    format!("{prefix}-test-{}", Uuid::new_v4().simple())
}

/// Rows of `table` in the database at `db_url` (tables named by tests only).
pub async fn count(db_url: &str, sql: &'static str) -> i64 {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

/// Outbox rows not yet confirmed by the broker.
pub async fn outbox_pending(db_url: &str) -> i64 {
    count(
        db_url,
        "SELECT count(*) FROM outbox WHERE published_at IS NULL",
    )
    .await
}

/// Polls until every outbox row has been confirmed by the broker.
pub async fn wait_outbox_drained(db_url: &str, within: Duration) {
    eventually(within, async || match outbox_pending(db_url).await {
        0 => Ok(()),
        pending => Err(format!("{pending} outbox rows still pending")),
    })
    .await;
}

/// What a probe of [`eventually`] answers: done (with a value) or not yet (with why,
/// when it knows).
pub trait Outcome {
    /// What [`eventually`] returns once the probe is done.
    type Value;
    /// `Ok` when done; `Err` with the reason it is not, if any.
    fn settled(self) -> Result<Self::Value, Option<String>>;
}

impl Outcome for bool {
    type Value = ();
    fn settled(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn settled(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Display> Outcome for Result<T, E> {
    type Value = T;
    fn settled(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(e.to_string()))
    }
}

/// Polls `probe` (every 20 ms) until it answers `true`, `Some(value)` or `Ok(value)` and
/// returns the value; once `within` has passed, panics with the probe's last `Err`.
pub async fn eventually<O: Outcome>(
    within: Duration,
    mut probe: impl AsyncFnMut() -> O,
) -> O::Value {
    let deadline = Instant::now() + within;
    loop {
        match probe().await.settled() {
            Ok(value) => return value,
            Err(why) => assert!(
                Instant::now() < deadline,
                "not settled after {within:?}: {}",
                why.as_deref().unwrap_or("the probe never succeeded")
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A whole HTTP/1.1 `POST path` to `addr`, as raw bytes for [`send_and_hang_up`].
pub fn raw_post(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Sends the whole `request`, waits a random 0 to `max_ms` milliseconds and hangs up
/// without reading the answer, as a client stopped mid-request does: the server drops
/// the handler wherever it is.
pub async fn send_and_hang_up(addr: SocketAddr, request: String, max_ms: u64) {
    use tokio::io::AsyncWriteExt as _;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let wait = u64::try_from(Uuid::new_v4().as_u128() % u128::from(max_ms + 1)).unwrap();
    tokio::time::sleep(Duration::from_millis(wait)).await;
    drop(stream);
}

/// Polls (bounded by `within`) until no other connection to `db`'s database is idle
/// inside a transaction. Work a dropped request left running finishes within
/// milliseconds; a transaction leaked into the pool stays open, since nothing uses
/// its connection any more. `context` goes into the failure message.
pub async fn assert_no_connection_left_in_a_transaction(
    db: &mut PgConnection,
    within: Duration,
    context: &str,
) {
    eventually(within, async || {
        let stuck: Vec<(i32, Option<String>)> = sqlx::query_as(
            "SELECT pid, query FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state LIKE 'idle in transaction%'",
        )
        .fetch_all(&mut *db)
        .await
        .unwrap();
        if stuck.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{context}: sessions left inside a transaction: {stuck:?}"
            ))
        }
    })
    .await;
}

/// A service built and running on the test's runtime, on `127.0.0.1` port 0.
pub struct Spawned {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
    /// A client with a 30 s timeout.
    pub http: reqwest::Client,
    /// `App::run` on a task; dropping it shuts the service down.
    pub running: Running,
}

impl Spawned {
    /// `GET {base}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// `POST {base}{path}`, to be completed and sent.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }

    /// `<method> {base}{path}`, to be completed and sent with [`Go::go`].
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Requests to `route` being served now (the `http_requests_in_flight` gauge).
    pub async fn in_flight(&self, route: &str) -> f64 {
        in_flight(&self.http, &self.base, route).await
    }

    /// Cancels the shutdown token and waits for `App::run` to return.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.running.stop().await
    }
}

/// Sends a request built by the test, failing the test when no response comes back
/// (connection refused, reset, timeout): `app.req(Method::PUT, "/x").header(..).go().await`.
pub trait Go {
    /// `send().await.unwrap()`.
    fn go(self) -> impl Future<Output = reqwest::Response> + Send;
}

impl Go for reqwest::RequestBuilder {
    async fn go(self) -> reqwest::Response {
        self.send().await.unwrap()
    }
}

/// (status, content type, body) of `resp`.
pub async fn parts(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

/// The body of `GET url`, whatever the status.
pub async fn get_text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Requests to `route` the service at `base` is serving now (its
/// `http_requests_in_flight` gauge; 0 when absent).
pub async fn in_flight(http: &reqwest::Client, base: &str, route: &str) -> f64 {
    let needle = format!("http_requests_in_flight{{route=\"{route}\"}} ");
    get_text(http, &format!("{base}/metrics"))
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[doc(hidden)]
pub use anyhow as __anyhow;

/// The common part of a service's test harness `$app`, a struct whose field `service`
/// is a [`Spawned`] and which has `async fn spawn_with(extra: &[(&str, &str)]) -> Self`:
/// `Deref` to the [`Spawned`] (`app.base`, `app.http`, `app.get(path)`, ...),
/// `$app::spawn()` (the test settings as they are) and `app.stop()`.
#[macro_export]
macro_rules! test_app {
    ($app:ident) => {
        impl ::std::ops::Deref for $app {
            type Target = $crate::Spawned;
            fn deref(&self) -> &$crate::Spawned {
                &self.service
            }
        }

        impl $app {
            /// Starts the service with the test settings.
            pub async fn spawn() -> Self {
                Self::spawn_with(&[]).await
            }

            /// Cancels the shutdown token and waits for `App::run` to return.
            pub async fn stop(mut self) -> $crate::__anyhow::Result<()> {
                self.service.stop().await
            }
        }
    };
}

/// Reads `S`'s settings from `source` (which should set `HOST` and `PORT=0`), then
/// [`spawn_config`].
pub async fn spawn<S: Service>(source: impl Env) -> Spawned {
    let settings = Settings::from_source(&source, S::PORT).expect("valid test config");
    spawn_config::<S>(settings).await
}

/// Builds `S` from `settings` (binding its listener, reaching its backing servers) and
/// runs it on the test's runtime.
pub async fn spawn_config<S: Service>(settings: Settings<S::Config>) -> Spawned {
    let app = App::<S>::build(settings).await.expect("app builds");
    let addr = app.local_addr().unwrap();
    let running = Running::start(|token| app.run(token));
    Spawned {
        addr,
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        running,
    }
}

/// Inserts a user in the shared `"user"` table (as user-soap registers one) with a
/// unique DNI and e-mail and an unusable password; returns its id.
pub async fn seed_user(db_url: &str, username: &str) -> Uuid {
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    seed_user_with(db_url, username, &email, "x").await
}

/// A login of `user`, as auth opens one: a `token_family` row, whose id (returned) is
/// the `sid` of the login's tokens.
pub async fn open_login(db_url: &str, user: Uuid) -> Uuid {
    let sid = Uuid::new_v4();
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    sqlx::query(
        "INSERT INTO token_family (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
    )
    .bind(sid)
    .bind(user)
    .execute(&mut conn)
    .await
    .unwrap();
    sid
}

/// Logs the login `sid` out, as auth's `POST /logout` does: its tokens are revoked.
pub async fn log_out(db_url: &str, sid: Uuid) {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    let done = sqlx::query(
        "UPDATE token_family SET revoked_at = clock_timestamp(), revoked_reason = 'logout' WHERE id = $1",
    )
    .bind(sid)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "no login {sid}");
}

/// Changes `user`'s password in the table, as any writer may (an original service
/// included): the migration's trigger then revokes every token the user had.
pub async fn change_password(db_url: &str, user: Uuid) {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    let done = sqlx::query(r#"UPDATE "user" SET password = $2 WHERE id = $1"#)
        .bind(user)
        .bind(format!("changed-{}", Uuid::new_v4().simple()))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "no user {user}");
}

/// [`seed_user`] with the given e-mail and stored password hash.
pub async fn seed_user_with(
    db_url: &str,
    username: &str,
    email: &str,
    password_hash: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    let dni = &Uuid::new_v4().simple().to_string()[..12];
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    sqlx::query(
        r#"INSERT INTO "user" (id, username, password, first_name, last_name, dni, email, city)
           VALUES ($1, $2, $3, 'Ana', 'Peña', $4, $5, 'Málaga')"#,
    )
    .bind(id)
    .bind(username)
    .bind(password_hash)
    .bind(dni)
    .bind(email)
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

/// A message read back from a queue.
#[derive(Debug, Clone)]
pub struct Message {
    /// The JSON body.
    pub body: Value,
    /// AMQP `message_id`.
    pub message_id: Option<String>,
    /// AMQP `correlation_id`.
    pub correlation_id: Option<String>,
    /// AMQP `content_type`.
    pub content_type: Option<String>,
    /// AMQP `delivery_mode`.
    pub delivery_mode: Option<u8>,
    /// AMQP `app_id`: the service that produced the event.
    pub app_id: Option<String>,
}

impl Message {
    /// The envelope's `event`.
    pub fn event(&self) -> &str {
        self.body["event"].as_str().unwrap_or_default()
    }
}

/// A connection to the broker and a channel on it, with the durable `queue` declared.
pub async fn queue_channel(queue: &str) -> (Connection, Channel) {
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    declared_channel(&amqp_url(), queue, opts).await
}

/// A connection to the broker at `url` and a channel on it, with `queue` declared with `opts`.
async fn declared_channel(
    url: &str,
    queue: &str,
    opts: QueueDeclareOptions,
) -> (Connection, Channel) {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(queue.into(), opts, FieldTable::default())
        .await
        .unwrap();
    (conn, ch)
}

/// Every message now in `queue`, then deletes the queue. Call after the outbox has
/// drained: then nothing more is on its way.
pub async fn take_messages(queue: &str) -> Vec<Message> {
    let (conn, ch) = queue_channel(queue).await;
    drain(conn, ch, queue).await
}

/// [`take_messages`] from the broker at `url`, for a queue that exists already, of any
/// type (declared passively: a classic declaration of a quorum queue would be refused).
pub async fn take_messages_from(url: &str, queue: &str) -> Vec<Message> {
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let (conn, ch) = declared_channel(url, queue, opts).await;
    drain(conn, ch, queue).await
}

async fn drain(conn: Connection, ch: Channel, queue: &str) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(msg) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let props = &msg.delivery.properties;
        out.push(Message {
            body: serde_json::from_slice(&msg.delivery.data).unwrap(),
            message_id: props.message_id().as_ref().map(|s| s.to_string()),
            correlation_id: props.correlation_id().as_ref().map(|s| s.to_string()),
            content_type: props.content_type().as_ref().map(|s| s.to_string()),
            delivery_mode: *props.delivery_mode(),
            app_id: props.app_id().as_ref().map(|s| s.to_string()),
        });
    }
    let _ = ch
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(0, "done".into()).await;
    out
}

/// Runs `scripts/backing.sh <cmd>` (fault tests stop and start shared servers).
pub fn backing(cmd: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/backing.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(cmd)
        .status()
        .expect("run scripts/backing.sh");
    assert!(status.success(), "backing.sh {cmd} failed");
}

/// The servers fault tests stop, by their name in `scripts/backing.sh` (which has a
/// `<name>-stop` and a `<name>-start` for each).
const SERVERS: [&str; 4] = ["rabbitmq", "postgres", "mongo", "s3"];

/// Stops the backing server `SERVERS[N]` now and starts it again when dropped, even if
/// the test fails.
pub struct Down<const N: usize>;

impl<const N: usize> Down<N> {
    /// Stops the server (returns once its port refuses connections).
    pub fn stop() -> Self {
        backing(&format!("{}-stop", SERVERS[N]));
        Self
    }
}

impl<const N: usize> Drop for Down<N> {
    fn drop(&mut self) {
        backing(&format!("{}-start", SERVERS[N]));
    }
}

/// RabbitMQ stopped (see [`Down`]).
pub type BrokerDown = Down<0>;
/// PostgreSQL stopped: the cluster (see [`Down`]).
pub type DatabaseDown = Down<1>;
/// MongoDB stopped: mongod shut down (see [`Down`]).
pub type MongoDown = Down<2>;
/// The S3 server stopped (see [`Down`]). The test server (moto) keeps data in memory:
/// buckets are gone after the restart.
pub type S3Down = Down<3>;

/// The MongoDB URI of the test server (`MONGODB_URI`, set by `scripts/backing.sh env`).
pub fn mongodb_uri() -> String {
    env("MONGODB_URI")
}

/// A unique MongoDB database name for one test (`test_<prefix>_<uuid>`; MongoDB
/// creates it on first write). At most 63 bytes, MongoDB's limit.
pub fn mongo_database(prefix: &str) -> String {
    let mut name = format!("test_{prefix}_{}", Uuid::new_v4().simple());
    name.truncate(63);
    name
}

/// A unique, valid S3 bucket name for one test (lowercase, 3-63 characters).
pub fn bucket_name(prefix: &str) -> String {
    let mut name = format!("test-{}-{}", prefix.to_lowercase(), Uuid::new_v4().simple());
    name.truncate(63);
    name
}

/// The test virtualenv's Python (`HUB_PYTHON`, set by `scripts/backing.sh env`).
pub fn python() -> String {
    env("HUB_PYTHON")
}

/// Decodes `token` with PyJWT, an independent implementation, using `secret`.
pub fn pyjwt_decode(token: &str, secret: &str) -> Result<Value, String> {
    python_json(
        Command::new(python())
            .args([
                "-c",
                "import jwt, json, os, sys; \
                 print(json.dumps(jwt.decode(sys.argv[1], os.environ['JWT_TEST_SECRET'], algorithms=['HS256'])))",
                token,
            ])
            .env("JWT_TEST_SECRET", secret),
    )
}

/// Runs a Python script that prints JSON: the JSON, or its standard error.
fn python_json(command: &mut Command) -> Result<Value, String> {
    let out = command.output().expect("run python with PyJWT");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Verifies `token` with PyJWT's `PyJWKClient`, which knows nothing but the JWKS at
/// `jwks_url` (it picks the key by the token's `kid`); EdDSA only. The claims, or
/// PyJWT's error. Runs Python off the test's runtime, so a service on that runtime can
/// answer its fetch.
pub async fn pyjwt_decode_with_jwks(token: &str, jwks_url: &str) -> Result<Value, String> {
    let mut command = Command::new(python());
    command.args([
        "-c",
        "import jwt, json, sys; \
         key = jwt.PyJWKClient(sys.argv[2], timeout=10).get_signing_key_from_jwt(sys.argv[1]); \
         print(json.dumps(jwt.decode(sys.argv[1], key.key, algorithms=['EdDSA'])))",
        token,
        jwks_url,
    ]);
    tokio::task::spawn_blocking(move || python_json(&mut command))
        .await
        .unwrap()
}

/// The paths an OpenAPI document lists, sorted.
pub fn openapi_paths(doc: &Value) -> Vec<&str> {
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    paths
}

/// Checks that the OpenAPI document a REST service serves at `{base}/openapi.json`
/// matches its routes: every documented path answers every documented method with
/// something other than 405 or the router's own 404 (`{"<error_key>":"Not found"}`),
/// and an undocumented path gets that 404. Path parameters are filled with `x`; no
/// body, no token. Returns the document.
pub async fn assert_openapi_matches_routes(base: &str, error_key: &str) -> Value {
    let http = reqwest::Client::new();
    let resp = http.get(format!("{base}/openapi.json")).go().await;
    assert_eq!(resp.status(), 200, "GET /openapi.json");
    let doc: Value = resp.json().await.unwrap();
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3."),
        "{doc}"
    );
    assert_eq!(
        hub_runtime::openapi::undefined_schema(&doc),
        None,
        "the document refers to a schema it does not define"
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty(), "no paths documented");
    let router_404 = |status: u16, body: &Value| status == 404 && body[error_key] == "Not found";
    for (path, item) in paths {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue; // `parameters`, `summary`, ... are not methods
            };
            if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&m.as_str()) {
                continue;
            }
            let resp = http
                .request(m.clone(), format!("{base}{concrete}"))
                .go()
                .await;
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(
                status != 405 && !router_404(status, &body),
                "{m} {path} is documented but not routed: {status} {body}"
            );
        }
    }
    let resp = http
        .get(format!("{base}/no-such-path-{}", Uuid::new_v4().simple()))
        .go()
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(router_404(status, &body), "unknown path: {status} {body}");
    doc
}

/// [`assert_openapi_matches_routes`], then asserts that the document lists exactly
/// `paths` (sorted). Returns the document.
pub async fn assert_openapi_lists(base: &str, error_key: &str, paths: &[&str]) -> Value {
    let doc = assert_openapi_matches_routes(base, error_key).await;
    assert_eq!(openapi_paths(&doc), paths);
    doc
}

/// The path of a service binary built beside the running test (`target/<profile>/<name>`).
/// Building a workspace's tests builds every service binary, since each service has
/// integration tests that start it.
pub fn service_binary(name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test binary>
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build -p {name}` (scripts/test.sh builds everything)",
        bin.display()
    );
    bin.to_string_lossy().into_owned()
}

/// The resident set size of process `pid`, in KiB (Linux `/proc`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What a service process that keeps users and publishes their events (auth, user-soap)
/// starts on: a database and a queue of its own, a fresh signing secret, the broker.
pub struct ProcessBacking {
    /// A fresh database ([`create_database`]).
    pub db_url: String,
    /// A fresh queue name ([`queue_name`]).
    pub queue: String,
    /// `process-secret-<uuid>`.
    pub secret: String,
    /// [`amqp_url`].
    pub amqp: String,
}

impl ProcessBacking {
    /// A database and a queue named after `prefix`, and a new secret.
    pub async fn new(prefix: &str) -> Self {
        Self {
            db_url: create_database(prefix).await,
            queue: queue_name(prefix),
            secret: format!("process-secret-{}", Uuid::new_v4().simple()),
            amqp: amqp_url(),
        }
    }

    /// `DATABASE_URL`, `SECRET_KEY`, `AMQP_URL` and `RABBITMQ_QUEUE`, then `extra`, for
    /// [`ServiceProcess::spawn`].
    pub fn envs<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut envs = vec![
            ("DATABASE_URL", self.db_url.as_str()),
            ("SECRET_KEY", self.secret.as_str()),
            ("AMQP_URL", self.amqp.as_str()),
            ("RABBITMQ_QUEUE", self.queue.as_str()),
        ];
        envs.extend_from_slice(extra);
        envs
    }
}

/// A service binary running as its own OS process, for tests of what only a real
/// process shows: signals, exit codes, what reaches its log.
pub struct ServiceProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl ServiceProcess {
    /// Starts `bin` on a free port with `envs` (plus `HOST`, `PORT`), its stdout and
    /// stderr going to a log file, and waits (30 s at most) until `health` answers 200.
    pub async fn spawn(bin: &str, envs: &[(&str, &str)], health: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::spawn_on(port, bin, envs, health).await
    }

    /// [`ServiceProcess::spawn`] on a given port (a load balancer's fixed backend address).
    pub async fn spawn_on(port: u16, bin: &str, envs: &[(&str, &str)], health: &str) -> Self {
        let log = std::env::temp_dir().join(format!("hub-process-{}.log", Uuid::new_v4()));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(envs.iter().copied())
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut process = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}{health}", process.base)).send().await
                && r.status() == 200
            {
                return process;
            }
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("{bin} exited with {status}: {}", process.log());
            }
            assert!(
                Instant::now() < deadline,
                "{bin} not healthy: {}",
                process.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Polls `/metrics` until at least `n` requests to `route` are being served.
    pub async fn wait_in_flight(&self, route: &str, n: u32, within: Duration) {
        let http = reqwest::Client::new();
        eventually(within, async || {
            match in_flight(&http, &self.base, route).await {
                now if now >= f64::from(n) => Ok(()),
                now => Err(format!(
                    "{n} requests to {route} never in flight (last {now})"
                )),
            }
        })
        .await;
    }

    /// Waits (bounded) for the process to exit; returns its exit code (None: killed by
    /// a signal).
    pub async fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        eventually(within, async || match self.child.try_wait().unwrap() {
            Some(status) => Ok(status.code()),
            None => Err(format!("still running: {}", self.log())),
        })
        .await
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `(token, refresh_token)` of auth's answer to a login or a refresh.
pub fn token_pair(body: &Value) -> (String, String) {
    (
        body["token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Status and JSON body of an answer, whatever its content type says.
pub async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Status and body of a REST answer, asserting the body is JSON whatever the status.
pub async fn json_body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        ct.as_deref(),
        Some("application/json"),
        "status {status}: body must be JSON"
    );
    (status, resp.json().await.unwrap())
}
