//! A stored password column (hub_identity::password): the legacy hex form or a PHC
//! string (`$pbkdf2-sha256$` or `$argon2id$`), read by `is_recognised`, the parser
//! `Hasher::verify` uses. Any text is recognised or not, never a panic. An Argon2id
//! string the parser accepts at a small cost is also verified, so whatever the parser
//! lets through, Argon2 runs without a panic. (`verify` is not called on the others: a
//! stored hash may ask for up to 10 million PBKDF2 iterations or 64 MiB, by design.)
#![no_main]

use hub_identity::password::{self, Hasher, MIN_ITERATIONS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(stored) = std::str::from_utf8(data) {
        let recognised = password::is_recognised(stored);
        if let Some(cost) = password::argon2id_cost(stored) {
            assert!(recognised, "an Argon2id cost from an unrecognised string");
            if cost.memory_kib() <= 1024 && cost.iterations() <= 2 {
                if let Ok(h) = Hasher::new(MIN_ITERATIONS) {
                    let _ = h.verify("fuzz", Some(stored));
                }
            }
        }
    }
});
