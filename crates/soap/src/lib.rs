//! SOAP plumbing shared by the SOAP services (user-soap, user-lookup).
//!
//! * [`xml`]: a bounded, namespace-aware reader. It streams the request once with
//!   quick-xml's `NsReader`, enforcing the limits (depth, element count, attributes,
//!   text size) as it goes, refusing any DOCTYPE (so neither XXE nor entity expansion
//!   can happen), processing instructions, undeclared prefixes, undefined entities and
//!   content after the root, and builds a small element tree with resolved namespaces.
//!   Prefixes never matter: elements are compared by `(namespace, local name)`.
//! * [`envelope`]: SOAP 1.1 and 1.2 envelopes on the same endpoint: version from the
//!   envelope namespace, VersionMismatch for any other, MustUnderstand for a header block
//!   addressed to us that we do not understand, exactly one Body child.
//! * [`addressing`]: WS-Addressing (1.0 and 2004/08) understood for both services:
//!   `Action` checked against the operation, the reply's `Action`/`RelatesTo` added only
//!   when the request carried WS-Addressing.
//! * [`fault`]: Faults in the request's version (1.1: HTTP 500, unqualified
//!   `faultcode`/`faultstring`/`detail`; 1.2: `Code`/`Reason`, 400 for Sender) and the
//!   [`ErrorRenderer`](hub_runtime::http::ErrorRenderer) that turns every framework
//!   rejection into a Fault; [`ServerError`], the one classification of server-side
//!   failures (503 when a backing server is unavailable, else 500).
//! * [`request`]: the [`Envelope`](request::Envelope) extractor, whose parsed request
//!   carries its version, and [`InVersion`](request::InVersion): a handler's error with
//!   the version it names, rendered by the service's [`SoapError`](request::SoapError)
//!   (a service error is no `IntoResponse`, so a handler cannot forget the version).
//! * [`wsdl`]: serves a checked-in WSDL unchanged but for its address, set to the
//!   public URL.
//! * [`wsse`]: WS-Security UsernameToken (text or digest, clock skew, a replay cache
//!   shared by every instance, text only over TLS as a trusted proxy reports it), off
//!   unless `WSSE_MODE` switches it on; the replay cache and a Bearer token's check are
//!   the service's, injected ([`wsse::ports`]: the SOAP services' cache is in
//!   PostgreSQL, `hub-soap-pg`), so this crate builds no database client; the [`Envelope`](request::Envelope)
//!   extractor checks it when a service installs it, and a door without an envelope can
//!   check the same credentials as HTTP Basic.
//!
//! Why not yaserde or quick-xml's serde: the first is quadratic in nesting depth and
//! the second ignores namespaces (docs/SOAP-CLIENTS.md, parsing them in Rust); the
//! payloads here are a handful of strings, which a tree walk reads clearly.

pub mod addressing;
pub mod envelope;
pub mod fault;
pub mod request;
pub mod wsdl;
pub mod wsse;
pub mod xml;

pub use envelope::{SoapRequest, SoapVersion};
pub use fault::{Fault, FaultCode, ServerError, Subcode};
pub use request::{Envelope, InVersion, SoapError};
