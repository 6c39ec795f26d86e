//! Revocation: what makes a correctly signed, unexpired token unacceptable, and the
//! refresh tokens that come with a login.
//!
//! A login opens a *family* (a row of `token_family`, its id the access tokens' `sid`
//! claim). Logout, or a refresh token presented twice (reuse), revokes the family; an
//! operator's "revoke all" or a password change sets the user's `tokens_valid_after`,
//! which revokes every family opened until then. Every service that accepts a token
//! reads the user row and the family in one indexed query on each request and asks
//! [`Standing::admits`]: auth's `/profile` in the user-row read it already makes, the
//! others (session, images, user-lookup) through [`check`] (feature `postgres`), the one
//! copy of that read. Tokens minted by the originals have no `sid`: only
//! `tokens_valid_after` can revoke them, by their `iat`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::jwt::Verified;

/// What the database says about a token's user and family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// `"user".tokens_valid_after`: tokens issued (families opened) until then are revoked.
    pub tokens_valid_after: Option<DateTime<Utc>>,
    /// The token's family, if it has a `sid` and the row exists.
    pub family: Option<Family>,
}

/// One login's family of tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// When the login opened it.
    pub created_at: DateTime<Utc>,
    /// Revoked (logout, reuse).
    pub revoked: bool,
}

impl Standing {
    /// From the columns a query reads: `"user".tokens_valid_after`, and the family's
    /// `created_at` and whether it is revoked (both `None` when no family row matched).
    pub fn from_columns(
        tokens_valid_after: Option<DateTime<Utc>>,
        family_created_at: Option<DateTime<Utc>>,
        family_revoked: Option<bool>,
    ) -> Self {
        Self {
            tokens_valid_after,
            family: family_created_at.map(|created_at| Family {
                created_at,
                revoked: family_revoked.unwrap_or(true),
            }),
        }
    }

    /// Whether `token` is still good: its family exists, is not revoked and was opened
    /// after `tokens_valid_after`; a token without `sid` must have an `iat` in a later
    /// second than `tokens_valid_after` when that is set.
    pub fn admits(&self, token: &Verified) -> bool {
        match token.sid {
            Some(_) => self.family_alive(),
            None => self
                .tokens_valid_after
                .is_none_or(|cut| token.claims.iat.is_some_and(|iat| iat > cut.timestamp())),
        }
    }

    /// Whether the family exists, is not revoked and was opened after
    /// `tokens_valid_after`.
    pub fn family_alive(&self) -> bool {
        self.family.as_ref().is_some_and(|f| {
            !f.revoked && self.tokens_valid_after.is_none_or(|cut| f.created_at > cut)
        })
    }
}

/// What the database says of a verified token ([`check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Its user exists and it is not revoked.
    Admitted,
    /// Its user is no longer in `"user"`.
    UnknownUser,
    /// Revoked: its family was (logout, refresh-token reuse), or `tokens_valid_after`
    /// cut it off (password change, operator).
    Revoked,
}

/// What revokes a token of user `user_id` whose `sid` is `sid`, or `None` if no such
/// user: one indexed read (two primary-key lookups), made on every request that carries
/// a token.
#[cfg(feature = "postgres")]
pub async fn standing(
    db: impl sqlx::PgExecutor<'_>,
    user_id: uuid::Uuid,
    sid: Option<uuid::Uuid>,
) -> Result<Option<Standing>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.tokens_valid_after, f.created_at AS "family_created_at?",
                  f.revoked_at IS NOT NULL AS "family_revoked?"
           FROM "user" u
           LEFT JOIN token_family f ON f.id = $2 AND f.user_id = u.id
           WHERE u.id = $1"#,
        user_id,
        sid as Option<uuid::Uuid>,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        Standing::from_columns(r.tokens_valid_after, r.family_created_at, r.family_revoked)
    }))
}

/// Whether the verified `token` still stands: [`standing`], then [`Standing::admits`].
/// An error is the database's: the caller answers 503 (or 500), never accepts the token.
#[cfg(feature = "postgres")]
pub async fn check(db: impl sqlx::PgExecutor<'_>, token: &Verified) -> Result<Check, sqlx::Error> {
    Ok(match standing(db, token.claims.user_id, token.sid).await? {
        None => Check::UnknownUser,
        Some(standing) if standing.admits(token) => Check::Admitted,
        Some(_) => Check::Revoked,
    })
}

/// A new refresh token: 256 random bits, base64url (43 characters), and the digest to
/// store. The token itself is never stored.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut raw = [0u8; 32];
    crate::password::fill_random(&mut raw);
    let token = B64URL.encode(raw);
    let digest = refresh_digest(&token);
    (token, digest)
}

/// The stored form of a refresh token: SHA-256 of its text. (A fast hash is enough: the
/// token is random, so there is nothing to guess from the digest.)
pub fn refresh_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;
    use crate::jwt::claims_for;

    fn token(sid: Option<Uuid>, iat: Option<i64>) -> Verified {
        let mut claims = claims_for(Duration::from_secs(60), Uuid::new_v4(), "u");
        claims.iat = iat;
        Verified { claims, sid }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 500_000_000).unwrap()
    }

    #[test]
    fn a_family_admits_its_tokens_until_revoked_or_cut_off() {
        let sid = Some(Uuid::new_v4());
        let alive = |created, revoked, cut| Standing {
            tokens_valid_after: cut,
            family: Some(Family {
                created_at: at(created),
                revoked,
            }),
        };
        assert!(alive(100, false, None).admits(&token(sid, Some(100))));
        assert!(!alive(100, true, None).admits(&token(sid, Some(100))));
        assert!(!alive(100, false, Some(at(100))).admits(&token(sid, Some(200))));
        assert!(alive(101, false, Some(at(100))).admits(&token(sid, Some(101))));
        let missing = Standing {
            tokens_valid_after: None,
            family: None,
        };
        assert!(
            !missing.admits(&token(sid, Some(100))),
            "unknown or pruned family"
        );
    }

    #[test]
    fn tokens_without_a_family_are_cut_off_by_their_iat() {
        let cut = Standing {
            tokens_valid_after: Some(at(100)),
            family: None,
        };
        assert!(!cut.admits(&token(None, Some(99))));
        assert!(!cut.admits(&token(None, Some(100))), "same second: refused");
        assert!(cut.admits(&token(None, Some(101))));
        assert!(
            !cut.admits(&token(None, None)),
            "no iat: cannot be shown later"
        );
        let never = Standing {
            tokens_valid_after: None,
            family: None,
        };
        assert!(never.admits(&token(None, None)));
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_as_digests() {
        let (a, da) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(refresh_digest(&a), da);
        assert_eq!(da.len(), 32);
    }
}
