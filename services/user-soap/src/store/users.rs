//! Inserting into the shared `"user"` table, and filling older rows' look-alike keys.

use futures_util::TryStreamExt as _;
use hub_db::TxError;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::look_alike;

/// A validated registration, password already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Primary key (random v4, as the original's `SecureRandom.uuid`).
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// The username's look-alike key ([`look_alike::username_skeleton`]).
    pub username_skeleton: String,
    /// PHC password hash.
    pub password_hash: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// National id.
    pub dni: String,
    /// Email.
    pub email: String,
    /// City.
    pub city: String,
}

/// Which unique value was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// `user_username_key`, `user_username_canonical_key` or
    /// `user_username_skeleton_key` (a look-alike).
    Username,
    /// `user_dni_key`.
    Dni,
    /// `user_email_key` or `user_email_canonical_key`.
    Email,
    /// `user_pkey` (a UUID collision: practically never).
    Id,
}

impl Taken {
    /// The field name, for events and logs.
    pub fn field(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Dni => "dni",
            Self::Email => "email",
            Self::Id => "id",
        }
    }
}

/// Why an insert failed.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// A unique constraint of the original table.
    #[error("duplicate {}", .0.field())]
    Duplicate(Taken),
    /// Anything else.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `user`'s username or email is taken in a way the unique constraints cannot
/// see: canonically (see the migration `user_canonical`: case, width, composed or
/// decomposed accents) by a row stored before that rule, or across columns (a username
/// equal to an existing email, or the reverse), in either case as auth's login would
/// confuse them; or, for the username, by a look-alike (see [`look_alike`]) stored
/// before the migration `username_skeleton`.
///
/// No race: rows registered from now on are unique among themselves by the database
/// (the `*_canonical_key` and `user_username_skeleton_key` indexes); only legacy rows,
/// which no registration creates, are checked here; and a new username holds no `@`
/// while a new email always does.
pub async fn taken_elsewhere(
    conn: &mut PgConnection,
    user: &NewUser,
) -> Result<Option<Taken>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT
             EXISTS (SELECT 1 FROM "user"
                     WHERE identity_canonical(email) = identity_canonical($1)
                        OR (NOT canonical_unique AND identity_canonical(username) = identity_canonical($1)))
               AS "username!",
             EXISTS (SELECT 1 FROM "user"
                     WHERE identity_canonical(username) = identity_canonical($2)
                        OR (NOT canonical_unique AND identity_canonical(email) = identity_canonical($2)))
               AS "email!""#,
        user.username,
        user.email,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(
        if row.username || legacy_look_alike(conn, &user.username_skeleton).await? {
            Some(Taken::Username)
        } else if row.email {
            Some(Taken::Email)
        } else {
            None
        },
    )
}

/// Whether a legacy row (not in `user_username_skeleton_key`) has the look-alike key
/// `key`: by its stored key, or, for a row whose key is not filled yet, by computing it.
/// One statement, so one snapshot: a row the backfill fills meanwhile is seen either
/// way. The rows still unfilled are few once the start-up backfill has run (those an
/// older writer inserted since the last minute's); they are read one at a time.
async fn legacy_look_alike(conn: &mut PgConnection, key: &str) -> Result<bool, sqlx::Error> {
    let mut rows = sqlx::query!(
        r#"(SELECT username AS "username!", username_skeleton FROM "user"
            WHERE username_skeleton = $1 AND NOT username_skeleton_unique
            LIMIT 1)
           UNION ALL
           SELECT username, username_skeleton FROM "user" WHERE username_skeleton IS NULL"#,
        key,
    )
    .fetch(conn);
    while let Some(row) = rows.try_next().await? {
        let alike = match row.username_skeleton {
            Some(stored) => stored == key,
            None => look_alike::username_skeleton(&row.username) == key,
        };
        if alike {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Inserts `user`; a unique violation is reported by constraint name.
pub async fn insert(conn: &mut PgConnection, user: &NewUser) -> Result<(), InsertError> {
    let res = sqlx::query!(
        r#"INSERT INTO "user" (id, username, password, first_name, last_name, dni, email, city,
                              canonical_unique, username_skeleton, username_skeleton_unique)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true, $9, true)"#,
        user.id,
        user.username,
        user.password_hash,
        user.first_name,
        user.last_name,
        user.dni,
        user.email,
        user.city,
        user.username_skeleton,
    )
    .execute(conn)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            let taken = match db.constraint() {
                Some(
                    "user_username_key"
                    | "user_username_canonical_key"
                    | "user_username_skeleton_key",
                ) => Taken::Username,
                Some("user_dni_key") => Taken::Dni,
                Some("user_email_key" | "user_email_canonical_key") => Taken::Email,
                Some("user_pkey") => Taken::Id,
                _ => return Err(InsertError::Db(sqlx::Error::Database(db))),
            };
            Err(InsertError::Duplicate(taken))
        }
        Err(e) => Err(e.into()),
    }
}

/// Rows the backfill fills per transaction.
const FILL_BATCH: u16 = 500;

/// Fills the look-alike key of every row that has none (rows written before the
/// migration `username_skeleton`, or since by an older writer), [`FILL_BATCH`] rows per
/// transaction; returns how many it filled. The rows stay legacy
/// (`username_skeleton_unique` false): their keys may collide with each other.
///
/// Idempotent and safe on any number of instances at once: each batch locks the rows it
/// takes and skips rows another instance holds, and writes only keys still missing.
/// Stops at the first short batch (what is left is another instance's, or new). The
/// lock (`FOR NO KEY UPDATE`, what the update takes anyway) does not hold up logins,
/// whose `token_family` rows only key-share the user row.
pub async fn fill_skeletons(pool: &PgPool) -> Result<u64, TxError> {
    let mut filled = 0;
    loop {
        let (taken, batch) = hub_db::transaction(pool, |mut tx| async move {
            let rows = sqlx::query!(
                r#"SELECT id, username FROM "user" WHERE username_skeleton IS NULL
               ORDER BY id LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED"#,
                i64::from(FILL_BATCH),
            )
            .fetch_all(&mut *tx)
            .await?;
            let taken = rows.len();
            let (ids, keys): (Vec<Uuid>, Vec<String>) = rows
                .into_iter()
                .map(|row| (row.id, look_alike::username_skeleton(&row.username)))
                .unzip();
            let mut batch = 0;
            if !ids.is_empty() {
                batch = sqlx::query!(
                    r#"UPDATE "user" AS u SET username_skeleton = v.key
                   FROM UNNEST($1::uuid[], $2::text[]) AS v(id, key)
                   WHERE u.id = v.id AND u.username_skeleton IS NULL"#,
                    &ids,
                    &keys,
                )
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok::<_, TxError>((taken, batch))
        })
        .await?;
        filled += batch;
        if taken < usize::from(FILL_BATCH) {
            return Ok(filled);
        }
    }
}
