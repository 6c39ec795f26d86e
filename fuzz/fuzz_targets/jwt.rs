//! JWT parsing (hub_identity): an EdDSA token's `kid` (`keys::kid_of`), verification
//! by a key set (EdDSA) and by the HS256 keys, and a JWKS document
//! (`KeySet::from_jwks`, what services fetch from auth). The first byte picks which.
#![no_main]

use std::{sync::LazyLock, time::Duration};

use hub_identity::{
    jwt::JwtKeys,
    keys::{self, KeySet, SigningKey},
};
use secrecy::SecretString;

static HS256: LazyLock<JwtKeys> = LazyLock::new(|| {
    JwtKeys::new(
        &SecretString::from("fuzzing-secret-fuzzing-secret-32"),
        Duration::from_secs(60),
    )
});

static EDDSA: LazyLock<KeySet> = LazyLock::new(|| {
    let signing = SigningKey::from_pem(&keys::generate_signing_pem()).expect("a fresh key");
    KeySet::new([signing.public()])
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            let _ = keys::kid_of(token);
            let _ = EDDSA.verify(token);
            let _ = HS256.verify(token);
        }
    } else if let Ok(set) = KeySet::from_jwks(rest, 4) {
        assert!(!set.is_empty() && set.len() <= 4);
    }
});
