//! A service under test, built step by step: the per-test resources it runs on (its
//! own database, queue, secret, MongoDB database and bucket names), its settings and
//! the service spawned on port 0. Each service's tests describe only what differs:
//!
//! ```ignore
//! let app: TestApp<Auth> = Harness::new("auth")
//!     .queue("RABBITMQ_QUEUE")
//!     .secret("SECRET_KEY")
//!     .set("OUTBOX_POLL_MS", "200")
//!     .spawn(extra)
//!     .await;
//! ```
//!
//! Service-specific helpers (a login, an upload) are extension traits on
//! [`TestApp<S>`] in the service's `tests/it/app.rs`.

use std::{marker::PhantomData, net::SocketAddr, sync::Arc, time::Duration};

use hub_runtime::service::{Service, Settings};
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

use crate::{
    Go as _, Running, amqp_url, block_on_own_thread, bucket_name, create_database, in_flight,
    local_source, mongo_database, mongodb_uri, queue_name, spawn,
};

/// How to start a service for one test: which settings get the test's own resources,
/// and the fixed test settings. Built with [`Harness::new`], started with
/// [`Harness::spawn`].
pub struct Harness {
    prefix: &'static str,
    db_url: Option<String>,
    names: Names,
    settings: Vec<(String, String)>,
    cleanup: Cleanup,
}

/// The names of one test's resources.
struct Names {
    queue: String,
    secret: String,
    mongo_db: String,
    bucket: String,
}

impl Harness {
    /// A harness whose resources are named after `prefix`. The service gets a fresh
    /// PostgreSQL database as `DATABASE_URL` (unless [`Harness::on_database`]), and
    /// listens on 127.0.0.1, port 0.
    pub fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            db_url: None,
            names: Names {
                queue: queue_name(prefix),
                secret: format!("test-secret-{}", Uuid::new_v4().simple()),
                mongo_db: mongo_database(prefix),
                bucket: bucket_name(prefix),
            },
            settings: Vec::new(),
            cleanup: Cleanup::default(),
        }
    }

    /// The service's database is the one at `db_url`, not a fresh one.
    pub fn on_database(mut self, db_url: String) -> Self {
        self.db_url = Some(db_url);
        self
    }

    /// Sets `name` to `value`.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The broker (`AMQP_URL`) and the test's own queue as `var`; the queue and its
    /// `<queue>.dlq` are deleted when the test's last instance is dropped.
    pub fn queue(mut self, var: &str) -> Self {
        self.cleanup.queues.extend([
            self.names.queue.clone(),
            format!("{}.dlq", self.names.queue),
        ]);
        let queue = self.names.queue.clone();
        self.set("AMQP_URL", &amqp_url()).set(var, &queue)
    }

    /// Another queue of the test's own, `<queue>.<suffix>` (the test's queue name, a dot,
    /// `suffix`), as `var`: for a service that publishes to more than one queue (auth's
    /// `RABBITMQ_ACCOUNT_QUEUE`). Deleted with the test's queue.
    pub fn also_queue(mut self, var: &str, suffix: &str) -> Self {
        let queue = format!("{}.{suffix}", self.names.queue);
        self.cleanup
            .queues
            .extend([queue.clone(), format!("{queue}.dlq")]);
        self.set(var, &queue)
    }

    /// A fresh secret as `var` (the key tokens are signed or verified with).
    pub fn secret(self, var: &str) -> Self {
        let secret = self.names.secret.clone();
        self.set(var, &secret)
    }

    /// MongoDB (`MONGODB_URI`) and the test's own database (`MONGODB_DATABASE`),
    /// dropped when the test's last instance is dropped.
    pub fn mongo(mut self) -> Self {
        self.cleanup.mongo_db = Some(self.names.mongo_db.clone());
        let name = self.names.mongo_db.clone();
        self.set("MONGODB_URI", &mongodb_uri())
            .set("MONGODB_DATABASE", &name)
    }

    /// The test's own bucket name as `var`.
    pub fn bucket(self, var: &str) -> Self {
        let bucket = self.names.bucket.clone();
        self.set(var, &bucket)
    }

    /// Creates what the service needs that does not exist yet (the database), then
    /// builds and runs `S` with the harness's settings overridden by `extra`.
    pub async fn spawn<S: Service>(self, extra: &[(&str, &str)]) -> TestApp<S> {
        let db_url = match self.db_url {
            Some(url) => url,
            None => create_database(self.prefix).await,
        };
        let mut settings = vec![("DATABASE_URL".to_owned(), db_url.clone())];
        settings.extend(self.settings);
        let mongo = match &self.cleanup.mongo_db {
            Some(name) => Some(
                mongodb::Client::with_uri_str(mongodb_uri())
                    .await
                    .unwrap()
                    .database(name),
            ),
            None => None,
        };
        let resources = Arc::new(Resources {
            db_url,
            queue: self.names.queue,
            secret: self.names.secret,
            mongo_db: self.names.mongo_db,
            bucket: self.names.bucket,
            mongo,
            cleanup: self.cleanup,
        });
        TestApp::start(resources, settings, extra).await
    }
}

