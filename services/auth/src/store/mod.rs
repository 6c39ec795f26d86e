//! All database access of the auth service; handlers hold no SQL.

pub mod deletion;
pub mod password;
pub mod throttle;
pub mod tokens;
pub mod users;
