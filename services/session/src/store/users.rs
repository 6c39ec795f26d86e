//! The shared `"user"` table, as session reads it.

use hub_identity::revocation::Standing;
use sqlx::PgPool;
use uuid::Uuid;

/// What revokes a token of user `id` whose `sid` is `sid`, or `None` if no such user:
/// one indexed read (two primary-key lookups) per request.
pub async fn standing(
    pool: &PgPool,
    id: Uuid,
    sid: Option<Uuid>,
) -> Result<Option<Standing>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.tokens_valid_after, f.created_at AS "family_created_at?",
                  f.revoked_at IS NOT NULL AS "family_revoked?"
           FROM "user" u
           LEFT JOIN token_family f ON f.id = $2 AND f.user_id = u.id
           WHERE u.id = $1"#,
        id,
        sid as Option<Uuid>,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| {
        Standing::from_columns(r.tokens_valid_after, r.family_created_at, r.family_revoked)
    }))
}
