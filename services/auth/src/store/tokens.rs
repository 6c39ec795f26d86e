//! Refresh-token families and revocation (tables `token_family`, `refresh_token`, and
//! `"user".tokens_valid_after`; see the migration `refresh_tokens`). Shared by every
//! auth instance: each decision is one atomic statement, so two instances never both
//! rotate the same refresh token.

use std::time::Duration;

use hub_db::TxError;
use hub_identity::revocation::Standing;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Opens a login's family `id` for `user_id`, refreshable for `lifetime`, with its first
/// refresh token (`digest`). Call inside the login's transaction.
pub async fn open_family(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
    lifetime: Duration,
    digest: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO token_family (id, user_id, expires_at)
           VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))"#,
        id,
        user_id,
        lifetime.as_secs_f64(),
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
        let Some((user_id, username)) = live_family(&mut tx, family_id).await? else {
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
            Some((user_id, username)) => Rotation::Repeated {
                family_id: seen.family_id,
                user_id,
                username,
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

/// The user (id, username) of family `id` if the family may still refresh: not
/// expired, not revoked, not opened before its user's `tokens_valid_after`.
async fn live_family(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT f.user_id, u.username, u.tokens_valid_after, f.created_at,
                  f.revoked_at IS NOT NULL AS "revoked!"
           FROM token_family f JOIN "user" u ON u.id = f.user_id
           WHERE f.id = $1 AND f.expires_at > clock_timestamp()"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row
        .filter(|r| {
            Standing::from_columns(r.tokens_valid_after, Some(r.created_at), Some(r.revoked))
                .family_alive()
        })
        .map(|r| (r.user_id, r.username)))
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
