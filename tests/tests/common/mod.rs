//! user-soap, user-lookup and auth started in-process on one fresh database.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::HashMap, net::SocketAddr};

use tokio_util::sync::CancellationToken;

pub struct System {
    pub soap: SocketAddr,
    pub lookup: SocketAddr,
    pub auth: SocketAddr,
    shutdown: CancellationToken,
}

impl Drop for System {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// user-soap, user-lookup and auth on one fresh database, each on port 0.
pub async fn start() -> System {
    let db_url = hub_testkit::create_database("soapclients").await;
    let queue = hub_testkit::queue_name("soapclients");
    let vars: HashMap<&str, String> = [
        ("DATABASE_URL", db_url),
        ("AMQP_URL", hub_testkit::amqp_url()),
        ("RABBITMQ_QUEUE", queue),
        ("HOST", "127.0.0.1".into()),
        ("PORT", "0".into()),
        ("PASSWORD_PBKDF2_ITERATIONS", "20000".into()),
        ("SECRET_KEY", format!("secret-{}", uuid::Uuid::new_v4())),
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
    let sys = System {
        soap: soap.local_addr().unwrap(),
        lookup: lookup.local_addr().unwrap(),
        auth: auth.local_addr().unwrap(),
        shutdown: shutdown.clone(),
    };
    tokio::spawn(soap.run(shutdown.clone()));
    tokio::spawn(lookup.run(shutdown.clone()));
    tokio::spawn(auth.run(shutdown));
    sys
}
