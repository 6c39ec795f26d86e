//! Administration of users: list (paginated, filtered), read one, deactivate and
//! reactivate; and the operator's grant and revocation of the admin role.
//!
//! Deactivation sets `"user".deactivated_at` and `tokens_valid_after` in one statement:
//! from its commit no login, no refresh, and no token of the user is admitted anywhere
//! (`hub_identity::revocation::Standing` reads `deactivated_at`; the previous release,
//! which does not, still refuses every token issued until then by `tokens_valid_after`).
//! Reactivation sets `tokens_valid_after` again, so a token a login racing the
//! deactivation may have obtained never comes back to life: the user logs in afresh.

use chrono::{DateTime, Utc};
use hub_events::{
    catalogue::{UserDeactivated, UserReactivated},
    outbox::{self, OutboxError},
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::state::AppState;

/// The only role there is.
pub const ADMIN: &str = "admin";

/// The most users one page holds, and the default.
pub const MAX_PAGE: u32 = 200;
/// Users per page when the request does not say.
pub const DEFAULT_PAGE: u32 = 50;

/// A user as an administrator sees it: no password hash, no document number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Primary key.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// City.
    pub city: String,
    /// When an administrator deactivated it (`None`: active).
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Granted roles.
    pub roles: Vec<String>,
}

/// Which users a page lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Username or email starts with this (case-insensitive).
    pub prefix: Option<String>,
    /// Only active (`true`) or only deactivated (`false`) accounts.
    pub active: Option<bool>,
    /// Users after this username (the previous page's `next_cursor`).
    pub cursor: Option<String>,
    /// At most this many (1..=[`MAX_PAGE`]).
    pub limit: u32,
}

/// One page of users, by username.
#[derive(Debug, Clone)]
pub struct Page {
    /// The users.
    pub users: Vec<UserRecord>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// `text` as a `LIKE` pattern matching itself literally (escape `\`).
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A page of users ordered by username (keyset pagination: stable while users come
/// and go).
pub async fn list(pool: &PgPool, filter: Filter) -> Result<Page, sqlx::Error> {
    let limit = filter.limit.clamp(1, MAX_PAGE);
    let prefix = filter.prefix.as_deref().map(like_literal);
    let mut users = sqlx::query_as!(
        UserRecord,
        r#"SELECT id, username, email, first_name, last_name, city, deactivated_at, roles
           FROM "user"
           WHERE ($1::text IS NULL
                  OR lower(username) LIKE lower($1) || '%'
                  OR lower(email) LIKE lower($1) || '%')
             AND ($2::bool IS NULL OR (deactivated_at IS NULL) = $2)
             AND ($3::text IS NULL OR username > $3)
           ORDER BY username
           LIMIT $4"#,
        prefix,
        filter.active,
        filter.cursor,
        i64::from(limit) + 1,
    )
    .fetch_all(&mut *pool.acquire().await?)
    .await?;
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let next_cursor = more
        .then(|| users.last().map(|u| u.username.clone()))
        .flatten();
    Ok(Page { users, next_cursor })
}

/// The user `id`, if any.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<UserRecord>, sqlx::Error> {
    sqlx::query_as!(
        UserRecord,
        r#"SELECT id, username, email, first_name, last_name, city, deactivated_at, roles
           FROM "user" WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut *pool.acquire().await?)
    .await
}

/// Why an account's state did not change.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No such user.
    #[error("no such user")]
    NotFound,
    /// An administrator may not deactivate their own account (nobody could undo it
    /// but an operator).
    #[error("an administrator cannot deactivate their own account")]
    Oneself,
    /// A query failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The event could not be written.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The runtime shut down before the change was written.
    #[error(transparent)]
    Interrupted(#[from] hub_db::Interrupted),
}

impl From<hub_db::TxError> for AccountError {
    fn from(e: hub_db::TxError) -> Self {
        e.into_error()
    }
}

/// Deactivates (`active == false`) or reactivates user `id`, by administrator `by`, and
/// answers the user as it stands after. Idempotent: an account already in that state is
/// left as it is (no event). The change and its event (`UserDeactivated`,
/// `UserReactivated`) commit together.
pub async fn set_active(
    state: &AppState,
    by: Uuid,
    id: Uuid,
    active: bool,
) -> Result<UserRecord, AccountError> {
    if !active && by == id {
        return Err(AccountError::Oneself);
    }
    let queue = state.queue.clone();
    let changed = hub_db::transaction(&state.pool, move |mut tx| async move {
        // Both set tokens_valid_after: deactivating ends every token now; reactivating
        // ends any a racing login obtained meanwhile (refused while deactivated anyway).
        let changed = if active {
            sqlx::query!(
                r#"UPDATE "user" SET deactivated_at = NULL, tokens_valid_after = clock_timestamp()
                   WHERE id = $1 AND deactivated_at IS NOT NULL"#,
                id
            )
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query!(
                r#"UPDATE "user" SET deactivated_at = clock_timestamp(),
                                     tokens_valid_after = clock_timestamp()
                   WHERE id = $1 AND deactivated_at IS NULL"#,
                id
            )
            .execute(&mut *tx)
            .await?
        }
        .rows_affected()
            == 1;
        if changed {
            if active {
                let event = UserReactivated { user_id: id, by };
                outbox::enqueue(&mut tx, &queue, &event, None).await?;
            } else {
                let event = UserDeactivated { user_id: id, by };
                outbox::enqueue(&mut tx, &queue, &event, None).await?;
            }
        }
        tx.commit().await?;
        Ok::<_, AccountError>(changed)
    })
    .await?;
    if changed {
        tracing::info!(user.id = %id, admin.id = %by, active, "account state changed");
    }
    find(&state.pool, id).await?.ok_or(AccountError::NotFound)
}

/// Grants (`grant`) or revokes role `role` of the account whose username or email is
/// `login` (operator command). Returns the user's id and whether anything changed, or
/// `None` for no such account.
pub async fn set_role(
    pool: &PgPool,
    login: &str,
    role: &str,
    grant: bool,
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let Some(user) = crate::store::users::find_by_login(&mut conn, login).await? else {
        return Ok(None);
    };
    let changed = if grant {
        sqlx::query!(
            r#"UPDATE "user" SET roles = array_append(roles, $2)
               WHERE id = $1 AND NOT ($2 = ANY (roles))"#,
            user.id,
            role
        )
        .execute(&mut *conn)
        .await?
    } else {
        sqlx::query!(
            r#"UPDATE "user" SET roles = array_remove(roles, $2)
               WHERE id = $1 AND $2 = ANY (roles)"#,
            user.id,
            role
        )
        .execute(&mut *conn)
        .await?
    }
    .rows_affected()
        == 1;
    Ok(Some((user.id, changed)))
}

/// The users holding `role` (id, username), by username.
pub async fn holders(pool: &PgPool, role: &str) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, username FROM "user" WHERE $1 = ANY (roles) ORDER BY username"#,
        role
    )
    .fetch_all(&mut *pool.acquire().await?)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.username)).collect())
}
