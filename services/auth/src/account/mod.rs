//! The account use cases of issue 23 (no HTTP here: `routes` calls them).

pub mod admin;
pub mod logins;
