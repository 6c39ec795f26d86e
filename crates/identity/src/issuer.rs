//! The token issuer (auth): signs access tokens, verifies its own, publishes its
//! public keys.
//!
//! `JWT_ALGORITHM` chooses how:
//!
//! * `EdDSA`: signed with the Ed25519 private key `JWT_SIGNING_KEY` (PKCS#8 PEM; a
//!   secret, also readable from `JWT_SIGNING_KEY_FILE`), its `kid` the key's RFC 7638
//!   thumbprint. The public keys in `JWT_ADDITIONAL_PUBLIC_KEYS` (PEM, one or more
//!   blocks; also `_FILE`) are published and accepted beside it: the next key before a
//!   rotation, the previous one after it, until its last tokens have expired. Verifiers
//!   need no secret: they read `GET /.well-known/jwks.json`.
//! * `HS256`: the shared secret `SECRET_KEY` / `JWT_SECRET`, as the originals, for
//!   deployments where an original service still verifies tokens. Nothing is published.
//!
//! Default: `EdDSA` when `JWT_SIGNING_KEY` is set, else `HS256`, so an existing
//! deployment keeps working unchanged.
//!
//! Either secret also yields, through a labelled HMAC, the key that derives refresh
//! tokens' successors ([`SuccessorKey`]): the same on every instance that signs with
//! the same secret.

use std::{sync::Arc, time::Duration};

use hub_config::{ConfigError, Vars};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    jwt::{self, Claims, JwtKeys, TokenError, Verified},
    keys::{self, KeySet, PublicKey, SigningKey},
    revocation::SuccessorKey,
};

/// Signs and verifies auth's tokens. Cheap to clone; `Debug` shows no key material.
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    mode: Mode,
    successor: SuccessorKey,
}

enum Mode {
    Hs256(JwtKeys),
    EdDsa {
        signing: SigningKey,
        verifying: KeySet,
        jwks: Value,
    },
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Issuer");
        s.field("algorithm", &self.algorithm())
            .field("ttl", &self.inner.ttl);
        if let Mode::EdDsa { signing, .. } = &self.inner.mode {
            s.field("kid", &signing.public().kid());
        }
        s.finish()
    }
}

