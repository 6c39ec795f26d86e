//! user-soap, user-lookup, auth, session and connected started in-process on one fresh
//! PostgreSQL database, one fresh MongoDB database and one fresh `auth-events` queue:
//! the login events auth publishes are the ones session consumes. Used by the `it` and
//! `faults` test binaries.
// Test support: a failure to start or to reach a service fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, time::Duration};

use hub_testkit::{Go as _, Running, Spawned, spawn};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// The five services running, and what they share.
pub struct System {
    /// user-soap's address.
    pub soap: SocketAddr,
    /// user-lookup's address.
    pub lookup: SocketAddr,
    /// auth's address.
    pub auth: SocketAddr,
    /// session's address.
    pub session: SocketAddr,
    /// connected's address.
    pub connected: SocketAddr,
    /// The PostgreSQL database all five share.
    pub db_url: String,
    /// The MongoDB database session and connected share.
    pub mongo_db: String,
    /// The queue of the mail events (`RABBITMQ_ACCOUNT_QUEUE`) auth and user-soap write:
    /// the test's own, `<queue>.account`.
    pub account_queue: String,
    /// The JWT secret auth signs with and session verifies with.
    pub secret: String,
    /// A client with a 30 s timeout.
    pub http: reqwest::Client,
    /// The five services; dropping them shuts them down.
    _running: Vec<Running>,
}

/// user-soap, user-lookup and auth on one fresh database, each on port 0.
pub async fn start() -> System {
    start_with(&[]).await
}

/// As [`start`], with `extra` settings for all five services.
pub async fn start_with(extra: &[(&str, &str)]) -> System {
    let db_url = hub_testkit::create_database("system").await;
    let queue = hub_testkit::queue_name("system");
    let account_queue = format!("{queue}.account");
    let mongo_db = hub_testkit::mongo_database("system");
    let secret = format!("secret-{}", uuid::Uuid::new_v4());
    let (amqp, mongo_uri) = (hub_testkit::amqp_url(), hub_testkit::mongodb_uri());
    let own = [
        ("DATABASE_URL", db_url.as_str()),
        ("AMQP_URL", amqp.as_str()),
        ("RABBITMQ_QUEUE", queue.as_str()),
        ("RABBITMQ_ACCOUNT_QUEUE", account_queue.as_str()),
        ("REGISTER_MAX_PER_ADDRESS", "1000000"),
        ("SECRET_KEY", secret.as_str()),
        ("MONGODB_URI", mongo_uri.as_str()),
        ("MONGODB_DATABASE", mongo_db.as_str()),
    ];
    let own: Vec<(&str, &str)> = own.iter().chain(extra).copied().collect();
    let source = hub_testkit::config_source(&crate::IN_PROCESS, &own);
    let services: [Spawned; 5] = [
        spawn::<user_soap::UserSoap>(&source).await,
        spawn::<user_lookup::UserLookup>(&source).await,
        spawn::<auth::Auth>(&source).await,
        spawn::<session::Session>(&source).await,
        spawn::<connected::Connected>(&source).await,
    ];
    let [soap, lookup, auth, session, connected] = services.each_ref().map(|s| s.addr);
    System {
        soap,
        lookup,
        auth,
        session,
        connected,
        db_url,
        mongo_db,
        account_queue,
        secret,
        http: client(),
        _running: services.into_iter().map(|s| s.running).collect(),
    }
}

/// A client with a 30 s timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl System {
    /// `<method> http://{addr}{path}`, to be completed and sent with `Go::go`.
    pub fn req(&self, method: Method, addr: SocketAddr, path: &str) -> RequestBuilder {
        self.http.request(method, format!("http://{addr}{path}"))
    }

    /// `GET http://{addr}{path}`.
    pub async fn get(&self, addr: SocketAddr, path: &str) -> Response {
        self.req(Method::GET, addr, path).go().await
    }

    /// The body of `GET http://{addr}{path}`, whatever the status.
    pub async fn text(&self, addr: SocketAddr, path: &str) -> String {
        self.get(addr, path).await.text().await.unwrap()
    }

    /// `POST http://{addr}{path}` with `body` as JSON.
    pub async fn post_json(&self, addr: SocketAddr, path: &str, body: &Value) -> Response {
        self.req(Method::POST, addr, path).json(body).go().await
    }

    /// A SOAP 1.1 `envelope` posted to user-soap's `/register`.
    pub async fn register(&self, envelope: impl Into<reqwest::Body>) -> Response {
        self.req(Method::POST, self.soap, "/register")
            .header("content-type", "text/xml; charset=utf-8")
            .body(envelope)
            .go()
            .await
    }

    /// auth's `POST /login` with `username` and `password`.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        let credentials = json!({"username": username, "password": password});
        self.post_json(self.auth, "/login", &credentials).await
    }
}
