//! JSON Web Tokens: the claims, the checks every verifier applies, and the HS256 keys
//! (a shared secret, as the originals used).
//!
//! Claims keep the original's names and order (`user_id`, `username`, `exp`) and add
//! `iat`, and `sid` (the login session, i.e. the refresh-token family, so that a logout
//! can revoke the token) when auth issued the token, and `roles` only when the user has
//! any (an administrator's token), so ordinary tokens keep their shape. Verification accepts one algorithm
//! per key (HS256 here; EdDSA in [`crate::keys`]; the session original accepted any HMAC
//! algorithm), checks `exp` with zero leeway (PyJWT's default, which the original
//! used) and `nbf` when present, refuses an `iat` more than a minute ahead and any
//! `crit` header (as PyJWT does), and requires `user_id` to be a UUID. Tokens minted by
//! the originals, which have no `iat` and no `sid`, still verify.

use std::time::Duration;

use hub_config::{ConfigError, Vars};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The token payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's primary key in the `"user"` table.
    pub user_id: Uuid,
    /// The username at login time.
    pub username: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch (absent in tokens from the originals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `roles`: what an operator granted the user when the token was issued (only
    /// `admin` exists). Absent when empty, so ordinary users' tokens keep the shape
    /// they had. A claim is a hint: admin routes also check the stored row, so a revoked
    /// role stops working before the token expires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl Claims {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A verified token: its claims and, when auth issued it, its login session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The claims the originals know.
    pub claims: Claims,
    /// `sid`: the refresh-token family the token belongs to (absent in tokens minted by
    /// the originals). Revoking the family revokes the token.
    pub sid: Option<Uuid>,
}

/// The payload as it travels: [`Claims`] plus `sid`, in this order.
#[derive(Serialize, Deserialize)]
struct Wire {
    user_id: Uuid,
    username: String,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
}

/// Why a token was refused. The first two map to the originals' two messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Well-formed and correctly signed, but past `exp`.
    #[error("token expired")]
    Expired,
    /// Anything else: bad signature, other algorithm, unknown key, malformed, missing or
    /// wrong-typed claims, not yet valid.
    #[error("invalid token")]
    Invalid,
    /// The keys that would verify it cannot be had now (the JWKS could never be
    /// fetched): neither valid nor invalid, the caller answers 503.
    #[error("token verification keys unavailable")]
    Unavailable,
}

/// Signing and verification keys plus the token lifetime.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// How far in the future a token's `iat` may be (clock skew between the instance that
/// signed it and the one verifying it).
pub const IAT_LEEWAY_SECS: i64 = 60;

/// The secret committed in the originals' public repositories. Anyone can mint tokens
/// with it, so it is refused outright (see docs/COMPATIBILITY.md).
const LEAKED_SECRETS: &[&str] = &["mysecretkey"];

/// Reads the signing secret from `SECRET_KEY` (auth original) or `JWT_SECRET`
/// (session original). There is no default: a service without one refuses to start.
pub fn secret_from_env(vars: &Vars<'_>) -> Result<SecretString, ConfigError> {
    let (name, secret) = vars
        .first_secret_of(&["SECRET_KEY", "JWT_SECRET"])?
        .ok_or_else(|| ConfigError::Missing("SECRET_KEY (or JWT_SECRET)".into()))?;
    if LEAKED_SECRETS.contains(&secret.as_str()) {
        return Err(ConfigError::invalid(
            name,
            "this value is published in the original services' repositories; choose a new random secret",
        ));
    }
    if secret.len() < 32 {
        tracing::warn!(
            variable = name,
            "JWT secret is shorter than 32 bytes; use a long random value"
        );
    }
    Ok(SecretString::from(secret))
}

impl JwtKeys {
    /// Keys for `secret`, issuing tokens valid for `ttl`.
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation: validation(Algorithm::HS256),
            ttl,
        }
    }

    /// How long issued tokens live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Claims for a token issued now.
    pub fn claims_for(&self, user_id: Uuid, username: &str) -> Claims {
        claims_for(self.ttl, user_id, username)
    }

    /// Signs `claims` with HS256.
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign_session(claims, None)
    }

    /// Signs `claims`, plus `sid` when given, with HS256.
    pub fn sign_session(
        &self,
        claims: &Claims,
        sid: Option<Uuid>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        encode(&Header::new(Algorithm::HS256), claims, sid, &self.encoding)
    }

    /// Verifies signature, algorithm and time claims, and decodes the payload.
    ///
    /// Like PyJWT, which the originals used: a `crit` header is refused (we implement
    /// no extension, and RFC 7515 says a receiver must refuse any it does not
    /// understand), and so is an `iat` in the future, beyond [`IAT_LEEWAY_SECS`] of
    /// clock skew between instances.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_session(token).map(|v| v.claims)
    }

    /// [`verify`](Self::verify), keeping `sid`.
    pub fn verify_session(&self, token: &str) -> Result<Verified, TokenError> {
        decode(token, &self.decoding, &self.validation)
    }
}

