//! Ed25519 keys for EdDSA tokens: PEM in, JWKs out, and verification by `kid`.
//!
//! A signing key is an Ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`,
//! as `openssl genpkey -algorithm ed25519` writes it, or [`generate_signing_pem`]); a
//! public key is SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`, `openssl pkey
//! -pubout`). Every key's `kid` is its RFC 7638 JWK thumbprint (SHA-256), so the same key
//! has the same `kid` on every instance and after every restart, with nothing to
//! configure. A token names its key in the `kid` header; a verifier looks the key up in
//! a [`KeySet`] and checks the token with EdDSA only: an HS256 token (algorithm
//! confusion), `alg=none` or a token without `kid` is invalid.

use std::collections::HashMap;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL},
};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    jwk::{AlgorithmParameters, Jwk, ThumbprintHash},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    jwt::{self, Claims, TokenError, Verified},
    revocation::SuccessorKey,
};

/// PKCS#8 v1 DER of an Ed25519 private key: this prefix, then the 32-byte seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// SubjectPublicKeyInfo DER of an Ed25519 public key: this prefix, then the 32-byte key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// The longest `kid` accepted from a JWKS (a thumbprint is 43 characters).
const MAX_KID_LEN: usize = 128;

/// Why a key could not be read. Never includes key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No PEM block with the expected label.
    #[error("expected a PEM block -----BEGIN {0}-----")]
    NoPem(&'static str),
    /// A PEM block whose body is not base64 or has no END line.
    #[error("malformed PEM block")]
    MalformedPem,
    /// Not an Ed25519 key in the expected encoding.
    #[error(
        "not an Ed25519 key (create one with `openssl genpkey -algorithm ed25519`, or `auth keys generate`)"
    )]
    NotEd25519,
}

/// A public key that verifies tokens: its `kid` and its JWK.
#[derive(Clone)]
pub struct PublicKey {
    kid: String,
    x: String,
    decoding: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish()
    }
}

impl PublicKey {
    /// From the raw 32-byte key.
    fn from_raw(raw: &[u8]) -> Result<Self, KeyError> {
        if raw.len() != 32 {
            return Err(KeyError::NotEd25519);
        }
        let x = B64URL.encode(raw);
        let decoding = DecodingKey::from_ed_components(&x).map_err(|_| KeyError::NotEd25519)?;
        let jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::EdDSA))
            .map_err(|_| KeyError::NotEd25519)?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| KeyError::NotEd25519)?;
        Ok(Self { kid, x, decoding })
    }

    /// The key id: the RFC 7638 thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as a JWK (`kty` OKP, `crv` Ed25519), for a JWKS.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// The key in SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes it.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend(B64URL.decode(&self.x).unwrap_or_default());
        pem("PUBLIC KEY", &der)
    }
}

/// The private key auth signs with, and its public half.
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    public: PublicKey,
    successor: SuccessorKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads an Ed25519 private key in PKCS#8 PEM.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let mut blocks = pem_blocks(text, "PRIVATE KEY")?;
        let der = match (blocks.pop(), blocks.is_empty()) {
            (Some(der), true) => der,
            _ => return Err(KeyError::NotEd25519),
        };
        if der.len() != PKCS8_PREFIX.len() + 32 || !der.starts_with(&PKCS8_PREFIX) {
            return Err(KeyError::NotEd25519);
        }
        let encoding = EncodingKey::from_ed_der(&der);
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA)
            .map_err(|_| KeyError::NotEd25519)?;
        let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else {
            return Err(KeyError::NotEd25519);
        };
        let raw = B64URL.decode(&params.x).map_err(|_| KeyError::NotEd25519)?;
        Ok(Self {
            encoding,
            public: PublicKey::from_raw(&raw)?,
            successor: SuccessorKey::derive(&der[PKCS8_PREFIX.len()..]),
        })
    }

    /// The key that derives refresh tokens' successors, from this private key's seed.
    pub(crate) fn successor_key(&self) -> &SuccessorKey {
        &self.successor
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `claims` and `sid` with EdDSA, naming this key in the `kid` header.
    pub fn sign(
        &self,
        claims: &Claims,
        sid: Option<Uuid>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.public.kid.clone());
        jwt::encode(&header, claims, sid, &self.encoding)
    }
}

/// Reads every Ed25519 public key (SubjectPublicKeyInfo PEM) in `text`: one or more
/// `-----BEGIN PUBLIC KEY-----` blocks, one after another.
pub fn public_keys_from_pem(text: &str) -> Result<Vec<PublicKey>, KeyError> {
    pem_blocks(text, "PUBLIC KEY")?
        .iter()
        .map(|der| match der.strip_prefix(SPKI_PREFIX.as_slice()) {
            Some(raw) => PublicKey::from_raw(raw),
            None => Err(KeyError::NotEd25519),
        })
        .collect()
}

