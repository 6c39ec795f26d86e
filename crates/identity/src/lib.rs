//! Identity shared by the services: password hashing and JSON Web Tokens.
//!
//! * [`password`]: verifies the originals' legacy hashes (PBKDF2-HMAC-SHA256, fixed
//!   salt, 1000 iterations, hex) and writes a self-describing PHC string with a
//!   per-user salt and a modern iteration count.
//! * [`pool`]: runs that CPU-heavy work off the async workers, bounded.
//! * [`jwt`]: issues and verifies the HS256 tokens auth hands out and session accepts.

pub mod jwt;
pub mod password;
pub mod pool;
