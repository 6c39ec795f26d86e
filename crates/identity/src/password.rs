//! Password hashing: the legacy format the originals wrote, and the current one.
//!
//! Legacy (auth and user-soap originals): `hex(PBKDF2-HMAC-SHA256(password, "salt",
//! 1000, 64 bytes))`, 128 lowercase hex characters, no marker, the same salt for
//! everyone. It is still verified so existing users keep logging in, and replaced on
//! their next successful login.
//!
//! Current: a PHC string, `$pbkdf2-sha256$i=<iterations>,l=32$<salt>$<hash>` (salt 16
//! random bytes, both in unpadded standard base64 as the PHC format specifies), which
//! names its own algorithm and cost so the iteration count can rise later without a
//! schema change. PBKDF2-HMAC-SHA256 stays the algorithm because the column, the
//! other services and the originals' tooling all know it; the default cost follows
//! OWASP's Password Storage Cheat Sheet (600 000 iterations for PBKDF2-HMAC-SHA256).
//!
//! Timing: every [`Hasher::verify`] does the work of one current-cost derivation
//! whatever the outcome (unknown user, legacy hash, wrong password), so response time
//! does not tell whether a username exists. All of it is CPU-bound: call it from
//! `spawn_blocking`, never on an async worker.

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD as B64};
use subtle::ConstantTimeEq;

/// OWASP's current recommendation for PBKDF2-HMAC-SHA256.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// The lowest iteration count [`Hasher::new`] accepts (the legacy cost).
pub const MIN_ITERATIONS: u32 = 1_000;
/// The highest iteration count accepted, from config or from a stored hash, so a
/// crafted row cannot pin a CPU for minutes.
pub const MAX_ITERATIONS: u32 = 10_000_000;

const LEGACY_SALT: &[u8] = b"salt";
const LEGACY_ITERATIONS: u32 = 1_000;
const LEGACY_LEN: usize = 64;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
const PHC_ID: &str = "pbkdf2-sha256";

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches. `needs_rehash`: the stored hash is legacy or weaker than
    /// the current settings, and should be replaced by [`Hasher::hash`].
    Valid {
        /// Replace the stored hash.
        needs_rehash: bool,
    },
    /// No match (or no user, or an unreadable stored hash).
    Invalid,
}

/// What a stored password column holds.
#[derive(Debug, PartialEq, Eq)]
enum Stored {
    Legacy(Vec<u8>),
    Phc {
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Unreadable,
}

fn parse(stored: &str) -> Stored {
    if stored.len() == LEGACY_LEN * 2 && stored.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(stored).map_or(Stored::Unreadable, Stored::Legacy);
    }
    parse_phc(stored).unwrap_or(Stored::Unreadable)
}

fn parse_phc(stored: &str) -> Option<Stored> {
    let mut parts = stored.split('$');
    let (Some(""), Some(PHC_ID), Some(params), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let mut iterations = None;
    let mut len = None;
    for kv in params.split(',') {
        match kv.split_once('=')? {
            ("i", v) => iterations = Some(v.parse::<u32>().ok()?),
            ("l", v) => len = Some(v.parse::<usize>().ok()?),
            _ => return None,
        }
    }
    let iterations = iterations.filter(|i| (1..=MAX_ITERATIONS).contains(i))?;
    let salt = B64
        .decode(salt)
        .ok()
        .filter(|s| (8..=64).contains(&s.len()))?;
    let hash = B64
        .decode(hash)
        .ok()
        .filter(|h| (16..=64).contains(&h.len()))?;
    if len.is_some_and(|l| l != hash.len()) {
        return None;
    }
    Some(Stored::Phc {
        iterations,
        salt,
        hash,
    })
}

fn derive(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, out);
}

/// The original services' hash of `password` (fixed salt, 1000 iterations, hex).
/// Only for tests and fixtures: new hashes are always written by [`Hasher::hash`].
pub fn legacy_hash(password: &str) -> String {
    let mut out = [0u8; LEGACY_LEN];
    derive(
        password.as_bytes(),
        LEGACY_SALT,
        LEGACY_ITERATIONS,
        &mut out,
    );
    hex::encode(out)
}

/// Hashes and verifies passwords at the configured cost.
#[derive(Debug, Clone, Copy)]
pub struct Hasher {
    iterations: u32,
}

/// A bad iteration count.
#[derive(Debug, thiserror::Error)]
#[error("iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}")]
pub struct InvalidIterations;

