//! The account use cases of issue 23 (no HTTP here; `routes/` translates).

pub mod password;
