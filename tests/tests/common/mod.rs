//! user-soap, user-lookup, auth, session and connected started in-process on one fresh
//! PostgreSQL database, one fresh MongoDB database and one fresh `auth-events` queue:
//! the login events auth publishes are the ones session consumes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use hub_runtime::service::ServiceConfig as _;
use std::{collections::HashMap, net::SocketAddr};

use tokio_util::sync::CancellationToken;

pub struct System {
    pub soap: SocketAddr,
    pub lookup: SocketAddr,
    pub auth: SocketAddr,
    pub session: SocketAddr,
    pub connected: SocketAddr,
    /// The PostgreSQL database all five share.
    pub db_url: String,
    /// The MongoDB database session and connected share.
    pub mongo_db: String,
    /// The JWT secret auth signs with and session verifies with.
    pub secret: String,
    shutdown: CancellationToken,
}

impl Drop for System {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// user-soap, user-lookup and auth on one fresh database, each on port 0.
pub async fn start() -> System {
    let db_url = hub_testkit::create_database("system").await;
    let queue = hub_testkit::queue_name("system");
    let mongo_db = hub_testkit::mongo_database("system");
    let secret = format!("secret-{}", uuid::Uuid::new_v4());
    let vars: HashMap<&str, String> = [
        ("DATABASE_URL", db_url.clone()),
        ("AMQP_URL", hub_testkit::amqp_url()),
        ("RABBITMQ_QUEUE", queue),
        ("HOST", "127.0.0.1".into()),
        ("PORT", "0".into()),
        ("PASSWORD_PBKDF2_ITERATIONS", "20000".into()),
        ("SECRET_KEY", secret.clone()),
        ("MONGODB_URI", hub_testkit::mongodb_uri()),
        ("MONGODB_DATABASE", mongo_db.clone()),
        ("OUTBOX_POLL_MS", "200".into()),
    ]
    .into();
    let source = move |k: &str| vars.get(k).cloned();
    let shutdown = CancellationToken::new();

    let soap = user_soap::App::build(user_soap::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let lookup = user_lookup::App::build(user_lookup::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let auth = auth::App::build(auth::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let session = session::App::build(session::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let connected = connected::App::build(connected::Config::from_source(&source).unwrap())
        .await
        .unwrap();
    let sys = System {
        soap: soap.local_addr().unwrap(),
        lookup: lookup.local_addr().unwrap(),
        auth: auth.local_addr().unwrap(),
        session: session.local_addr().unwrap(),
        connected: connected.local_addr().unwrap(),
        db_url,
        mongo_db,
        secret,
        shutdown: shutdown.clone(),
    };
    tokio::spawn(soap.run(shutdown.clone()));
    tokio::spawn(lookup.run(shutdown.clone()));
    tokio::spawn(auth.run(shutdown.clone()));
    tokio::spawn(session.run(shutdown.clone()));
    tokio::spawn(connected.run(shutdown));
    sys
}
