//! Refresh-token families and revocation (tables `token_family`, `refresh_token`, and
//! `"user".tokens_valid_after`; see the migration `refresh_tokens`). Shared by every
//! auth instance: each decision is one atomic statement, so two instances never both
//! rotate the same refresh token.

use std::time::Duration;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use hub_db::TxError;
use hub_identity::revocation::Standing;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Where a login came from, kept with its family for the logins lists.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client's address, as the deployment trusts it.
    pub address: Option<IpAddr>,
    /// Its `User-Agent` header, cut to [`USER_AGENT_MAX_CHARS`].
    pub user_agent: Option<String>,
}

/// How much of a `User-Agent` is kept.
pub const USER_AGENT_MAX_CHARS: usize = 256;

/// Opens a login's family `id` for `user_id`, refreshable for `lifetime`, with its first
/// refresh token (`digest`), from `origin`. Call inside the login's transaction.
pub async fn open_family(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
    lifetime: Duration,
    digest: &[u8],
    origin: &Origin,
) -> Result<(), sqlx::Error> {
    let address = origin.address.map(|a| a.to_string());
    sqlx::query!(
        r#"INSERT INTO token_family (id, user_id, expires_at, address, user_agent)
           VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3), $4, $5)"#,
        id,
        user_id,
        lifetime.as_secs_f64(),
        address.as_deref(),
        origin.user_agent.as_deref(),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO refresh_token (digest, family_id) VALUES ($1, $2)",
        digest,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// It was the family's current token: it is now rotated and `new` replaces it.
    Rotated {
        /// The family (the new access token's `sid`).
        family_id: Uuid,
        /// Its user.
        user_id: Uuid,
        /// The user's username now.
        username: String,
        /// The user's roles now.
        roles: Vec<String>,
    },
    /// It was rotated to `new` within the grace window (a second tab, a client
    /// retrying after a lost answer) and its family is alive: `new` is answered again.
    /// Nothing changed.
    Repeated {
        /// The family (the new access token's `sid`).
        family_id: Uuid,
        /// Its user.
        user_id: Uuid,
        /// The user's username now.
        username: String,
        /// The user's roles now.
        roles: Vec<String>,
    },
    /// It had been rotated before the grace window: someone else holds a copy. The
    /// family is revoked.
    Reused {
        /// The family now revoked.
        family_id: Uuid,
        /// Its user.
        user_id: Uuid,
    },
    /// Unknown; or its family is revoked, expired or cut off; or it was rotated within
    /// the grace window to a successor other than `new` (by the previous release, or
    /// by an instance signing with another key): nothing changed.
    Refused,
}

/// Rotates the refresh token `old` (digests) to `new`, its derived successor
/// (`hub_identity::revocation::SuccessorKey`), in one transaction.
///
/// Marking `old` rotated is one `UPDATE ... WHERE rotated_at IS NULL`: of concurrent
/// uses, on any instances, the first holds the row until it commits and the others then
/// find it rotated. Within `grace` of that rotation a later use is answered with the
/// same `new` (every instance derives the same one), so exactly one refresh token of
/// the family stays live; after it, a later use is a reuse and revokes the family.
/// Runs to completion even if the caller's future is dropped ([`hub_db::transaction`]).
pub async fn rotate(
    pool: &PgPool,
    old: Vec<u8>,
    new: Vec<u8>,
    grace: Duration,
) -> Result<Rotation, TxError> {
    hub_db::transaction(pool, move |mut tx| async move {
        let family = sqlx::query_scalar!(
            r#"UPDATE refresh_token SET rotated_at = clock_timestamp(), successor = $2
           WHERE digest = $1 AND rotated_at IS NULL
           RETURNING family_id"#,
            old,
            new,
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(family_id) = family else {
            let rotation = presented_again(&mut tx, &old, &new, grace).await?;
            tx.commit().await?;
            return Ok(rotation);
        };
        let Some((user_id, username, roles)) = live_family(&mut tx, family_id).await? else {
            tx.rollback().await?;
            return Ok(Rotation::Refused);
        };
        sqlx::query!(
            "INSERT INTO refresh_token (digest, family_id) VALUES ($1, $2)",
            new,
            family_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated {
            family_id,
            user_id,
            username,
            roles,
        })
    })
    .await
}

/// `old` is unknown or was rotated before: within the grace, to `new`, with the family
/// alive, it is [`Rotation::Repeated`]; within the grace otherwise, refused and nothing
/// changes; after the grace, its family is revoked (the first reason given stays).
async fn presented_again(
    conn: &mut PgConnection,
    old: &[u8],
    new: &[u8],
    grace: Duration,
) -> Result<Rotation, sqlx::Error> {
    let Some(seen) = sqlx::query!(
        r#"SELECT family_id,
                  successor IS NOT DISTINCT FROM $2 AS "same_successor!",
                  coalesce($3::float8 > 0 AND rotated_at > clock_timestamp() - make_interval(secs => $3),
                           false) AS "within_grace!"
           FROM refresh_token WHERE digest = $1"#,
        old,
        new,
        grace.as_secs_f64(),
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Rotation::Refused);
    };
    if seen.within_grace {
        if !seen.same_successor {
            return Ok(Rotation::Refused);
        }
        return Ok(match live_family(conn, seen.family_id).await? {
            Some((user_id, username, roles)) => Rotation::Repeated {
                family_id: seen.family_id,
                user_id,
                username,
                roles,
            },
            None => Rotation::Refused,
        });
    }
    let reused = sqlx::query!(
        r#"UPDATE token_family
           SET revoked_at = coalesce(revoked_at, clock_timestamp()),
               revoked_reason = coalesce(revoked_reason, 'reuse')
           WHERE id = $1
           RETURNING id, user_id"#,
        seen.family_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(match reused {
        Some(row) => Rotation::Reused {
            family_id: row.id,
            user_id: row.user_id,
        },
        None => Rotation::Refused,
    })
}

/// The user (id, username, roles) of family `id` if the family may still refresh: not
/// expired, not revoked, not opened before its user's `tokens_valid_after`, its user
/// not deactivated.
async fn live_family(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(Uuid, String, Vec<String>)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT f.user_id, u.username, u.roles, u.tokens_valid_after, f.created_at,
                  f.revoked_at IS NOT NULL AS "revoked!",
                  u.deactivated_at IS NOT NULL AS "deactivated!"
           FROM token_family f JOIN "user" u ON u.id = f.user_id
           WHERE f.id = $1 AND f.expires_at > clock_timestamp()"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row
        .filter(|r| {
            Standing::from_columns(r.tokens_valid_after, Some(r.created_at), Some(r.revoked))
                .deactivated(r.deactivated)
                .family_alive()
        })
        .map(|r| (r.user_id, r.username, r.roles)))
}

