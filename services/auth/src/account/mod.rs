//! The caller's own account (`/api/account*`): use cases without HTTP (`routes/` translates).

pub mod admin;
pub mod deletion;
pub mod email;
pub mod export;
pub mod logins;
pub mod password;
pub mod profile;

use hub_runtime::http::Failure;

use crate::error::ApiError;

/// A transaction cut short by the runtime shutting down: a retry elsewhere will do.
impl From<hub_db::Interrupted> for ApiError {
    fn from(e: hub_db::Interrupted) -> Self {
        Failure::Unavailable(e.into()).into()
    }
}
