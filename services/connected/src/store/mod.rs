//! All database access of the connected service; handlers hold no queries.

pub mod sessions;
pub mod users;