impl Hasher {
    /// A hasher writing hashes with `iterations` rounds.
    pub fn new(iterations: u32) -> Result<Self, InvalidIterations> {
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(InvalidIterations);
        }
        Ok(Self { iterations })
    }

    /// The configured iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// A new PHC string for `password`, with a fresh random salt.
    pub fn hash(&self, password: &str) -> String {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt);
        let mut hash = [0u8; HASH_LEN];
        derive(password.as_bytes(), &salt, self.iterations, &mut hash);
        format!(
            "${PHC_ID}$i={},l={HASH_LEN}${}${}",
            self.iterations,
            B64.encode(salt),
            B64.encode(hash)
        )
    }

    /// Checks `password` against a stored hash, `None` meaning "no such user".
    ///
    /// Costs one current-cost derivation in every case (see the module docs).
    pub fn verify(&self, password: &str, stored: Option<&str>) -> Verification {
        let pw = password.as_bytes();
        match stored.map(parse) {
            Some(Stored::Phc {
                iterations,
                salt,
                hash,
            }) => {
                let mut out = vec![0u8; hash.len()];
                derive(pw, &salt, iterations, &mut out);
                if bool::from(out.ct_eq(&hash)) {
                    Verification::Valid {
                        needs_rehash: iterations < self.iterations,
                    }
                } else {
                    Verification::Invalid
                }
            }
            Some(Stored::Legacy(expected)) => {
                let mut out = [0u8; LEGACY_LEN];
                derive(pw, LEGACY_SALT, LEGACY_ITERATIONS, &mut out);
                if bool::from(out.as_slice().ct_eq(&expected)) {
                    // The caller's rehash is the current-cost derivation.
                    Verification::Valid { needs_rehash: true }
                } else {
                    self.burn(pw);
                    Verification::Invalid
                }
            }
            Some(Stored::Unreadable) | None => {
                self.burn(pw);
                Verification::Invalid
            }
        }
    }

    /// The work of one current-cost derivation, thrown away: the decoy that keeps an
    /// unknown user as slow as a known one.
    fn burn(&self, password: &[u8]) {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt);
        let mut out = [0u8; HASH_LEN];
        derive(password, &salt, self.iterations, &mut out);
        std::hint::black_box(out);
    }
}

/// Whether a stored value is a hash format this crate knows (for diagnostics).
pub fn is_recognised(stored: &str) -> bool {
    parse(stored) != Stored::Unreadable
}

pub(crate) fn fill_random(buf: &mut [u8]) {
    // The OS RNG failing means the machine cannot do cryptography at all; there is no
    // safe fallback (a predictable salt would be silent damage), so stop loudly.
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("operating system random number generator unavailable");
}

#[cfg(test)]
mod tests {
    use super::*;

    // The legacy test vectors of docs/LEGACY.md, auth (password hashes).
    const V12345: &str = "ca7afb8c4555ea1faa0e152e411b522549d84dc7d59036ab3a9b72e5d88658e45279adf180b9a3bd0db7eaab957cdc0b3a4b28adc6652478ea11044597645b0a";
    const VPASSWORD: &str = "632c2812e46d4604102ba7618e9d6d7d2f8128f6266b4a03264d2a0460b7dcb388b3b1131f741bcbeb02541c8c2e97bd8bed62ab6425542e45512b7312f440eb";

    fn hasher() -> Hasher {
        Hasher::new(MIN_ITERATIONS).unwrap()
    }

    #[test]
    fn legacy_hash_matches_the_originals_vectors() {
        assert_eq!(legacy_hash("12345"), V12345);
        assert_eq!(legacy_hash("password"), VPASSWORD);
    }

