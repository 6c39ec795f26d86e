//! Identity shared by the services: password hashing and JSON Web Tokens.
//!
//! * [`password`]: verifies the originals' legacy hashes (PBKDF2-HMAC-SHA256, fixed
//!   salt, 1000 iterations, hex) and writes a self-describing PHC string with a
//!   per-user salt and a modern iteration count.
//! * [`policy`]: the password policy (length, optional breached-password check through
//!   the k-anonymity range API) of every door that sets a password.
//! * [`pool`]: runs that CPU-heavy work off the async workers, bounded.
//! * [`jwt`]: the token claims, the checks every verifier applies, HS256 keys.
//! * [`keys`]: Ed25519 keys (PEM, JWK, `kid` thumbprints) and EdDSA verification by `kid`.
//! * [`issuer`]: auth's side: signs (HS256 or EdDSA), verifies its own, publishes a JWKS.
//! * [`verifier`]: the side of the services that trust auth's tokens: HS256 with the
//!   shared secret, or EdDSA through auth's JWKS (fetched, cached, bounded).
//! * [`revocation`]: when a valid token is revoked anyway, the one read of it every
//!   service that accepts tokens makes (feature `postgres`), and refresh-token material.
//! * [`fields`]: the user's fields as registration checks them, for every door that
//!   writes them.
//! * [`confirmation`]: the codes that confirm an email address (their store: feature
//!   `postgres`).

pub mod confirmation;
pub mod fields;
pub mod issuer;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod policy;
pub mod pool;
pub mod revocation;
pub mod verifier;
