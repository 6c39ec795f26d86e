//! All database access of the user-soap service; handlers hold no SQL.

pub mod throttle;
pub mod users;
