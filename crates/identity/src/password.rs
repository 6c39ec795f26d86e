//! Password hashing: the legacy format the originals wrote, and the current ones.
//!
//! Legacy (auth and user-soap originals): `hex(PBKDF2-HMAC-SHA256(password, "salt",
//! 1000, 64 bytes))`, 128 lowercase hex characters, no marker, the same salt for
//! everyone. It is still verified so existing users keep logging in, and replaced on
//! their next successful login.
//!
//! PHC strings, which name their own algorithm and cost so the cost can change without
//! a schema change (salt 16 random bytes, salt and hash in unpadded standard base64 as
//! the PHC format specifies):
//! - `$pbkdf2-sha256$i=<iterations>,l=32$<salt>$<hash>`: PBKDF2-HMAC-SHA256, OWASP's
//!   600 000 iterations by default (FIPS-approved; `PASSWORD_HASH=pbkdf2-sha256`);
//! - `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`: Argon2id (RFC 9106),
//!   OWASP's minimum m=19456 (19 MiB), t=2, p=1 by default: memory-hard, and ~4x
//!   cheaper in CPU than PBKDF2 at 600 000 iterations.
//!
//! Both PHC forms always verify, whichever algorithm writes new hashes ([`Algorithm`]);
//! a hash is due for replacement ([`Verification::Valid`]'s `needs_rehash`) when it is
//! legacy, PBKDF2 while Argon2id is configured, or weaker than the configured cost of its
//! own algorithm. An Argon2id hash is kept while PBKDF2 is configured.
//!
//! A stored hash is read with bounds (Argon2id: m at most [`MAX_ARGON2_MEMORY_KIB`], t at
//! most [`MAX_ARGON2_ITERATIONS`], p at most [`MAX_ARGON2_PARALLELISM`]; PBKDF2: at most
//! [`MAX_ITERATIONS`]), so a planted row cannot exhaust the memory or pin a CPU for
//! minutes: outside them it is unreadable and verifies nothing.
//!
//! Timing: every [`Hasher::verify`] does at least the work of one current-cost
//! derivation whatever the outcome (unknown user, legacy hash, wrong password), so
//! response time does not tell whether a username exists. All of it is CPU-bound: call
//! it from `spawn_blocking`, never on an async worker.

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD as B64};
use subtle::ConstantTimeEq;

/// OWASP's current recommendation for PBKDF2-HMAC-SHA256.
pub const DEFAULT_ITERATIONS: u32 = 600_000;
/// The lowest iteration count [`Hasher::new`] accepts (the legacy cost).
pub const MIN_ITERATIONS: u32 = 1_000;
/// The highest iteration count accepted, from config or from a stored hash, so a
/// crafted row cannot pin a CPU for minutes.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// The most memory an Argon2id hash may ask for, configured or stored (KiB): 64 MiB,
/// argon2-cffi's default and 3.4x OWASP's minimum. It bounds a planted hash: at most
/// `HASHING_CONCURRENCY` x 64 MiB, however the table is filled.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// The fewest KiB a configured Argon2id cost may use (Argon2's floor is 8 per lane; more
/// for tests only: OWASP's minimum is 19 MiB).
pub const MIN_ARGON2_MEMORY_KIB: u32 = 64;
/// The most passes an Argon2id hash may ask for, configured or stored.
pub const MAX_ARGON2_ITERATIONS: u32 = 16;
/// The most lanes an Argon2id hash may ask for, configured or stored (computed one after
/// the other here: lanes do not add memory, m is the total).
pub const MAX_ARGON2_PARALLELISM: u32 = 16;

const LEGACY_SALT: &[u8] = b"salt";
const LEGACY_ITERATIONS: u32 = 1_000;
const LEGACY_LEN: usize = 64;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
const PHC_ID: &str = "pbkdf2-sha256";
const ARGON2_ID: &str = "argon2id";
const ARGON2_VERSION: &str = "v=19";

