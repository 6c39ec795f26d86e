//! Harness: each test gets its own database and server on port 0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use hub_testkit::Spawned;
use user_lookup::UserLookup;
use uuid::Uuid;

/// The SOAP 1.1 envelope namespace.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

pub struct TestApp {
    /// The service on port 0: `addr`, `base`, `http` (through `Deref`).
    pub service: Spawned,
    pub db_url: String,
}

hub_testkit::test_app!(TestApp);

impl TestApp {
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let db_url = hub_testkit::create_database("lookup").await;
        let service = Self::instance(&db_url, extra).await;
        Self { service, db_url }
    }

    /// Another instance on the same database.
    pub async fn instance(db_url: &str, extra: &[(&str, &str)]) -> Spawned {
        let source = hub_testkit::config_source(
            &[
                ("DATABASE_URL", db_url),
                ("HOST", "127.0.0.1"),
                ("PORT", "0"),
            ],
            extra,
        );
        hub_testkit::spawn::<UserLookup>(source).await
    }

    /// Seeds a user named `username`; its id.
    pub async fn insert(&self, username: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, username).await
    }
}
