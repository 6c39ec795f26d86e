//! Reading the caller's whole record, and the profile update (names, city) with
//! registration's validation (`hub_identity::fields`) and a `UserUpdated` event.
//! `"user".updated_at` is set by the database's trigger on every write.

use chrono::{DateTime, Utc};
use hub_events::{catalogue::UserUpdated, outbox};
use hub_identity::fields::{self, Field};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// The caller's own record, as `GET /api/account` shows it (never the password hash).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Account {
    /// Primary key.
    pub user_id: Uuid,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Whether `email` was confirmed.
    pub email_verified: bool,
    /// When `email` was confirmed (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub email_verified_at: Option<DateTime<Utc>>,
    /// The address of an email change waiting for its confirmation, if any.
    pub pending_email: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// City.
    pub city: String,
    /// National id.
    pub dni: String,
    /// When the row was last written (RFC 3339; null: not since the column exists).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The caller's record; `None` if the row is gone.
pub async fn read(conn: &mut PgConnection, id: Uuid) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as!(
        Account,
        r#"SELECT u.id AS user_id, u.username, u.email,
                  u.email_verified_at IS NOT NULL AS "email_verified!",
                  u.email_verified_at, c.email AS "pending_email?",
                  u.first_name, u.last_name, u.city, u.dni, u.updated_at
           FROM "user" u
           LEFT JOIN email_confirmation c
             ON c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > clock_timestamp()
           WHERE u.id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// What a profile update may change; an absent field is kept. Values are raw, as sent.
#[derive(Debug, Default, Clone)]
pub struct ProfileChange {
    /// New first name.
    pub first_name: Option<String>,
    /// New last name.
    pub last_name: Option<String>,
    /// New city.
    pub city: Option<String>,
}

impl ProfileChange {
    /// Registration's checks on each field given (trimmed, not empty, within the column,
    /// no control characters); at least one field. 400 with the first problem.
    fn checked(self) -> Result<Self, ApiError> {
        if self.first_name.is_none() && self.last_name.is_none() && self.city.is_none() {
            return Err(ApiError::BadRequest(
                "Nothing to update: give first_name, last_name or city".into(),
            ));
        }
        let check = |field, value: Option<String>| {
            value
                .map(|v| fields::checked(field, &v))
                .transpose()
                .map_err(|e| ApiError::BadRequest(e.to_string()))
        };
        Ok(Self {
            first_name: check(Field::FirstName, self.first_name)?,
            last_name: check(Field::LastName, self.last_name)?,
            city: check(Field::City, self.city)?,
        })
    }
}

/// Applies `change` to user `id` and answers the record as it is now. A change that
/// changes something records `UserUpdated` (with the fields it changed) in the same
/// transaction; one that changes nothing writes nothing (no event, `updated_at` kept).
/// Two updates at once are applied one after the other (the row lock), each event
/// carrying the values its update left.
pub async fn update(
    state: &AppState,
    id: Uuid,
    change: ProfileChange,
    correlation_id: String,
) -> Result<Account, ApiError> {
    let change = change.checked()?;
    let queue = state.user_queue.clone();
    hub_db::transaction(&state.pool, move |mut tx| async move {
        // Locked, so concurrent updates apply one after the other and each event says
        // what its own update changed.
        let old = sqlx::query!(
            r#"SELECT username, first_name, last_name, city FROM "user" WHERE id = $1 FOR NO KEY UPDATE"#,
            id,
        )
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ApiError::UserNotFound)?;
        let first_name = change.first_name.unwrap_or_else(|| old.first_name.clone());
        let last_name = change.last_name.unwrap_or_else(|| old.last_name.clone());
        let city = change.city.unwrap_or_else(|| old.city.clone());
        let changed: Vec<String> = [
            ("first_name", first_name != old.first_name),
            ("last_name", last_name != old.last_name),
            ("city", city != old.city),
        ]
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| name.to_owned())
        .collect();
        if !changed.is_empty() {
            let updated_at = sqlx::query_scalar!(
                r#"UPDATE "user" SET first_name = $2, last_name = $3, city = $4 WHERE id = $1
                   RETURNING updated_at AS "updated_at!""#,
                id,
                first_name,
                last_name,
                city,
            )
            .fetch_one(&mut *tx)
            .await?;
            let event = UserUpdated {
                user_id: id,
                username: old.username,
                first_name,
                last_name,
                city,
                changed,
                updated_at,
            };
            outbox::enqueue(&mut tx, &queue, &event, Some(&correlation_id)).await?;
            tracing::info!(user.id = %id, changed = ?event.changed, "profile updated");
        }
        let account = read(&mut tx, id).await?.ok_or(ApiError::UserNotFound)?;
        tx.commit().await?;
        Ok(account)
    })
    .await
}
