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
//!
//! A refresh token's successor is not random: it is derived from the token it replaces
//! with a keyed hash ([`SuccessorKey`]), so that every instance that sees the same
//! token presented twice within the grace window can answer the same successor,
//! although the database keeps only digests.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::jwt::Verified;

/// What the database says about a token's user and family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// `"user".tokens_valid_after`: tokens issued (families opened) until then are revoked.
    pub tokens_valid_after: Option<DateTime<Utc>>,
    /// The token's family, if it has a `sid` and the row exists.
    pub family: Option<Family>,
    /// `"user".deactivated_at` is set: an administrator deactivated the account, and
    /// none of its tokens is admitted until it is reactivated (which also sets
    /// `tokens_valid_after`, so what was issued before stays refused).
    pub deactivated: bool,
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
            deactivated: false,
        }
    }

    /// The same, for a user whose account is deactivated (`"user".deactivated_at` set)
    /// or not.
    #[must_use]
    pub fn deactivated(mut self, deactivated: bool) -> Self {
        self.deactivated = deactivated;
        self
    }

    /// Whether `token` is still good: its user is not deactivated; its family exists, is not revoked and was opened
    /// after `tokens_valid_after`; a token without `sid` must have an `iat` in a later
    /// second than `tokens_valid_after` when that is set.
    pub fn admits(&self, token: &Verified) -> bool {
        if self.deactivated {
            return false;
        }
        match token.sid {
            Some(_) => self.family_alive(),
            None => self
                .tokens_valid_after
                .is_none_or(|cut| token.claims.iat.is_some_and(|iat| iat > cut.timestamp())),
        }
    }

    /// Whether the family exists, is not revoked and was opened after
    /// `tokens_valid_after`, and its user is not deactivated.
    pub fn family_alive(&self) -> bool {
        !self.deactivated
            && self.family.as_ref().is_some_and(|f| {
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
    /// Revoked: its family was (logout, refresh-token reuse, a login revoked from the
    /// logins list), or `tokens_valid_after` cut it off (password change, operator), or
    /// its user is deactivated.
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
                  f.revoked_at IS NOT NULL AS "family_revoked?",
                  u.deactivated_at IS NOT NULL AS "deactivated!"
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
            .deactivated(r.deactivated)
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

/// The key that derives a refresh token's successor: HMAC-SHA256 of the presented
/// token's text. Derived in turn from the issuer's signing secret (the HS256 secret, or
/// the Ed25519 private key), so every auth instance has the same one with nothing more
/// to configure, and nobody without that secret can compute a successor: a stolen
/// refresh token, once rotated, cannot be turned into its successor offline and used
/// without being presented (which reuse detection sees). `Debug` shows nothing.
#[derive(Clone)]
pub struct SuccessorKey([u8; 32]);

impl std::fmt::Debug for SuccessorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuccessorKey(..)")
    }
}

/// What the subkey is for. A JWT's HS256 signing input always holds a `.` and this
/// label none, so the subkey is never the MAC of anything the secret also signs.
const SUCCESSOR_LABEL: &[u8] = b"hub-identity refresh-token successor key v1";

impl SuccessorKey {
    /// The subkey of `secret` (the signing material): HMAC-SHA256(secret, label).
    pub(crate) fn derive(secret: &[u8]) -> Self {
        Self(hmac_sha256(secret, SUCCESSOR_LABEL))
    }

    /// The successor of the refresh token `presented`: its text (43 characters of
    /// base64url, like a login's first token) and the digest to store. The same for the
    /// same `presented` on every instance.
    pub fn successor(&self, presented: &str) -> (String, Vec<u8>) {
        let token = B64URL.encode(hmac_sha256(&self.0, presented.as_bytes()));
        let digest = refresh_digest(&token);
        (token, digest)
    }
}

/// What the one-time-code subkey is for (distinct from [`SUCCESSOR_LABEL`]).
const CODE_LABEL: &[u8] = b"hub-identity one-time code digest key v1";

impl SuccessorKey {
    /// The stored form of a one-time code (a password reset's): HMAC-SHA256 of its
    /// text under a subkey of the signing secret, so a copy of the table (a backup, a
    /// replica) gives nothing to present, and every instance computes the same digest.
    /// A code issued before the signing secret changes no longer matches (codes live
    /// minutes).
    pub fn code_digest(&self, code: &str) -> Vec<u8> {
        hmac_sha256(&hmac_sha256(&self.0, CODE_LABEL), code.as_bytes()).to_vec()
    }
}

/// A new one-time code: 128 random bits as 32 lower-case hex characters (nothing to
/// guess within its lifetime, so presenting codes needs no attempt limit).
pub fn new_one_time_code() -> String {
    let mut raw = [0u8; 16];
    crate::password::fill_random(&mut raw);
    hex::encode(raw)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of every length")
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
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
            deactivated: false,
        };
        assert!(alive(100, false, None).admits(&token(sid, Some(100))));
        assert!(!alive(100, true, None).admits(&token(sid, Some(100))));
        assert!(!alive(100, false, Some(at(100))).admits(&token(sid, Some(200))));
        assert!(alive(101, false, Some(at(100))).admits(&token(sid, Some(101))));
        let missing = Standing {
            tokens_valid_after: None,
            family: None,
            deactivated: false,
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
            deactivated: false,
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
            deactivated: false,
        };
        assert!(never.admits(&token(None, None)));
    }

    #[test]
    fn a_deactivated_user_has_no_token_admitted() {
        let sid = Uuid::new_v4();
        let alive = Standing::from_columns(None, Some(at(100)), Some(false));
        assert!(alive.admits(&token(Some(sid), Some(100))));
        let off = alive.deactivated(true);
        assert!(!off.admits(&token(Some(sid), Some(100))));
        assert!(!off.family_alive(), "no refresh either");
        let legacy = Standing::from_columns(None, None, None).deactivated(true);
        assert!(
            !legacy.admits(&token(None, Some(100))),
            "nor a token without sid"
        );
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

    #[test]
    fn a_successor_is_the_same_for_the_same_token_and_key_and_unguessable_without_the_key() {
        let key = SuccessorKey::derive(b"secret material");
        let (token, _) = new_refresh_token();
        let (s1, d1) = key.successor(&token);
        let (s2, d2) = SuccessorKey::derive(b"secret material").successor(&token);
        assert_eq!((&s1, &d1), (&s2, &d2), "every instance derives the same");
        assert_eq!(s1.len(), 43);
        assert_eq!(refresh_digest(&s1), d1);
        assert_ne!(s1, token);
        assert_ne!(key.successor(&new_refresh_token().0).0, s1, "another token");
        assert_ne!(
            SuccessorKey::derive(b"other material").successor(&token).0,
            s1,
            "another key"
        );
        // Neither the token's digest (what the database holds) nor the token alone
        // gives the successor: an unkeyed hash of either is something else.
        assert_ne!(B64URL.encode(Sha256::digest(token.as_bytes())), s1);
        assert_eq!(format!("{key:?}"), "SuccessorKey(..)");
        // RFC 4231 test case 2: the MAC is HMAC-SHA256.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
