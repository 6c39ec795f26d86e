//! `hub_db::transaction` against a real PostgreSQL (`DATABASE_URL`, started by
//! scripts/backing.sh): a caller dropped right after `BEGIN` neither stops the work nor
//! leaves its connection inside a transaction. Deterministic: the work signals from
//! inside the transaction (a channel) that `BEGIN` is done, the test drops the caller
//! then, and only then lets the work go on.

use std::time::{Duration, Instant};

use hub_db::{PoolSettings, TxError};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::oneshot;

/// A one-connection pool on a fresh database with a table `t (x int)`: whatever runs
/// next on the pool runs on the connection the transaction used.
async fn setup(prefix: &str) -> (String, PgPool) {
    let url = hub_testkit::create_database(prefix).await;
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let pool = hub_db::pool(&url.clone().into(), &settings, "tx-test").unwrap();
    sqlx::query("CREATE TABLE t (x int)")
        .execute(&pool)
        .await
        .unwrap();
    (url, pool)
}

/// Rows in `t`, seen from a connection of its own (committed rows only).
async fn committed(admin: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(admin)
        .await
        .unwrap()
}

/// Polls until `t` holds `want` committed rows, for at most 10 s.
async fn wait_for_rows(admin: &mut PgConnection, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = committed(admin).await;
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "{n} rows, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The pool's (only) connection, as the server sees it: not in a transaction
/// (`state` `idle`, no `xact_start`), and usable: a write through it is visible to
/// others at once (inside a leftover transaction it would not be).
async fn assert_connection_clean(pool: &PgPool, admin: &mut PgConnection, rows_before: i64) {
    let mut conn = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let (state, in_tx): (Option<String>, bool) =
        sqlx::query_as("SELECT state, xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
    assert_eq!(
        (state.as_deref(), in_tx),
        (Some("idle"), false),
        "the pooled connection is left inside a transaction"
    );
    sqlx::query("INSERT INTO t VALUES (0)")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(committed(admin).await, rows_before + 1);
}

/// The caller is polled until the work reports `BEGIN` done, then dropped; the work is
/// then let go on. Returns the admin connection.
async fn drop_caller_after_begin(url: &str, pool: &PgPool, commit: bool) -> PgConnection {
    let (began, began_rx) = oneshot::channel::<i32>();
    let (go, go_rx) = oneshot::channel::<()>();
    let caller = hub_db::transaction(pool, move |mut tx| async move {
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await?;
        began.send(pid).unwrap();
        // Held here until the caller is gone.
        go_rx.await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1), (2)")
            .execute(&mut *tx)
            .await?;
        if commit {
            tx.commit().await?;
        }
        Ok::<_, TxError>(())
    });
    let mut caller = Box::pin(caller);
    let pid = tokio::select! {
        pid = began_rx => pid.unwrap(),
        done = &mut caller => panic!("the transaction ended before it was let go on: {done:?}"),
    };
    drop(caller);

    let mut admin = PgConnection::connect(url).await.unwrap();
    let in_tx: bool =
        sqlx::query_scalar("SELECT xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(in_tx, "the caller was dropped inside the transaction");
    go.send(())
        .expect("the work was dropped with its caller: the transaction did not run to completion");
    admin
}

#[tokio::test]
async fn a_caller_dropped_right_after_begin_leaves_the_work_to_commit_and_the_connection_clean() {
    let (url, pool) = setup("tx_drop_commit").await;
    let mut admin = drop_caller_after_begin(&url, &pool, true).await;
    wait_for_rows(&mut admin, 2).await;
    assert_connection_clean(&pool, &mut admin, 2).await;
}

#[tokio::test]
async fn a_caller_dropped_right_after_begin_of_work_that_does_not_commit_rolls_back_cleanly() {
    let (url, pool) = setup("tx_drop_rollback").await;
    let mut admin = drop_caller_after_begin(&url, &pool, false).await;
    // Wait for the connection to come back (one-connection pool), then check the work
    // left nothing.
    assert_connection_clean(&pool, &mut admin, 0).await;
    assert_eq!(committed(&mut admin).await, 1, "only the check's own row");
}

#[tokio::test]
async fn the_work_s_result_and_error_reach_a_caller_that_waits() {
    let (_url, pool) = setup("tx_result").await;
    let n = hub_db::transaction(&pool, |mut tx| async move {
        sqlx::query("INSERT INTO t VALUES (7)")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, TxError>(7)
    })
    .await
    .unwrap();
    assert_eq!(n, 7);

    let failed = hub_db::transaction(&pool, |mut tx| async move {
        sqlx::query("INSERT INTO t VALUES (8)")
            .execute(&mut *tx)
            .await?;
        sqlx::query("SELECT * FROM no_such_table")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, TxError>(())
    })
    .await;
    assert!(matches!(failed, Err(TxError::Db(_))), "{failed:?}");
    let rows: Vec<i32> = sqlx::query_scalar("SELECT x FROM t ORDER BY x")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows, [7], "the failed transaction rolled back");
}
