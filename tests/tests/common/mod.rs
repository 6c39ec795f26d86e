//! user-soap, user-lookup, auth, session and connected started in-process on one fresh
//! PostgreSQL database, one fresh MongoDB database and one fresh `auth-events` queue:
//! the login events auth publishes are the ones session consumes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::HashMap, net::SocketAddr};

use hub_testkit::{Running, Spawned, spawn};

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
    /// The five services; dropping them shuts them down.
    running: Vec<Running>,
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
        ("REGISTER_MAX_PER_ADDRESS", "1000000".into()),
        ("SECRET_KEY", secret.clone()),
        ("MONGODB_URI", hub_testkit::mongodb_uri()),
        ("MONGODB_DATABASE", mongo_db.clone()),
        ("OUTBOX_POLL_MS", "200".into()),
    ]
    .into();
    let source = move |k: &str| vars.get(k).cloned();
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
        secret,
        running: services.into_iter().map(|s| s.running).collect(),
    }
}
