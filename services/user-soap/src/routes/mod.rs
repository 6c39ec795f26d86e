//! Every route of the user-soap service, in one list.

mod ops;
mod register;

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};

use crate::state::AppState;

/// The checked-in contract, served at `/register?wsdl`.
pub const WSDL: &str = include_str!("../../../../wsdl/user-soap.wsdl");

/// The service's routes (without the shared layers; see `hub_runtime::http::wrap`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/register", post(register::register).get(ops::wsdl))
        .route("/user-soap/health", get(ops::health))
        .route("/health", get(ops::health))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state)
}
