//! Test support for the services' integration tests. Never a dependency of a service.
//!
//! Every test gets its own database ([`create_database`]) and queue names, against the
//! real servers that `scripts/backing.sh` starts, so tests run in parallel. Waiting is
//! always polling with a deadline, never a sleep standing in for synchronisation.
//!
//! One module per job; everything is re-exported here (`hub_testkit::eventually`, ...).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker;
mod config;
mod eventually;
mod fresh;
mod harness;
mod http;
mod leftovers;
mod openapi;
mod outage;
mod postgres;
mod process;
mod pyjwt;
mod relay;
mod running;
pub mod snapshot;
pub mod soap;
mod spawn;
mod users;

pub use broker::{Message, queue_channel, take_messages, take_messages_from};
pub use config::{amqp_url, config_source, env, local_source, mongodb_uri, python};
pub use eventually::{Outcome, eventually};
pub use fresh::{bucket_name, create_database, mongo_database, queue_name};
pub use harness::{Harness, TestApp};
pub use http::{
    Go, get_text, in_flight, json_body, parts, raw_post, send_and_hang_up, status_json, token_pair,
};
pub use leftovers::{pg_leftovers, ready_messages};
pub use openapi::{assert_openapi_lists, assert_openapi_matches_routes, openapi_paths};
pub use outage::{Down, Server, backing};
pub use postgres::{
    assert_no_connection_left_in_a_transaction, count, outbox_pending, wait_outbox_drained,
};
pub use process::{ProcessBacking, ServiceProcess, peak_rss_kib, rss_kib, service_binary};
pub use pyjwt::{pyjwt_decode, pyjwt_decode_with_jwks};
pub use relay::TcpRelay;
pub use running::{Running, block_on_own_thread};
pub use spawn::{Spawned, spawn, spawn_config};
pub use users::{
    change_password, ensure_user, log_out, open_login, seed_user, seed_user_with, set_deactivated,
};

/// A real 1 × 1 PNG (RGBA, transparent), valid to the last CRC: what a test uploads when
/// only that an image is stored matters (images decodes every upload). The file is the
/// one scripts/quickstart.sh and tests/readme/run.sh upload too.
pub const TINY_PNG: &[u8] = include_bytes!("../../../tests/fixtures/1x1.png");