    #[test]
    fn legacy_hash_verifies_and_asks_for_a_rehash() {
        let h = hasher();
        assert_eq!(
            h.verify("12345", Some(V12345)),
            Verification::Valid { needs_rehash: true }
        );
        assert_eq!(h.verify("12346", Some(V12345)), Verification::Invalid);
        // Upper-case hex is the same bytes.
        assert_eq!(
            h.verify("password", Some(&VPASSWORD.to_uppercase())),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn new_hashes_are_phc_strings_with_random_salts() {
        let h = hasher();
        let a = h.hash("secret");
        let b = h.hash("secret");
        assert!(a.starts_with("$pbkdf2-sha256$i=1000,l=32$"), "{a}");
        assert_ne!(a, b, "salts must differ");
        assert!(a.len() <= 200, "must fit the VARCHAR(200) column");
        assert_eq!(
            h.verify("secret", Some(&a)),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(h.verify("Secret", Some(&a)), Verification::Invalid);
    }

    #[test]
    fn a_hash_weaker_than_the_settings_asks_for_a_rehash() {
        let weak = Hasher::new(1_000).unwrap().hash("pw");
        let strong = Hasher::new(2_000).unwrap();
        assert_eq!(
            strong.verify("pw", Some(&weak)),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn default_hash_fits_the_column() {
        let s = format!("${PHC_ID}$i={DEFAULT_ITERATIONS},l={HASH_LEN}$");
        assert!(s.len() + 22 + 43 <= 200);
    }

    #[test]
    fn unknown_users_and_garbage_never_verify() {
        let h = hasher();
        for stored in [
            None,
            Some(""),
            Some("plaintext"),
            Some("$pbkdf2-sha256$i=0,l=32$c2FsdHNhbHQ$aGFzaA"),
            Some("$pbkdf2-sha256$i=99999999999,l=32$c2FsdHNhbHQ$aGFzaA"),
            Some("$pbkdf2-sha512$i=1000,l=32$c2FsdHNhbHQ$aGFzaA"),
            Some("$pbkdf2-sha256$i=1000$!!$??"),
            Some("$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHQ$aGFzaA$extra"),
        ] {
            assert_eq!(h.verify("", stored), Verification::Invalid, "{stored:?}");
        }
        assert!(!is_recognised("plaintext"));
        assert!(is_recognised(V12345));
    }

    #[test]
    fn iteration_bounds_are_enforced() {
        assert!(Hasher::new(999).is_err());
        assert!(Hasher::new(MAX_ITERATIONS + 1).is_err());
        assert!(Hasher::new(DEFAULT_ITERATIONS).is_ok());
    }

    #[test]
    fn non_ascii_passwords_hash_as_utf8() {
        let h = hasher();
        let stored = h.hash("contraseña");
        assert_eq!(
            h.verify("contraseña", Some(&stored)),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(h.verify("contrasena", Some(&stored)), Verification::Invalid);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            // Each case derives three times at the lowest cost (~1 ms each, optimised).
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Any password, hashed, reads back as the PHC string it is, verifies, asks
            /// for no rehash at the same cost and fits the column; any other password
            /// does not verify against it.
            #[test]
            fn a_hash_round_trips_for_any_password(password in ".{0,40}", other in ".{0,40}") {
                let h = hasher();
                let stored = h.hash(&password);
                prop_assert!(stored.len() <= 200, "{stored}");
                prop_assert!(is_recognised(&stored));
                let Stored::Phc { iterations, salt, hash } = parse(&stored) else {
                    return Err(TestCaseError::fail(format!("not read as PHC: {stored}")));
                };
                prop_assert_eq!(iterations, MIN_ITERATIONS);
                prop_assert_eq!((salt.len(), hash.len()), (SALT_LEN, HASH_LEN));
                prop_assert_eq!(
                    h.verify(&password, Some(&stored)),
                    Verification::Valid { needs_rehash: false }
                );
                if other != password {
                    prop_assert_eq!(h.verify(&other, Some(&stored)), Verification::Invalid);
                }
            }

            /// A PHC string written with any parameters in range (with or without `l=`)
            /// parses to exactly those; the same with a length out of range, or an
            /// `l=` that disagrees with the hash, is unreadable.
            #[test]
            fn phc_parameters_round_trip(
                iterations in 1..=MAX_ITERATIONS,
                salt in proptest::collection::vec(any::<u8>(), 1..=80),
                hash in proptest::collection::vec(any::<u8>(), 1..=80),
                stated_len in proptest::option::of(0usize..=80),
            ) {
                let params = match stated_len {
                    Some(l) => format!("i={iterations},l={l}"),
                    None => format!("i={iterations}"),
                };
                let stored = format!("${PHC_ID}${params}${}${}", B64.encode(&salt), B64.encode(&hash));
                let valid = (8..=64).contains(&salt.len())
                    && (16..=64).contains(&hash.len())
                    && stated_len.is_none_or(|l| l == hash.len());
                let expected = if valid {
                    Stored::Phc { iterations, salt, hash }
                } else {
                    Stored::Unreadable
                };
                prop_assert_eq!(parse(&stored), expected);
            }
        }
    }
}