/// Revokes `user_id`'s family `id` (logout). Returns whether it was still open.
pub async fn revoke_family(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query!(
        r#"UPDATE token_family SET revoked_at = clock_timestamp(), revoked_reason = 'logout'
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"#,
        id,
        user_id
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Revokes every token `user_id` holds now: access tokens issued until now and every
/// family (so every refresh token). Returns whether the user exists.
pub async fn revoke_all(conn: &mut PgConnection, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let res = sqlx::query!(
        r#"UPDATE "user" SET tokens_valid_after = clock_timestamp() WHERE id = $1"#,
        user_id
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// One live login of a user, as the logins lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The family id (its access tokens' `sid`).
    pub id: Uuid,
    /// When the login was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used to refresh (its newest rotation), else its creation.
    pub last_used_at: DateTime<Utc>,
    /// When its refresh tokens stop working.
    pub expires_at: DateTime<Utc>,
    /// The client's address (unknown for logins made by the previous release).
    pub address: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// `user_id`'s live logins, most recently used first: not revoked, not expired, not cut
/// off by `tokens_valid_after`. A deactivated user's families are listed as they stand
/// (none of them works while deactivated).
pub async fn logins(conn: &mut PgConnection, user_id: Uuid) -> Result<Vec<Login>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT f.id, f.created_at, f.expires_at, f.address, f.user_agent,
                  coalesce((SELECT max(r.rotated_at) FROM refresh_token r WHERE r.family_id = f.id),
                           f.created_at) AS "last_used_at!"
           FROM token_family f JOIN "user" u ON u.id = f.user_id
           WHERE f.user_id = $1 AND f.revoked_at IS NULL AND f.expires_at > clock_timestamp()
             AND (u.tokens_valid_after IS NULL OR f.created_at > u.tokens_valid_after)
           ORDER BY 6 DESC, f.id"#,
        user_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Login {
            id: r.id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            address: r.address,
            user_agent: r.user_agent,
        })
        .collect())
}

/// Revokes every live login of `user_id` except `keep` (all of them when `None`), after
/// checking, under the user row's lock, that `keep` itself is still live: of two
/// logins revoking each other's at once, on any instances, the first wins and the
/// second finds its own login revoked. Returns how many were revoked, or `None` when
/// `keep` is no longer live (or the user is gone).
pub async fn revoke_others(
    pool: &PgPool,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<Option<u64>, TxError> {
    hub_db::transaction(pool, move |mut tx| async move {
        let user = sqlx::query_scalar!(
            r#"SELECT id FROM "user" WHERE id = $1 FOR NO KEY UPDATE"#,
            user_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        if user.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        if let Some(keep) = keep
            && live_family(&mut tx, keep)
                .await?
                .is_none_or(|(owner, ..)| owner != user_id)
        {
            tx.rollback().await?;
            return Ok(None);
        }
        let res = sqlx::query!(
            r#"UPDATE token_family SET revoked_at = clock_timestamp(), revoked_reason = 'logout'
               WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2"#,
            user_id,
            keep as Option<Uuid>,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(res.rows_affected()))
    })
    .await
}

/// Deletes families that can no longer matter: expired, or revoked, more than `after`
/// ago (the access-token lifetime: a token of a deleted family is refused anyway, as
/// its family is gone). Their refresh tokens go with them.
pub async fn prune(conn: &mut PgConnection, after: Duration) -> Result<u64, sqlx::Error> {
    let res = sqlx::query!(
        r#"DELETE FROM token_family
           WHERE expires_at < now() - make_interval(secs => $1)
              OR revoked_at < now() - make_interval(secs => $1)"#,
        after.as_secs_f64()
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}