/// What is removed when the test's last instance is dropped (PostgreSQL databases
/// are dropped by `scripts/test.sh`, before the next run).
#[derive(Default)]
struct Cleanup {
    queues: Vec<String>,
    mongo_db: Option<String>,
}

/// One test's resources, shared by the instances of [`TestApp::beside`].
struct Resources {
    db_url: String,
    queue: String,
    secret: String,
    mongo_db: String,
    bucket: String,
    mongo: Option<mongodb::Database>,
    cleanup: Cleanup,
}

impl Drop for Resources {
    /// Best effort, on a runtime-free thread, even when the test fails.
    fn drop(&mut self) {
        let Cleanup { queues, mongo_db } = std::mem::take(&mut self.cleanup);
        if queues.is_empty() && mongo_db.is_none() {
            return;
        }
        block_on_own_thread(async move {
            if !queues.is_empty()
                && let Ok(conn) =
                    lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
                        .await
                && let Ok(ch) = conn.create_channel().await
            {
                for q in queues {
                    let _ = ch.queue_delete(q.as_str().into(), Default::default()).await;
                }
                let _ = conn.close(0, "done".into()).await;
            }
            if let Some(name) = mongo_db
                && let Ok(client) = mongodb::Client::with_uri_str(mongodb_uri()).await
            {
                let _ = client.database(&name).drop().await;
            }
        });
    }
}

/// A service `S` running for one test (built by [`Harness::spawn`]), with the test's
/// resources. Dropping it shuts the service down; the resources go with the last
/// instance sharing them.
pub struct TestApp<S> {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
    /// A client with a 30 s timeout.
    pub http: reqwest::Client,
    /// The test's PostgreSQL database (`DATABASE_URL`).
    pub db_url: String,
    /// The test's queue name (given to the service by [`Harness::queue`]).
    pub queue: String,
    /// The test's secret (given to the service by [`Harness::secret`]).
    pub secret: String,
    /// The test's MongoDB database name (given to the service by [`Harness::mongo`]).
    pub mongo_db: String,
    /// The test's bucket name (given to the service by [`Harness::bucket`]).
    pub bucket: String,
    running: Running,
    settings: Vec<(String, String)>,
    resources: Arc<Resources>,
    service: PhantomData<fn() -> S>,
}

impl<S: Service> TestApp<S> {
    async fn start(
        resources: Arc<Resources>,
        mut settings: Vec<(String, String)>,
        extra: &[(&str, &str)],
    ) -> Self {
        settings.extend(extra.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())));
        let spawned = spawn::<S>(local_source(&pairs(&settings), &[])).await;
        Self {
            addr: spawned.addr,
            base: spawned.base,
            http: spawned.http,
            db_url: resources.db_url.clone(),
            queue: resources.queue.clone(),
            secret: resources.secret.clone(),
            mongo_db: resources.mongo_db.clone(),
            bucket: resources.bucket.clone(),
            running: spawned.running,
            settings,
            resources,
            service: PhantomData,
        }
    }

    /// Another instance on the same resources, with this one's settings overridden by
    /// `extra`: a second replica behind a load balancer.
    pub async fn beside(&self, extra: &[(&str, &str)]) -> Self {
        Self::start(self.resources.clone(), self.settings.clone(), extra).await
    }

    /// The service's settings, read again from what it was started with.
    pub fn settings(&self) -> Settings<S::Config> {
        let source = local_source(&pairs(&self.settings), &[]);
        Settings::from_source(&source, S::PORT).expect("valid test config")
    }

    /// The service's state built from this instance's settings, as its `main` would build
    /// it, on the same database, queue and buckets: for tests of the use cases (login,
    /// refresh, register, ...) called directly, without HTTP.
    pub async fn state(&self) -> S {
        S::connect(&self.settings().service)
            .await
            .expect("the service's state connects")
    }
}

impl<S> TestApp<S> {
    /// `GET {base}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path).go().await
    }

    /// `POST {base}{path}`, to be completed and sent.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::POST, path)
    }

    /// `<method> {base}{path}`, to be completed and sent with [`crate::Go::go`].
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Requests to `route` being served now (the `http_requests_in_flight` gauge).
    pub async fn in_flight(&self, route: &str) -> f64 {
        in_flight(&self.http, &self.base, route).await
    }

    /// Cancels the shutdown token without waiting.
    pub fn cancel(&self) {
        self.running.cancel();
    }

    /// Cancels the shutdown token and waits for `App::run` to return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.running.stop().await
    }

    /// A new connection to the test's database.
    pub async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.db_url).await.unwrap()
    }

    /// The test's MongoDB database (the harness has [`Harness::mongo`]).
    pub fn mongo(&self) -> &mongodb::Database {
        self.resources
            .mongo
            .as_ref()
            .expect("a harness with .mongo()")
    }

    /// Outbox rows not yet confirmed by the broker.
    pub async fn outbox_pending(&self) -> i64 {
        crate::outbox_pending(&self.db_url).await
    }

    /// Polls until every outbox row has been confirmed by the broker.
    pub async fn wait_outbox_drained(&self, within: Duration) {
        crate::wait_outbox_drained(&self.db_url, within).await
    }
}

fn pairs(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
