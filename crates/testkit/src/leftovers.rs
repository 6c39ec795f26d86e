//! What a deleted account may have left behind (issue 23, item 7): a scan of every
//! PostgreSQL table, and the messages waiting in a queue.

use lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable};
use sqlx::{Connection as _, PgConnection};

use crate::amqp_url;

/// Every row of every table of the schema (but sqlx's migrations) whose text holds one
/// of `needles` (case-insensitive), as `(table, row text)`. Rows of `deleted_account`, and
/// outbox rows of `UserDeleted` events, that name only `user_id` are left out: the
/// deletion keeps those on purpose (the id, never personal data).
pub async fn pg_leftovers(db_url: &str, user_id: &str, needles: &[&str]) -> Vec<(String, String)> {
    let mut db = PgConnection::connect(db_url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(tables.len() >= 9, "every table is scanned: {tables:?}");
    let mut hits = Vec::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            r#"SELECT t::text FROM "{table}" t"#
        )))
        .fetch_all(&mut db)
        .await
        .unwrap();
        for row in rows {
            let lower = row.to_lowercase();
            let named: Vec<&&str> = needles
                .iter()
                .filter(|n| lower.contains(&n.to_lowercase()))
                .collect();
            let only_id = named.iter().all(|n| n.eq_ignore_ascii_case(user_id));
            let kept =
                table == "deleted_account" || (table == "outbox" && row.contains("UserDeleted"));
            // What names the user is a hit, unless it is only the id, where it is kept.
            let allowed = named.is_empty() || (only_id && kept);
            if !allowed {
                hits.push((table.clone(), row));
            }
        }
    }
    hits
}

/// How many messages are ready in `queue` (declared passively: it must exist).
pub async fn ready_messages(queue: &str) -> u32 {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let q = ch
        .queue_declare(queue.into(), opts, FieldTable::default())
        .await
        .unwrap();
    let _ = conn.close(0, "done".into()).await;
    q.message_count()
}