/// A new random Ed25519 private key, in PKCS#8 PEM.
pub fn generate_signing_pem() -> String {
    let mut der = PKCS8_PREFIX.to_vec();
    let mut seed = [0u8; 32];
    crate::password::fill_random(&mut seed);
    der.extend_from_slice(&seed);
    pem("PRIVATE KEY", &der)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The DER bodies of the `label` blocks in `text`. A literal `\n` counts as a line break,
/// so a key fits on one line of an env file.
fn pem_blocks(text: &str, label: &'static str) -> Result<Vec<Vec<u8>>, KeyError> {
    let text = text.replace("\\n", "\n");
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start + begin.len()..];
        let stop = after.find(&end).ok_or(KeyError::MalformedPem)?;
        let body: String = after[..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        blocks.push(B64.decode(body).map_err(|_| KeyError::MalformedPem)?);
        rest = &after[stop + end.len()..];
    }
    if blocks.is_empty() {
        return Err(KeyError::NoPem(label));
    }
    Ok(blocks)
}

/// Public keys by `kid`, and EdDSA verification against them.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl KeySet {
    /// The set of `keys` (a later duplicate `kid` is the same key).
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a PublicKey>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|k| (k.kid.clone(), k.decoding.clone()))
                .collect(),
        }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `kid` is one of them.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verifies `token` with the key its `kid` names (see [`kid_of`] and the module docs).
    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let kid = kid_of(token)?;
        let key = self.keys.get(&kid).ok_or(TokenError::Invalid)?;
        jwt::decode(token, key, &eddsa_validation())
    }

    /// The usable keys of a JWKS document: Ed25519 keys (`kty` OKP, `crv` Ed25519, a
    /// 32-byte `x`) with a `kid`, whose `alg` and `use`, when present, say EdDSA and
    /// signatures; at most `max` of them. Anything else in the document is skipped.
    pub fn from_jwks(document: &[u8], max: usize) -> Result<Self, &'static str> {
        let doc: Value = serde_json::from_slice(document).map_err(|_| "not JSON")?;
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no \"keys\" array")?;
        let mut keys = HashMap::new();
        for entry in entries {
            if keys.len() >= max {
                break;
            }
            let field = |name: &str| entry.get(name).and_then(Value::as_str);
            let optional_is = |name: &str, want: &str| entry.get(name).is_none_or(|v| v == want);
            let usable = field("kty") == Some("OKP")
                && field("crv") == Some("Ed25519")
                && optional_is("alg", "EdDSA")
                && optional_is("use", "sig");
            let (Some(kid), Some(x), true) = (field("kid"), field("x"), usable) else {
                continue;
            };
            if kid.is_empty() || kid.len() > MAX_KID_LEN {
                continue;
            }
            // The verifier reads the first 32 bytes: anything else is not a key.
            if B64URL.decode(x).map(|raw| raw.len()) != Ok(32) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_ed_components(x) {
                keys.insert(kid.to_owned(), key);
            }
        }
        if keys.is_empty() {
            return Err("no usable Ed25519 key");
        }
        Ok(Self { keys })
    }
}

/// The `kid` of an EdDSA token, after the header checks: `alg` must be EdDSA (never an
/// HMAC algorithm, whatever the key; never `none`), `kid` present.
pub fn kid_of(token: &str) -> Result<String, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenError::Invalid);
    }
    header
        .kid
        .filter(|k| !k.is_empty() && k.len() <= MAX_KID_LEN)
        .ok_or(TokenError::Invalid)
}

