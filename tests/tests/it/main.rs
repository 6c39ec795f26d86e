//! The workspace-level checks, in one binary: one link of the five services, sqlx, axum
//! and lapin instead of one per file. The fault tests, the soak and the chaos run stop
//! shared servers or load the machine: they are the separate `faults`, `soak` and
//! `chaos` binaries (tests/*.rs), run alone by scripts/test.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod account_mail;
mod compose;
mod deletion;
mod hostile;
mod identity;
mod journey;
mod layers;
mod observability;
mod producer;
mod registry;
mod soap_clients;
mod traces;
mod wsdl;
mod wsse;
