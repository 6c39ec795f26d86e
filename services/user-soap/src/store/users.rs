//! Inserting into the shared `"user"` table.

use sqlx::PgConnection;
use uuid::Uuid;

/// A validated registration, password already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Primary key (random v4, as the original's `SecureRandom.uuid`).
    pub id: Uuid,
    /// Username.
    pub username: String,
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
    /// `user_username_key` or `user_username_canonical_key`.
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
/// confuse them.
///
/// No race: rows registered from now on are unique among themselves by the database
/// (the `*_canonical_key` indexes); only legacy rows, which no registration creates,
/// are checked here; and a new username holds no `@` while a new email always does.
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
    .fetch_one(conn)
    .await?;
    Ok(if row.username {
        Some(Taken::Username)
    } else if row.email {
        Some(Taken::Email)
    } else {
        None
    })
}

/// Inserts `user`; a unique violation is reported by constraint name.
pub async fn insert(conn: &mut PgConnection, user: &NewUser) -> Result<(), InsertError> {
    let res = sqlx::query!(
        r#"INSERT INTO "user" (id, username, password, first_name, last_name, dni, email, city, canonical_unique)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true)"#,
        user.id,
        user.username,
        user.password_hash,
        user.first_name,
        user.last_name,
        user.dni,
        user.email,
        user.city,
    )
    .execute(conn)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            let taken = match db.constraint() {
                Some("user_username_key" | "user_username_canonical_key") => Taken::Username,
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
