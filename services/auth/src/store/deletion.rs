//! An account's rows in every PostgreSQL table, for its deletion and its export
//! (`account::deletion`). Every table in `migrations/` is either here or, keyed by
//! something that is not the account, listed as such in docs/EVENTS.md ("Deletion").

use sqlx::PgConnection;
use uuid::Uuid;

/// The account's own strings, read under a row lock by [`lock_user`].
#[derive(Debug)]
pub struct Doomed {
    /// Primary key.
    pub id: Uuid,
    /// The stored password hash (to check the caller's password).
    pub password: String,
    /// The lowercased email: `notification.recipient`.
    pub email_lower: String,
    /// `identity_canonical` of the id, username, email and dni: what an outbox payload
    /// naming this account holds (under the same canonical form).
    pub canonical: Vec<String>,
    /// `identity_canonical` of the username and the email: the login strings whose
    /// digests key `login_throttle` rows.
    pub logins: Vec<String>,
}

/// Locks the user row (`FOR UPDATE`: a login's token-family insert, whose foreign key
/// takes `FOR KEY SHARE`, waits for the deletion or fails after it) and reads its strings.
pub async fn lock_user(conn: &mut PgConnection, id: Uuid) -> Result<Option<Doomed>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, password, lower(email) AS "email_lower!",
                  identity_canonical(id::text) AS "id_c!", identity_canonical(username) AS "username_c!",
                  identity_canonical(email) AS "email_c!", identity_canonical(dni) AS "dni_c!"
           FROM "user" WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Doomed {
        id: r.id,
        password: r.password,
        email_lower: r.email_lower,
        canonical: vec![r.id_c, r.username_c.clone(), r.email_c.clone(), r.dni_c],
        logins: vec![r.username_c, r.email_c],
    }))
}

/// Deletes the `login_throttle` rows named `keys`; returns how many.
pub async fn delete_throttle(conn: &mut PgConnection, keys: &[String]) -> Result<u64, sqlx::Error> {
    let res = sqlx::query!("DELETE FROM login_throttle WHERE key = ANY($1)", keys)
        .execute(conn)
        .await?;
    Ok(res.rows_affected())
}

/// Defines `$name(conn, canonical)`, which runs `$statement` (a string literal that ends
/// with `WHERE` or `AND`) on the outbox rows whose event `data` has a value equal, under
/// `identity_canonical`, to one of `canonical`, and answers how many rows it touched. The
/// text made is the same as the statements' own were, so the `.sqlx/` cache is unchanged.
macro_rules! on_outbox_naming {
    ($(#[$doc:meta])* $vis:vis async fn $name:ident = $statement:literal) => {
        $(#[$doc])*
        $vis async fn $name(
            conn: &mut PgConnection,
            canonical: &[String],
        ) -> Result<u64, sqlx::Error> {
            sqlx::query!(
                $statement
                    + r#"EXISTS (SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof(o.body::jsonb -> 'data') = 'object'
                                                           THEN o.body::jsonb -> 'data' ELSE '{}'::jsonb END) kv
                         WHERE identity_canonical(kv.value) = ANY($1))"#,
                canonical
            )
            .execute(conn)
            .await
            .map(|res| res.rows_affected())
        }
    };
}

on_outbox_naming! {
    /// Deletes the outbox rows not yet published whose payload names the account (a value of
    /// `data` equal, under `identity_canonical`, to one of `canonical`): nobody has seen them,
    /// and what they announce no longer exists. Waits for a relay publishing one of them (its
    /// row lock), and then leaves it to [`redact_outbox`]. Returns how many.
    pub async fn delete_pending_outbox =
        r#"DELETE FROM outbox o
           WHERE o.published_at IS NULL
             AND "#
}

