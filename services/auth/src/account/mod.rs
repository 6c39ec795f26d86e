//! The account use cases of issue 23: what a user (or an admin) does to an account.

pub mod deletion;
