//! The pool against a real PostgreSQL (`DATABASE_URL`, started by scripts/backing.sh).

use std::time::{Duration, Instant};

use hub_db::{PING_IF_IDLE_FOR, PoolSettings};
use sqlx::{Connection, PgConnection};

async fn backend_pid(pool: &sqlx::PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
}

#[tokio::test]
async fn a_connection_the_server_dropped_while_idle_is_replaced_before_use() {
    let url = hub_testkit::create_database("db_pool").await;
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let pool = hub_db::pool(&url.clone().into(), &settings, "pool-test").unwrap();
    let first = backend_pid(&pool).await.unwrap();

    // The server ends the pooled connection, as a restart or an idle-session cut would.
    let mut admin = PgConnection::connect(&url).await.unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
            .bind(first)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if alive == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "backend {first} still alive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Not synchronisation: the condition under test is a connection idle for longer
    // than the window. The pool pings it, finds it dead and opens another: the caller
    // never sees the dead one.
    tokio::time::sleep(PING_IF_IDLE_FOR + Duration::from_millis(200)).await;
    let second = backend_pid(&pool).await.expect("a fresh connection");
    assert_ne!(first, second);
}

/// A database that a newer release has migrated further (a migration this build does
/// not know is applied) still migrates, so the previous release starts on it during a
/// rolling upgrade or after a rollback.
#[tokio::test]
async fn a_database_migrated_by_a_newer_release_is_no_error() {
    let url = hub_testkit::create_database("db_newer").await;
    let pool = hub_db::pool(&url.clone().into(), &PoolSettings::default(), "newer-test").unwrap();
    hub_db::migrate(&pool, Duration::from_secs(10))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000001, 'from a newer release', true, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    hub_db::migrate(&pool, Duration::from_secs(10))
        .await
        .expect("a newer release's migration is not this build's business");
}
