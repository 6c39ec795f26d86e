//! Runtime plumbing shared by every service of the hub.
//!
//! One job: everything a service needs around its handlers and nothing about its
//! business. Configuration helpers ([`config`]), logging ([`telemetry`]), the HTTP
//! layers every service wears (request id, CORS allow-list, body limit, timeout,
//! panic catching, errors rendered in the caller's protocol: [`http`]), graceful
//! shutdown ([`shutdown`]), Prometheus metrics ([`metrics`]), OpenAPI documents ([`openapi`]) and the `main()`/serve sequence every service shares ([`service`]).

/// The configuration helpers (`hub-config`), here too so a service needs one dependency.
pub use hub_config as config;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod service;
pub mod shutdown;
pub mod telemetry;