impl Issuer {
    /// Reads `JWT_ALGORITHM`, its keys (see the module docs) and `JWT_TTL_SECS`
    /// (default 3600, the original's hour). Every problem names its variable, never a
    /// key.
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let ttl = vars.seconds_or("JWT_TTL_SECS", Duration::from_secs(3600))?;
        let signing_pem = vars.secret("JWT_SIGNING_KEY")?;
        let eddsa = match vars.string("JWT_ALGORITHM").as_deref() {
            None => signing_pem.is_some(),
            Some(a) if a.eq_ignore_ascii_case("EdDSA") => true,
            Some(a) if a.eq_ignore_ascii_case("HS256") => false,
            Some(_) => {
                return Err(ConfigError::invalid(
                    "JWT_ALGORITHM",
                    "expected HS256 or EdDSA",
                ));
            }
        };
        if !eddsa {
            if signing_pem.is_some() {
                return Err(ConfigError::invalid(
                    "JWT_SIGNING_KEY",
                    "is set but JWT_ALGORITHM is HS256; remove one of them",
                ));
            }
            let secret = jwt::secret_from_env(vars)?;
            return Ok(Self::hs256(&secret, ttl));
        }
        let signing_pem = signing_pem.ok_or_else(|| {
            ConfigError::Missing("JWT_SIGNING_KEY (JWT_ALGORITHM is EdDSA)".into())
        })?;
        let signing = SigningKey::from_pem(&signing_pem)
            .map_err(|e| ConfigError::invalid("JWT_SIGNING_KEY", e.to_string()))?;
        let additional = match vars.secret("JWT_ADDITIONAL_PUBLIC_KEYS")? {
            Some(pem) => keys::public_keys_from_pem(&pem)
                .map_err(|e| ConfigError::invalid("JWT_ADDITIONAL_PUBLIC_KEYS", e.to_string()))?,
            None => Vec::new(),
        };
        if let Some((name, _)) = vars.first_secret_of(&["SECRET_KEY", "JWT_SECRET"])? {
            tracing::warn!(
                variable = name,
                "JWT_ALGORITHM is EdDSA: this secret is unused (HS256 tokens are not accepted); \
                 remove it once no original service verifies tokens with it"
            );
        }
        Ok(Self::eddsa(signing, &additional, ttl))
    }

    /// An HS256 issuer signing with `secret`, issuing tokens valid for `ttl`.
    pub fn hs256(secret: &SecretString, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                ttl,
                mode: Mode::Hs256(JwtKeys::new(secret, ttl)),
                successor: SuccessorKey::derive(secret.expose_secret().as_bytes()),
            }),
        }
    }

    /// An EdDSA issuer signing with `signing`, also publishing and accepting
    /// `additional` keys.
    pub fn eddsa(signing: SigningKey, additional: &[PublicKey], ttl: Duration) -> Self {
        let mut published: Vec<&PublicKey> = vec![signing.public()];
        for key in additional {
            if published.iter().all(|k| k.kid() != key.kid()) {
                published.push(key);
            }
        }
        let jwks = json!({ "keys": published.iter().map(|k| k.jwk()).collect::<Vec<_>>() });
        let verifying = KeySet::new(published);
        let successor = signing.successor_key().clone();
        Self {
            inner: Arc::new(Inner {
                ttl,
                successor,
                mode: Mode::EdDsa {
                    signing,
                    verifying,
                    jwks,
                },
            }),
        }
    }

    /// `HS256` or `EdDSA`.
    pub fn algorithm(&self) -> &'static str {
        match self.inner.mode {
            Mode::Hs256(_) => "HS256",
            Mode::EdDsa { .. } => "EdDSA",
        }
    }

    /// How long access tokens live (`JWT_TTL_SECS`).
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Claims for a token issued now.
    pub fn claims_for(&self, user_id: Uuid, username: &str) -> Claims {
        jwt::claims_for(self.inner.ttl, user_id, username)
    }

    /// Signs `claims`, with the login session `sid` when given.
    pub fn sign(
        &self,
        claims: &Claims,
        sid: Option<Uuid>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        match &self.inner.mode {
            Mode::Hs256(keys) => keys.sign_session(claims, sid),
            Mode::EdDsa { signing, .. } => signing.sign(claims, sid),
        }
    }

    /// Verifies one of this issuer's tokens (HS256 with the secret, or EdDSA with a
    /// published key; never the other algorithm).
    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        match &self.inner.mode {
            Mode::Hs256(keys) => keys.verify_session(token),
            Mode::EdDsa { verifying, .. } => verifying.verify(token),
        }
    }

    /// The key that derives refresh tokens' successors, from this issuer's signing
    /// secret.
    pub fn successor_key(&self) -> &SuccessorKey {
        &self.inner.successor
    }

    /// The JWKS document (`{"keys": [...]}`), or `None` in HS256 mode, which publishes
    /// nothing (its key is secret).
    pub fn jwks(&self) -> Option<&Value> {
        match &self.inner.mode {
            Mode::Hs256(_) => None,
            Mode::EdDsa { jwks, .. } => Some(jwks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_signing_pem;

    fn issuer(pairs: &[(&str, &str)]) -> Result<Issuer, ConfigError> {
        let env = hub_config::fixed(pairs);
        Issuer::from_vars(&Vars::new(&env))
    }

    #[test]
    fn the_secret_alone_keeps_hs256_and_publishes_nothing() {
        let i = issuer(&[("SECRET_KEY", &"s".repeat(40))]).unwrap();
        assert_eq!(i.algorithm(), "HS256");
        assert!(i.jwks().is_none());
        let token = i
            .sign(&i.claims_for(Uuid::new_v4(), "ana"), Some(Uuid::nil()))
            .unwrap();
        assert_eq!(i.verify(&token).unwrap().sid, Some(Uuid::nil()));
    }

    #[test]
    fn the_successor_key_follows_the_signing_secret_and_nothing_else() {
        let successor = |pairs: &[(&str, &str)]| {
            issuer(pairs)
                .unwrap()
                .successor_key()
                .successor("a refresh token")
                .0
        };
        let (secret, other) = ("s".repeat(40), "t".repeat(40));
        let hs = successor(&[("SECRET_KEY", &secret)]);
        assert_eq!(
            hs,
            successor(&[("SECRET_KEY", &secret), ("JWT_TTL_SECS", "60")]),
            "another instance with the same secret"
        );
        assert_ne!(hs, successor(&[("SECRET_KEY", &other)]));
        let key = generate_signing_pem();
        let ed = successor(&[("JWT_SIGNING_KEY", &key)]);
        assert_eq!(
            ed,
            successor(&[("JWT_SIGNING_KEY", &key), ("SECRET_KEY", &secret)]),
            "in EdDSA mode an unused secret changes nothing"
        );
        assert_ne!(
            ed,
            successor(&[("JWT_SIGNING_KEY", &generate_signing_pem())])
        );
        assert_ne!(ed, hs);
    }

    #[test]
    fn a_signing_key_selects_eddsa_and_rotation_publishes_both_keys() {
        let old = generate_signing_pem();
        let new = generate_signing_pem();
        let before = issuer(&[("JWT_SIGNING_KEY", &old)]).unwrap();
        assert_eq!(before.algorithm(), "EdDSA");
        let old_public = SigningKey::from_pem(&old).unwrap().public().to_pem();
        let old_token = before
            .sign(&before.claims_for(Uuid::new_v4(), "ana"), None)
            .unwrap();

        let after = issuer(&[
            ("JWT_ALGORITHM", "eddsa"),
            ("JWT_SIGNING_KEY", &new),
            ("JWT_ADDITIONAL_PUBLIC_KEYS", &old_public),
            ("SECRET_KEY", &"s".repeat(40)),
        ])
        .unwrap();
        let kids: Vec<&str> = after.jwks().unwrap()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[1], before.jwks().unwrap()["keys"][0]["kid"]);
        let new_token = after
            .sign(&after.claims_for(Uuid::new_v4(), "bob"), None)
            .unwrap();
        assert!(after.verify(&old_token).is_ok(), "old key still verifies");
        assert!(after.verify(&new_token).is_ok());
        assert_eq!(before.verify(&new_token), Err(TokenError::Invalid));

        // HS256 tokens are never accepted in EdDSA mode, even with the secret set.
        let hs = JwtKeys::new(&"s".repeat(40).into(), Duration::from_secs(60));
        let hs_token = hs.sign(&hs.claims_for(Uuid::new_v4(), "eve")).unwrap();
        assert_eq!(after.verify(&hs_token), Err(TokenError::Invalid));
        assert!(!format!("{after:?}").contains("PRIVATE"));
    }

    #[test]
    fn configuration_mistakes_name_their_variable_and_never_the_key() {
        let key = generate_signing_pem();
        for (pairs, var) in [
            (vec![("JWT_ALGORITHM", "EdDSA")], "JWT_SIGNING_KEY"),
            (vec![("JWT_ALGORITHM", "RS256")], "JWT_ALGORITHM"),
            (
                vec![
                    ("JWT_ALGORITHM", "HS256"),
                    ("JWT_SIGNING_KEY", key.as_str()),
                ],
                "JWT_SIGNING_KEY",
            ),
            (vec![("JWT_SIGNING_KEY", "not a key")], "JWT_SIGNING_KEY"),
            (
                vec![
                    ("JWT_SIGNING_KEY", key.as_str()),
                    ("JWT_ADDITIONAL_PUBLIC_KEYS", key.as_str()),
                ],
                "JWT_ADDITIONAL_PUBLIC_KEYS",
            ),
        ] {
            let err = issuer(&pairs).unwrap_err().to_string();
            assert!(err.contains(var), "{pairs:?}: {err}");
            let body = key.lines().nth(1).unwrap();
            assert!(!err.contains(body), "{err}");
        }
    }
}