/// The algorithm of new and upgraded hashes (`PASSWORD_HASH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `argon2id`: memory-hard, cheaper in CPU per login.
    Argon2id,
    /// `pbkdf2-sha256`: for deployments that must use FIPS-approved algorithms.
    Pbkdf2Sha256,
}

impl Algorithm {
    /// The setting's spelling (the PHC identifier).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Argon2id => ARGON2_ID,
            Self::Pbkdf2Sha256 => PHC_ID,
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            ARGON2_ID => Ok(Self::Argon2id),
            PHC_ID => Ok(Self::Pbkdf2Sha256),
            _ => Err(format!("expected {ARGON2_ID} or {PHC_ID}")),
        }
    }
}

/// An Argon2id cost: memory (KiB), passes, lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

/// A cost outside the bounds.
#[derive(Debug, thiserror::Error)]
#[error(
    "Argon2id cost out of range: memory {MIN_ARGON2_MEMORY_KIB}..={MAX_ARGON2_MEMORY_KIB} KiB \
     (at least 8 per lane), iterations 1..={MAX_ARGON2_ITERATIONS}, parallelism \
     1..={MAX_ARGON2_PARALLELISM}"
)]
pub struct InvalidArgon2Cost;

impl Argon2Cost {
    /// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// A cost within the bounds (configured: memory from [`MIN_ARGON2_MEMORY_KIB`]).
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, InvalidArgon2Cost> {
        if memory_kib < MIN_ARGON2_MEMORY_KIB {
            return Err(InvalidArgon2Cost);
        }
        Self::stored(memory_kib, iterations, parallelism).ok_or(InvalidArgon2Cost)
    }