/// Claims for a token issued now, living `ttl`.
pub(crate) fn claims_for(ttl: Duration, user_id: Uuid, username: &str) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        user_id,
        username: username.to_owned(),
        exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        iat: Some(now),
        roles: Vec::new(),
    }
}

/// The checks of every verifier, for one algorithm: `exp` required and checked with no
/// leeway, `nbf` checked when present.
pub(crate) fn validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = 0;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp"]);
    validation
}

/// Signs `claims` and `sid` under `header`.
pub(crate) fn encode(
    header: &Header,
    claims: &Claims,
    sid: Option<Uuid>,
    key: &EncodingKey,
) -> Result<String, jsonwebtoken::errors::Error> {
    let wire = Wire {
        user_id: claims.user_id,
        username: claims.username.clone(),
        exp: claims.exp,
        iat: claims.iat,
        sid,
        roles: claims.roles.clone(),
    };
    jsonwebtoken::encode(header, &wire, key)
}

/// Verifies signature, algorithm (`validation`'s only one) and time claims with `key`,
/// then refuses a `crit` header and an `iat` in the future (see [`JwtKeys::verify`]).
pub(crate) fn decode(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<Verified, TokenError> {
    let wire = match jsonwebtoken::decode::<Wire>(token, key, validation) {
        Ok(data) => data.claims,
        Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
            return Err(TokenError::Expired);
        }
        Err(_) => return Err(TokenError::Invalid),
    };
    let critical = jsonwebtoken::decode_header(token).map_or(true, |h| h.crit.is_some());
    let issued_later = wire.iat.is_some_and(|iat| {
        iat > chrono::Utc::now()
            .timestamp()
            .saturating_add(IAT_LEEWAY_SECS)
    });
    if critical || issued_later {
        return Err(TokenError::Invalid);
    }
    Ok(Verified {
        claims: Claims {
            user_id: wire.user_id,
            username: wire.username,
            exp: wire.exp,
            iat: wire.iat,
            roles: wire.roles,
        },
        sid: wire.sid,
    })
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
    use serde_json::json;

    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            &SecretString::from("test-secret-0123456789abcdef0123456789"),
            Duration::from_secs(3600),
        )
    }

    fn hs(alg: Algorithm, secret: &str, payload: &serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            payload,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    const SECRET: &str = "test-secret-0123456789abcdef0123456789";

    #[test]
    fn issued_tokens_verify_and_keep_the_original_claim_order() {
        let k = keys();
        let id = Uuid::new_v4();
        let token = k.sign(&k.claims_for(id, "ana")).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let json = String::from_utf8(B64URL.decode(payload).unwrap()).unwrap();
        assert!(
            json.starts_with(&format!(
                "{{\"user_id\":\"{id}\",\"username\":\"ana\",\"exp\":"
            )),
            "{json}"
        );
        let claims = k.verify(&token).unwrap();
        assert_eq!((claims.user_id, claims.username.as_str()), (id, "ana"));
        assert!(claims.iat.is_some());
    }

    #[test]
    fn roles_travel_only_when_there_are_some() {
        let k = keys();
        let mut claims = k.claims_for(Uuid::new_v4(), "ana");
        let plain = k.sign_session(&claims, Some(Uuid::nil())).unwrap();
        let payload = |t: &str| {
            String::from_utf8(B64URL.decode(t.split('.').nth(1).unwrap()).unwrap()).unwrap()
        };
        assert!(!payload(&plain).contains("roles"), "{}", payload(&plain));
        assert!(k.verify(&plain).unwrap().roles.is_empty());
        claims.roles = vec!["admin".into()];
        let admin = k.sign_session(&claims, Some(Uuid::nil())).unwrap();
        assert!(
            payload(&admin).ends_with(r#","roles":["admin"]}"#),
            "{}",
            payload(&admin)
        );
        let verified = k.verify_session(&admin).unwrap();
        assert!(verified.claims.has_role("admin") && !verified.claims.has_role("root"));
        assert_eq!(verified.sid, Some(Uuid::nil()));
        // A roles claim of the wrong type is an invalid token, not an empty list.
        let exp = chrono::Utc::now().timestamp() + 60;
        let odd = hs(
            Algorithm::HS256,
            SECRET,
            &json!({"user_id": Uuid::new_v4(), "username": "u", "exp": exp, "roles": "admin"}),
        );
        assert_eq!(k.verify(&odd), Err(TokenError::Invalid));
    }

    #[test]
    fn tokens_from_the_original_without_iat_verify() {
        let exp = chrono::Utc::now().timestamp() + 60;
        let t = hs(
            Algorithm::HS256,
            SECRET,
            &json!({"user_id": Uuid::new_v4(), "username": "u", "exp": exp}),
        );
        assert!(keys().verify(&t).is_ok());
    }

    #[test]
    fn a_future_iat_or_a_crit_header_is_invalid_as_pyjwt_says() {
        let now = chrono::Utc::now().timestamp();
        let claims = |iat: i64| json!({"user_id": Uuid::new_v4(), "username": "u", "exp": now + 3600, "iat": iat});
        let skewed = hs(Algorithm::HS256, SECRET, &claims(now + IAT_LEEWAY_SECS - 5));
        assert!(keys().verify(&skewed).is_ok(), "within the leeway");
        let ahead = hs(Algorithm::HS256, SECRET, &claims(now + 3000));
        assert_eq!(keys().verify(&ahead), Err(TokenError::Invalid));

        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp".into()]);
        let critical = jsonwebtoken::encode(
            &header,
            &claims(now),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(keys().verify(&critical), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_tokens_say_expired() {
        let exp = chrono::Utc::now().timestamp() - 1;
        let t = hs(
            Algorithm::HS256,
            SECRET,
            &json!({"user_id": Uuid::new_v4(), "username": "u", "exp": exp}),
        );
        assert_eq!(keys().verify(&t), Err(TokenError::Expired));
    }

    #[test]
    fn other_algorithms_keys_and_claims_are_invalid() {
        let exp = chrono::Utc::now().timestamp() + 60;
        let good = json!({"user_id": Uuid::new_v4(), "username": "u", "exp": exp});
        let cases = [
            hs(Algorithm::HS384, SECRET, &good),
            hs(Algorithm::HS512, SECRET, &good),
            hs(Algorithm::HS256, "wrong-secret", &good),
            hs(
                Algorithm::HS256,
                SECRET,
                &json!({"user_id": "not-a-uuid", "username": "u", "exp": exp}),
            ),
            hs(
                Algorithm::HS256,
                SECRET,
                &json!({"user_id": 42, "username": "u", "exp": exp}),
            ),
            hs(
                Algorithm::HS256,
                SECRET,
                &json!({"username": "u", "exp": exp}),
            ),
            hs(
                Algorithm::HS256,
                SECRET,
                &json!({"user_id": Uuid::new_v4(), "username": "u"}),
            ),
            hs(
                Algorithm::HS256,
                SECRET,
                &json!({"user_id": Uuid::new_v4(), "username": "u", "exp": exp, "nbf": exp}),
            ),
            // alg=none: header {"alg":"none"}, no signature.
            format!(
                "{}.{}.",
                B64URL.encode(r#"{"alg":"none","typ":"JWT"}"#),
                B64URL.encode(good.to_string())
            ),
            "garbage".into(),
            String::new(),
        ];
        for t in cases {
            assert_eq!(keys().verify(&t), Err(TokenError::Invalid), "{t}");
        }
    }

    #[test]
    fn a_tampered_payload_is_invalid() {
        let k = keys();
        let token = k.sign(&k.claims_for(Uuid::new_v4(), "ana")).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = json!({"user_id": Uuid::new_v4(), "username": "admin", "exp": i64::MAX / 2});
        parts[1] = B64URL.encode(forged.to_string());
        assert_eq!(k.verify(&parts.join(".")), Err(TokenError::Invalid));
    }

    #[test]
    fn the_secret_is_required_and_the_leaked_one_refused() {
        let none = |_: &str| None;
        assert!(
            secret_from_env(&Vars::new(&none))
                .unwrap_err()
                .to_string()
                .contains("SECRET_KEY")
        );
        let leaked = |k: &str| (k == "JWT_SECRET").then(|| "mysecretkey".to_owned());
        let err = secret_from_env(&Vars::new(&leaked))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("JWT_SECRET") && !err.contains("mysecretkey"),
            "{err}"
        );
        let ok = |k: &str| (k == "SECRET_KEY").then(|| "x".repeat(40));
        assert!(secret_from_env(&Vars::new(&ok)).is_ok());
    }
}
