//! Every route of the auth service, in one list, with its OpenAPI document.

mod account;
pub mod admin_users;
mod deletion;
mod login;
mod logins;
mod ops;
mod password;
mod profile;
mod tokens;

use axum::Router;
use hub_runtime::openapi::{self, OpenApiRouter};
use utoipa_axum::routes;

use crate::state::AppState;

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`),
/// plus `GET /openapi.json`, generated from the same list.
pub fn router(state: AppState, test_endpoints: bool) -> Router {
    let mut router = OpenApiRouter::new()
        .routes(routes!(login::login))
        .routes(routes!(profile::profile))
        .routes(routes!(tokens::refresh))
        .routes(routes!(tokens::logout))
        .routes(routes!(tokens::jwks))
        .routes(routes!(account::account))
        .routes(routes!(account::update_profile))
        .routes(routes!(account::change_email))
        .routes(routes!(account::verify))
        .routes(routes!(account::resend))
        .routes(routes!(password::change))
        .routes(routes!(password::forgot))
        .routes(routes!(password::reset))
        .routes(routes!(logins::list))
        .routes(routes!(logins::revoke))
        .routes(routes!(logins::revoke_others))
        .routes(routes!(admin_users::list))
        .routes(routes!(admin_users::get))
        .routes(routes!(admin_users::deactivate))
        .routes(routes!(admin_users::reactivate))
        .routes(routes!(admin_users::logins))
        .routes(routes!(admin_users::revoke_login))
        .routes(routes!(admin_users::revoke_all))
        .routes(routes!(admin_users::delete))
        .routes(routes!(admin_users::export))
        .routes(routes!(deletion::delete_account))
        .routes(routes!(deletion::export_account));
    if test_endpoints {
        router = router
            .routes(routes!(ops::test_db))
            .routes(routes!(ops::test_event));
    }
    openapi::finish::<crate::Auth, _>(
        router,
        "Login, profile, refresh and logout; JWT (HS256, or EdDSA with a published JWKS). Port of the Flask auth-service.",
    )
    .with_state(state)
}

/// Every error body of this service (the original's shape).
pub use hub_runtime::openapi::Message;
