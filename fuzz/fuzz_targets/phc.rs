//! A stored password column (hub_identity::password): the legacy hex form or a PHC
//! string, read by `is_recognised`, the parser `Hasher::verify` uses. Any text is
//! recognised or not, never a panic. (`verify` itself is not called: a stored hash may
//! ask for up to 10 million PBKDF2 iterations, by design.)
#![no_main]

use hub_identity::password;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(stored) = std::str::from_utf8(data) {
        let _ = password::is_recognised(stored);
    }
});
