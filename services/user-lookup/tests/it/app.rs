//! What user-lookup's tests share besides the harness: the SOAP namespaces.

pub use crate::harness::{LookupApp, TestApp};

/// The SOAP 1.1 envelope namespace.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