on_outbox_naming! {
    /// Replaces the `data` of every other outbox row that names the account (published rows,
    /// kept `OUTBOX_RETENTION_HOURS`) with `{"redacted":true}`; the event's name, queue, ids
    /// and times stay. Returns how many.
    pub async fn redact_outbox =
        r#"UPDATE outbox o SET body = jsonb_set(o.body::jsonb, '{data}', '{"redacted":true}'::jsonb)::text
           WHERE "#
}

/// Deletes notifications' records of mails to `email_lower`; returns how many.
pub async fn delete_notifications(
    conn: &mut PgConnection,
    email_lower: &str,
) -> Result<u64, sqlx::Error> {
    let res = sqlx::query!("DELETE FROM notification WHERE recipient = $1", email_lower)
        .execute(conn)
        .await?;
    Ok(res.rows_affected())
}

/// Logs the deletion (no personal data) and deletes the user row, and with it, by
/// `ON DELETE CASCADE`, its `token_family` and `refresh_token` rows.
pub async fn delete_user(
    conn: &mut PgConnection,
    id: Uuid,
    by_admin: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO deleted_account (user_id, by_admin) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        id,
        by_admin as Option<Uuid>,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(r#"DELETE FROM "user" WHERE id = $1"#, id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The canonical username and email of `id` (the login strings whose digests key
/// `login_throttle` rows), without a lock.
pub async fn logins(conn: &mut PgConnection, id: Uuid) -> Result<Option<Vec<String>>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT identity_canonical(username) AS "username_c!", identity_canonical(email) AS "email_c!"
           FROM "user" WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| vec![r.username_c, r.email_c]))
}

/// Whether `id` is in the deletion log.
pub async fn was_deleted(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM deleted_account WHERE user_id = $1) AS "deleted!""#,
        id
    )
    .fetch_one(conn)
    .await
}

/// Everything PostgreSQL holds about the account, as one JSON object: the user row
/// (every column but the password hash, so columns added later are exported too), its
/// logins (token families; not the refresh-token digests, which are credentials), its
/// throttle rows, the outbox events that name it and the mails notifications recorded.
/// `None` if there is no such user. One statement, so one snapshot.
pub async fn export(
    conn: &mut PgConnection,
    id: Uuid,
    throttle_keys: &[String],
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH u AS (SELECT * FROM "user" WHERE id = $1),
                c AS (SELECT ARRAY[identity_canonical(u.id::text), identity_canonical(u.username),
                                   identity_canonical(u.email), identity_canonical(u.dni)] AS vals,
                             lower(u.email) AS email
                      FROM u)
           SELECT jsonb_build_object(
             'user', (SELECT to_jsonb(u) - 'password' FROM u),
             'logins', (SELECT coalesce(jsonb_agg(to_jsonb(f) - 'user_id' ORDER BY f.created_at), '[]'::jsonb)
                        FROM token_family f WHERE f.user_id = $1),
             'login_throttle', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.key), '[]'::jsonb)
                                FROM login_throttle t WHERE t.key = ANY($2)),
             'events', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                   'event', o.event, 'queue', o.queue, 'created_at', o.created_at,
                                   'published_at', o.published_at, 'data', o.body::jsonb -> 'data')
                                 ORDER BY o.id), '[]'::jsonb)
                        FROM outbox o, c
                        WHERE EXISTS (SELECT 1 FROM jsonb_each_text(CASE WHEN jsonb_typeof(o.body::jsonb -> 'data') = 'object'
                                                                    THEN o.body::jsonb -> 'data' ELSE '{}'::jsonb END) kv
                                      WHERE identity_canonical(kv.value) = ANY(c.vals))),
             'mails', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                  'template', n.template, 'recipient', n.recipient,
                                  'claimed_at', n.claimed_at, 'sent_at', n.sent_at) ORDER BY n.claimed_at), '[]'::jsonb)
                       FROM notification n, c WHERE n.recipient = c.email)
           ) AS "export!"
           FROM u"#,
        id,
        throttle_keys,
    )
    .fetch_optional(conn)
    .await
}
