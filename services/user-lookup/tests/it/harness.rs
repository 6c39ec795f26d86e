//! user-lookup on the testkit's harness: each test gets its own database and server on
//! port 0, against the real PostgreSQL started by scripts/backing.sh.

use hub_testkit::Harness;
use user_lookup::UserLookup;
use uuid::Uuid;

/// user-lookup running for one test.
pub type TestApp = hub_testkit::TestApp<UserLookup>;

/// user-lookup's test instances and users.
pub trait LookupApp {
    /// Starts the service with the test settings.
    async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }
    /// Starts the service on its own database, with `extra` settings.
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp;
    /// Another instance on the same database, with only `extra` settings.
    async fn instance(&self, extra: &[(&str, &str)]) -> TestApp;
    /// Seeds a user named `username`; its id.
    async fn insert(&self, username: &str) -> Uuid;
}

impl LookupApp for TestApp {
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        Harness::new("lookup").spawn(extra).await
    }

    async fn instance(&self, extra: &[(&str, &str)]) -> TestApp {
        let db_url = self.db_url.clone();
        Harness::new("lookup")
            .on_database(db_url)
            .spawn(extra)
            .await
    }

    async fn insert(&self, username: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, username).await
    }
}