/// The EdDSA checks (see [`jwt::validation`]).
fn eddsa_validation() -> Validation {
    jwt::validation(Algorithm::EdDSA)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::EncodingKey;
    use serde_json::json;

    use super::*;
    use crate::jwt::JwtKeys;

    fn key() -> SigningKey {
        SigningKey::from_pem(&generate_signing_pem()).unwrap()
    }

    fn claims() -> Claims {
        jwt::claims_for(Duration::from_secs(60), Uuid::new_v4(), "ana")
    }

    #[test]
    fn a_generated_key_signs_tokens_its_public_pem_verifies_with_a_stable_kid() {
        let k = key();
        let sid = Uuid::new_v4();
        let token = k.sign(&claims(), Some(sid)).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(k.public().kid()));
        assert_eq!(k.public().kid().len(), 43, "SHA-256 thumbprint, base64url");

        let published = public_keys_from_pem(&k.public().to_pem()).unwrap();
        assert_eq!(published[0].kid(), k.public().kid());
        let verified = KeySet::new(&published).verify(&token).unwrap();
        assert_eq!(verified.sid, Some(sid));
        assert_eq!(verified.claims.username, "ana");
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037, appendix A.3: the thumbprint of its Ed25519 example key.
        let x = B64URL
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = PublicKey::from_raw(&x).unwrap();
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert_eq!(
            key.jwk()["x"],
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
    }

    #[test]
    fn several_public_keys_and_escaped_newlines_are_read() {
        let (a, b) = (key(), key());
        let text = format!("{}{}", a.public().to_pem(), b.public().to_pem()).replace('\n', "\\n");
        let keys = public_keys_from_pem(&text).unwrap();
        let kids: Vec<&str> = keys.iter().map(PublicKey::kid).collect();
        assert_eq!(kids, [a.public().kid(), b.public().kid()]);
    }

    #[test]
    fn other_keys_and_malformed_pem_are_refused_without_echoing_them() {
        assert_eq!(
            SigningKey::from_pem("nothing here").unwrap_err(),
            KeyError::NoPem("PRIVATE KEY")
        );
        assert_eq!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----")
                .unwrap_err(),
            KeyError::MalformedPem
        );
        // A valid PEM block holding something else (here: 48 zero bytes).
        let wrong = pem("PRIVATE KEY", &[0u8; 48]);
        assert_eq!(
            SigningKey::from_pem(&wrong).unwrap_err(),
            KeyError::NotEd25519
        );
        let public_as_private = key().public().to_pem();
        assert!(SigningKey::from_pem(&public_as_private).is_err());
        assert!(public_keys_from_pem(&generate_signing_pem()).is_err());
        assert!(!format!("{:?}", key()).contains("PRIVATE"));
    }

    #[test]
    fn hs256_none_unknown_kid_and_other_keys_are_invalid() {
        let k = key();
        let set = KeySet::new([k.public()]);
        let good = k.sign(&claims(), None).unwrap();
        assert!(set.verify(&good).is_ok());

        // Algorithm confusion: an HS256 token whose "secret" is the public key's bytes.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(k.public().kid().to_owned());
        let x = B64URL.decode(&k.public().x).unwrap();
        let confused =
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&x)).unwrap();
        assert_eq!(set.verify(&confused), Err(TokenError::Invalid));
        let hs = JwtKeys::new(&"s".repeat(40).into(), Duration::from_secs(60));
        assert_eq!(
            set.verify(&hs.sign(&claims()).unwrap()),
            Err(TokenError::Invalid)
        );

        let payload = B64URL.encode(
            json!({"user_id": Uuid::new_v4(), "username": "u", "exp": i64::MAX / 2}).to_string(),
        );
        let none = format!(
            "{}.{payload}.",
            B64URL.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, k.public().kid()))
        );
        assert_eq!(set.verify(&none), Err(TokenError::Invalid));

        let other = key().sign(&claims(), None).unwrap();
        assert_eq!(set.verify(&other), Err(TokenError::Invalid), "unknown kid");
        let mut no_kid = Header::new(Algorithm::EdDSA);
        no_kid.kid = None;
        let parts: Vec<&str> = good.split('.').collect();
        let stripped = format!(
            "{}.{}.{}",
            B64URL.encode(serde_json::to_string(&no_kid).unwrap()),
            parts[1],
            parts[2]
        );
        assert_eq!(set.verify(&stripped), Err(TokenError::Invalid));

        let mut expired = claims();
        expired.exp -= 3600;
        assert_eq!(
            set.verify(&k.sign(&expired, None).unwrap()),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_jwks_keeps_only_usable_ed25519_keys_up_to_the_bound() {
        let (a, b) = (key(), key());
        let doc = json!({"keys": [
            a.public().jwk(),
            {"kty": "RSA", "kid": "rsa", "n": "xx", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "short", "x": "AAAA"},
            {"kty": "OKP", "crv": "Ed25519", "x": a.public().x},
            {"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": a.public().x},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            b.public().jwk(),
        ]});
        let bytes = doc.to_string().into_bytes();
        let set = KeySet::from_jwks(&bytes, 10).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains(a.public().kid()) && set.contains(b.public().kid()));
        assert_eq!(KeySet::from_jwks(&bytes, 1).unwrap().len(), 1);
        assert!(KeySet::from_jwks(b"{\"keys\":[]}", 10).is_err());
        assert!(KeySet::from_jwks(b"<html>", 10).is_err());
    }
}