    /// A cost read from a stored hash: Argon2's own floor, the crate's ceilings.
    fn stored(memory_kib: u32, iterations: u32, parallelism: u32) -> Option<Self> {
        let ok = (1..=MAX_ARGON2_PARALLELISM).contains(&parallelism)
            && (1..=MAX_ARGON2_ITERATIONS).contains(&iterations)
            && memory_kib <= MAX_ARGON2_MEMORY_KIB
            && memory_kib >= 8 * parallelism;
        ok.then_some(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory per hash, KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Passes over the memory.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lanes.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// Less memory or fewer passes than `other` (lanes are not cost: same memory, same
    /// passes, computed one after the other).
    fn weaker_than(&self, other: &Self) -> bool {
        self.memory_kib < other.memory_kib || self.iterations < other.iterations
    }

    fn context(&self, out_len: usize) -> Option<argon2::Argon2<'static>> {
        let params = argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(out_len),
        )
        .ok()?;
        Some(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches. `needs_rehash`: the stored hash is legacy, of the other
    /// algorithm than the configured Argon2id, or weaker than the current settings, and
    /// should be replaced by [`Hasher::hash`].
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
    Argon2id {
        cost: Argon2Cost,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Unreadable,
}

fn parse(stored: &str) -> Stored {
    if stored.len() == LEGACY_LEN * 2 && stored.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(stored).map_or(Stored::Unreadable, Stored::Legacy);
    }
    parse_phc(stored)
        .or_else(|| parse_argon2id(stored))
        .unwrap_or(Stored::Unreadable)
}

/// A salt and a hash in unpadded standard base64, of PHC's usual lengths.
fn salt_and_hash(salt: &str, hash: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let salt = B64
        .decode(salt)
        .ok()
        .filter(|s| (8..=64).contains(&s.len()))?;
    let hash = B64
        .decode(hash)
        .ok()
        .filter(|h| (16..=64).contains(&h.len()))?;
    Some((salt, hash))
}

/// The `N` fields of a PHC string: `$` before each, nothing after the last.
fn phc_fields<const N: usize>(stored: &str) -> Option<[&str; N]> {
    let mut parts = stored.split('$');
    if parts.next() != Some("") {
        return None;
    }
    let mut fields = [""; N];
    for field in &mut fields {
        *field = parts.next()?;
    }
    parts.next().is_none().then_some(fields)
}

fn parse_phc(stored: &str) -> Option<Stored> {
    let [PHC_ID, params, salt, hash] = phc_fields(stored)? else {
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
    let (salt, hash) = salt_and_hash(salt, hash)?;
    if len.is_some_and(|l| l != hash.len()) {
        return None;
    }
    Some(Stored::Phc {
        iterations,
        salt,
        hash,
    })
}

/// PHC's decimal: digits only, no sign, no leading zero, at most 10 digits.
fn decimal(v: &str) -> Option<u32> {
    let plain = !v.is_empty()
        && v.len() <= 10
        && v.bytes().all(|b| b.is_ascii_digit())
        && (v == "0" || !v.starts_with('0'));
    plain.then(|| v.parse().ok()).flatten()
}

/// `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`, as the reference
/// implementation and argon2-cffi write it: version 19 only (0x13, the RFC's), the three
/// parameters once each in that order, no key id or associated data.
fn parse_argon2id(stored: &str) -> Option<Stored> {
    let [ARGON2_ID, ARGON2_VERSION, params, salt, hash] = phc_fields(stored)? else {
        return None;
    };
    let mut kvs = params.split(',');
    let (Some(m), Some(t), Some(p), None) = (kvs.next(), kvs.next(), kvs.next(), kvs.next()) else {
        return None;
    };
    let memory_kib = decimal(m.strip_prefix("m=")?)?;
    let iterations = decimal(t.strip_prefix("t=")?)?;
    let parallelism = decimal(p.strip_prefix("p=")?)?;
    let cost = Argon2Cost::stored(memory_kib, iterations, parallelism)?;
    let (salt, hash) = salt_and_hash(salt, hash)?;
    Some(Stored::Argon2id { cost, salt, hash })
}

fn derive(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, out);
}

/// Argon2id into `out`; `false` when it could not run (its memory could not be
/// allocated, or inputs Argon2 refuses, which the parser and [`Argon2Cost`] rule out).
fn derive_argon2id(password: &[u8], salt: &[u8], cost: &Argon2Cost, out: &mut [u8]) -> bool {
    cost.context(out.len())
        .is_some_and(|a| a.hash_password_into(password, salt, out).is_ok())
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

/// Hashes and verifies passwords at the configured algorithm and cost.
#[derive(Debug, Clone, Copy)]
pub struct Hasher {
    algorithm: Algorithm,
    iterations: u32,
    argon2: Argon2Cost,
}

/// A bad iteration count.
#[derive(Debug, thiserror::Error)]
#[error("iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}")]
pub struct InvalidIterations;

/// A hash that could not be computed: Argon2id's memory could not be allocated.
#[derive(Debug, thiserror::Error)]
#[error("password hash could not be computed (out of memory)")]
pub struct HashError;

impl Hasher {
    /// A hasher writing PBKDF2-HMAC-SHA256 hashes with `iterations` rounds (and
    /// asking for no Argon2id hash to be replaced).
    pub fn new(iterations: u32) -> Result<Self, InvalidIterations> {
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(InvalidIterations);
        }
        Ok(Self {
            algorithm: Algorithm::Pbkdf2Sha256,
            iterations,
            argon2: Argon2Cost::OWASP,
        })
    }

    /// A hasher writing Argon2id hashes at `cost`; PBKDF2 hashes it verifies are due
    /// for replacement whatever their iterations (`pbkdf2_iterations` is the cost that
    /// a switch back to PBKDF2 would use, and the bound for the decoy of an unknown user).
    pub fn argon2id(cost: Argon2Cost, pbkdf2_iterations: u32) -> Result<Self, InvalidIterations> {
        let mut hasher = Self::new(pbkdf2_iterations)?;
        hasher.algorithm = Algorithm::Argon2id;
        hasher.argon2 = cost;
        Ok(hasher)
    }

    /// The same, writing with `algorithm` (each algorithm's cost kept).
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The same, with the Argon2id cost `cost`.
    pub fn with_argon2(mut self, cost: Argon2Cost) -> Self {
        self.argon2 = cost;
        self
    }

    /// The algorithm of new hashes.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The configured PBKDF2 iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The configured Argon2id cost.
    pub fn argon2(&self) -> Argon2Cost {
        self.argon2
    }

    /// A new PHC string for `password` in the configured algorithm, with a fresh
    /// random salt. Fails only when Argon2id's memory cannot be allocated.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt);
        let mut hash = [0u8; HASH_LEN];
        match self.algorithm {
            Algorithm::Pbkdf2Sha256 => {
                derive(password.as_bytes(), &salt, self.iterations, &mut hash);
                Ok(format!(
                    "${PHC_ID}$i={},l={HASH_LEN}${}${}",
                    self.iterations,
                    B64.encode(salt),
                    B64.encode(hash)
                ))
            }
            Algorithm::Argon2id => {
                let c = &self.argon2;
                if !derive_argon2id(password.as_bytes(), &salt, c, &mut hash) {
                    return Err(HashError);
                }
                Ok(format!(
                    "${ARGON2_ID}${ARGON2_VERSION}$m={},t={},p={}${}${}",
                    c.memory_kib,
                    c.iterations,
                    c.parallelism,
                    B64.encode(salt),
                    B64.encode(hash)
                ))
            }
        }
    }

    /// Checks `password` against a stored hash, `None` meaning "no such user".
    ///
    /// Costs at least one current-cost derivation in every case (see the module docs).
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
                        needs_rehash: match self.algorithm {
                            Algorithm::Argon2id => true,
                            Algorithm::Pbkdf2Sha256 => iterations < self.iterations,
                        },
                    }
                } else {
                    Verification::Invalid
                }
            }
            Some(Stored::Argon2id { cost, salt, hash }) => {
                let mut out = vec![0u8; hash.len()];
                if !derive_argon2id(pw, &salt, &cost, &mut out) {
                    tracing::warn!(
                        memory_kib = cost.memory_kib,
                        "an Argon2id hash could not be checked (out of memory)"
                    );
                    return Verification::Invalid;
                }
                if bool::from(out.ct_eq(&hash)) {
                    Verification::Valid {
                        needs_rehash: match self.algorithm {
                            Algorithm::Argon2id => cost.weaker_than(&self.argon2),
                            Algorithm::Pbkdf2Sha256 => false,
                        },
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
        match self.algorithm {
            Algorithm::Pbkdf2Sha256 => derive(password, &salt, self.iterations, &mut out),
            Algorithm::Argon2id => {
                // Out of memory: nothing to hide then, the login fails either way.
                let _ = derive_argon2id(password, &salt, &self.argon2, &mut out);
            }
        }
        std::hint::black_box(out);
    }
}

/// The cost of a stored Argon2id hash, `None` when it is not one this crate reads (for
/// diagnostics and the fuzz target, which verifies the cheap ones).
pub fn argon2id_cost(stored: &str) -> Option<Argon2Cost> {
    match parse(stored) {
        Stored::Argon2id { cost, .. } => Some(cost),
        _ => None,
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
        let a = h.hash("secret").unwrap();
        let b = h.hash("secret").unwrap();
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
        let weak = Hasher::new(1_000).unwrap().hash("pw").unwrap();
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
        // The largest Argon2id cost this crate writes.
        let s = format!(
            "${ARGON2_ID}${ARGON2_VERSION}$m={MAX_ARGON2_MEMORY_KIB},t={MAX_ARGON2_ITERATIONS},p={MAX_ARGON2_PARALLELISM}$"
        );
        assert!(s.len() + 22 + 43 <= 200);
    }

    // --- Argon2id ------------------------------------------------------------------------

    /// The reference implementation's own vector (phc-winner-argon2, src/test.c:
    /// "password", "somesalt", t=2, m=64 MiB, p=1, Argon2id v=19), and one at 256 KiB with
    /// two lanes from the same C code through argon2-cffi 21.1 (Debian's python3-argon2):
    /// `low_level.hash_secret(b"password", b"somesalt", time_cost=2, memory_cost=256,
    /// parallelism=2, hash_len=32, type=Type.ID)`.
    const REFERENCE: &str =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    const CFFI_SMALL: &str =
        "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";
    /// argon2-cffi's `PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)`
    /// (OWASP's minimum, random salts) and its own defaults (t=3, 64 MiB, p=4, 16-byte hash).
    const CFFI_OWASP: &str = "$argon2id$v=19$m=19456,t=2,p=1$VETJ68wZoLCSxKD9fOR87A$8L87f6AFYYVC1Z7uz6M+7aNZCXjzxCNOonzETr4sLYc";
    const CFFI_OWASP_UTF8: &str = "$argon2id$v=19$m=19456,t=2,p=1$RQ0TX67ebP7dbznoGpqxSw$NLImoYFzlhk5sELsxkbqkZ2MsO6I/daSdSLoBokqxWs";
    const CFFI_DEFAULT: &str =
        "$argon2id$v=19$m=65536,t=3,p=4$lqhu0GXPUvEaDard62gbRQ$nXSZCSZGBjSFWysv13m5YQ";

    fn argon(memory_kib: u32, iterations: u32) -> Hasher {
        Hasher::argon2id(
            Argon2Cost::new(memory_kib, iterations, 1).unwrap(),
            MIN_ITERATIONS,
        )
        .unwrap()
    }

    const VALID: Verification = Verification::Valid {
        needs_rehash: false,
    };
    const REHASH: Verification = Verification::Valid { needs_rehash: true };

    #[test]
    fn reference_and_argon2_cffi_hashes_verify() {
        let h = argon(64, 1);
        for (password, stored) in [
            ("password", REFERENCE),
            ("password", CFFI_SMALL),
            ("correct horse battery staple", CFFI_OWASP),
            ("contraseña", CFFI_OWASP_UTF8),
            ("password", CFFI_DEFAULT),
        ] {
            assert_eq!(h.verify(password, Some(stored)), VALID, "{stored}");
            assert_eq!(
                h.verify("wrong", Some(stored)),
                Verification::Invalid,
                "{stored}"
            );
            // One bit off in the hash.
            let (head, last) = stored.split_at(stored.len() - 1);
            let flipped = format!("{head}{}", if last == "A" { "Q" } else { "A" });
            assert_eq!(
                h.verify(password, Some(&flipped)),
                Verification::Invalid,
                "{flipped}"
            );
        }
        // The reference vector's raw output, as src/test.c states it.
        let Stored::Argon2id { hash, .. } = parse(REFERENCE) else {
            panic!("not read as Argon2id");
        };
        assert_eq!(
            hex::encode(hash),
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        );
    }

    #[test]
    fn new_argon2id_hashes_are_phc_strings_with_random_salts() {
        let h = argon(256, 2);
        assert_eq!(h.algorithm(), Algorithm::Argon2id);
        let a = h.hash("secret").unwrap();
        let b = h.hash("secret").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=256,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salts must differ");
        assert!(a.len() <= 200);
        assert_eq!(h.verify("secret", Some(&a)), VALID);
        assert_eq!(h.verify("Secret", Some(&a)), Verification::Invalid);
        // What this crate writes, the reference implementation reads: the same shape as
        // argon2-cffi's (16-byte salt, 32-byte hash, unpadded standard base64).
        let Stored::Argon2id { cost, salt, hash } = parse(&a) else {
            panic!("not read as Argon2id: {a}");
        };
        assert_eq!(
            (cost, salt.len(), hash.len()),
            (h.argon2(), SALT_LEN, HASH_LEN)
        );
    }

    #[test]
    fn rehash_decisions() {
        let pbkdf2 = Hasher::new(2_000).unwrap();
        let argon2 = argon(256, 2);
        let legacy = legacy_hash("pw");
        let phc_weak = Hasher::new(1_000).unwrap().hash("pw").unwrap();
        let phc_strong = Hasher::new(3_000).unwrap().hash("pw").unwrap();
        let a_same = argon2.hash("pw").unwrap();
        let a_less_memory = argon(128, 2).hash("pw").unwrap();
        let a_fewer_passes = argon(512, 1).hash("pw").unwrap();
        let a_stronger = argon(512, 3).hash("pw").unwrap();
        let a_more_lanes = Hasher::argon2id(Argon2Cost::new(256, 2, 4).unwrap(), MIN_ITERATIONS)
            .unwrap()
            .hash("pw")
            .unwrap();
        // Argon2id configured: every PBKDF2 form goes, a weaker Argon2id goes.
        for (stored, expected) in [
            (&legacy, REHASH),
            (&phc_weak, REHASH),
            (&phc_strong, REHASH),
            (&a_same, VALID),
            (&a_less_memory, REHASH),
            (&a_fewer_passes, REHASH),
            (&a_stronger, VALID),
            (&a_more_lanes, VALID),
        ] {
            assert_eq!(
                argon2.verify("pw", Some(stored)),
                expected,
                "argon2id: {stored}"
            );
        }
        // PBKDF2 configured: as before for PBKDF2, and an Argon2id hash is kept.
        for (stored, expected) in [
            (&legacy, REHASH),
            (&phc_weak, REHASH),
            (&phc_strong, VALID),
            (&a_same, VALID),
            (&a_less_memory, VALID),
        ] {
            assert_eq!(
                pbkdf2.verify("pw", Some(stored)),
                expected,
                "pbkdf2: {stored}"
            );
        }
        // And PBKDF2 keeps writing PBKDF2.
        assert!(
            pbkdf2
                .hash("pw")
                .unwrap()
                .starts_with("$pbkdf2-sha256$i=2000,")
        );
        let back = argon2.with_algorithm(Algorithm::Pbkdf2Sha256);
        assert!(
            back.hash("pw")
                .unwrap()
                .starts_with("$pbkdf2-sha256$i=1000,")
        );
    }

    #[test]
    fn argon2id_strings_out_of_bounds_or_off_format_are_unreadable() {
        let h = argon(64, 1);
        let salt = "c29tZXNhbHQ";
        let hash = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        for stored in [
            // Beyond the ceilings: a planted row cannot ask for 4 GiB or a billion passes.
            format!("$argon2id$v=19$m=65537,t=2,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=4294967295,t=2,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=65536,t=17,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=65536,t=2,p=17${salt}${hash}"),
            format!("$argon2id$v=19$m=99999999999,t=2,p=1${salt}${hash}"),
            // Below Argon2's floor (8 KiB per lane), zero passes or lanes.
            format!("$argon2id$v=19$m=15,t=2,p=2${salt}${hash}"),
            format!("$argon2id$v=19$m=256,t=0,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=256,t=2,p=0${salt}${hash}"),
            // Other versions, variants, orders, spellings of numbers.
            format!("$argon2id$v=16$m=256,t=2,p=1${salt}${hash}"),
            format!("$argon2id$m=256,t=2,p=1${salt}${hash}"),
            format!("$argon2i$v=19$m=256,t=2,p=1${salt}${hash}"),
            format!("$argon2d$v=19$m=256,t=2,p=1${salt}${hash}"),
            format!("$argon2id$v=19$t=2,m=256,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=256,t=2${salt}${hash}"),
            format!("$argon2id$v=19$m=256,t=2,p=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=256,t=2,p=1,keyid=AAAA${salt}${hash}"),
            format!("$argon2id$v=19$m=0256,t=2,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=+256,t=2,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=256,t=-2,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=,t=2,p=1${salt}${hash}"),
            // Salt under 8 bytes, bad base64, padding, extra fields.
            format!("$argon2id$v=19$m=256,t=2,p=1$c2FsdA${hash}"),
            format!("$argon2id$v=19$m=256,t=2,p=1$!!!!${hash}"),
            format!("$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=${hash}"),
            format!("$argon2id$v=19$m=256,t=2,p=1${salt}${hash}$"),
            format!("$argon2id$v=19$m=256,t=2,p=1${salt}"),
            format!("argon2id$v=19$m=256,t=2,p=1${salt}${hash}"),
        ] {
            assert!(!is_recognised(&stored), "{stored}");
            assert_eq!(
                h.verify("password", Some(&stored)),
                Verification::Invalid,
                "{stored}"
            );
        }
        assert!(is_recognised(REFERENCE));
    }

    #[test]
    fn configured_argon2id_costs_are_bounded() {
        assert!(Argon2Cost::new(MIN_ARGON2_MEMORY_KIB - 1, 2, 1).is_err());
        assert!(Argon2Cost::new(MAX_ARGON2_MEMORY_KIB + 1, 2, 1).is_err());
        assert!(Argon2Cost::new(19_456, 0, 1).is_err());
        assert!(Argon2Cost::new(19_456, MAX_ARGON2_ITERATIONS + 1, 1).is_err());
        assert!(Argon2Cost::new(19_456, 2, 0).is_err());
        assert!(Argon2Cost::new(64, 2, 9).is_err(), "8 KiB per lane");
        assert!(Argon2Cost::new(19_456, 2, MAX_ARGON2_PARALLELISM + 1).is_err());
        assert_eq!(Argon2Cost::new(19_456, 2, 1).unwrap(), Argon2Cost::OWASP);
        assert_eq!("argon2id".parse(), Ok(Algorithm::Argon2id));
        assert_eq!("pbkdf2-sha256".parse(), Ok(Algorithm::Pbkdf2Sha256));
        assert!("argon2".parse::<Algorithm>().is_err());
        assert!("bcrypt".parse::<Algorithm>().is_err());
    }

    #[test]
    fn an_unknown_user_costs_the_configured_algorithm() {
        // No timing here (bench/ measures); what burn runs is the configured algorithm
        // and its errors never reach the caller.
        let h = argon(64, 1);
        assert_eq!(h.verify("pw", None), Verification::Invalid);
        assert_eq!(h.verify("pw", Some("garbage")), Verification::Invalid);
        assert_eq!(
            h.verify("pw", Some(&legacy_hash("other"))),
            Verification::Invalid
        );
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
        let stored = h.hash("contraseña").unwrap();
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
                let stored = h.hash(&password).unwrap();
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

            /// An Argon2id PHC string with any m, t, p reads back as exactly those when
            /// they are within the bounds (and the salt and hash lengths too), and is
            /// unreadable otherwise: the parser never hands Argon2 a cost it refuses.
            #[test]
            fn argon2id_parameters_round_trip(
                m in prop_oneof![0u32..=70_000, any::<u32>()],
                t in prop_oneof![0u32..=20, any::<u32>()],
                p in prop_oneof![0u32..=20, any::<u32>()],
                salt in proptest::collection::vec(any::<u8>(), 1..=80),
                hash in proptest::collection::vec(any::<u8>(), 1..=80),
            ) {
                let stored = format!(
                    "$argon2id$v=19$m={m},t={t},p={p}${}${}",
                    B64.encode(&salt),
                    B64.encode(&hash)
                );
                let valid = (1..=MAX_ARGON2_PARALLELISM).contains(&p)
                    && (1..=MAX_ARGON2_ITERATIONS).contains(&t)
                    && (8 * p..=MAX_ARGON2_MEMORY_KIB).contains(&m)
                    && (8..=64).contains(&salt.len())
                    && (16..=64).contains(&hash.len());
                let expected = if valid {
                    let cost = Argon2Cost { memory_kib: m, iterations: t, parallelism: p };
                    prop_assert!(cost.context(hash.len()).is_some());
                    Stored::Argon2id { cost, salt, hash }
                } else {
                    Stored::Unreadable
                };
                prop_assert_eq!(parse(&stored), expected);
            }
        }
    }
}
