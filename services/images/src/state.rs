//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use std::sync::Arc;

use hub_identity::verifier::Verifier;
use sqlx::PgPool;
use tokio::sync::Semaphore;

use crate::{access::Policy, store::Store};

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The bucket.
    pub store: Store,
    /// PostgreSQL: whether a token was revoked.
    pub pool: PgPool,
    /// Who may write which key (`UPLOAD_REQUIRE_JWT`, `UPLOAD_ANONYMOUS_REPLACE`).
    pub policy: Policy,
    /// `MAX_IMAGE_BYTES`.
    pub max_image_bytes: u64,
    /// `S3_PART_SIZE_BYTES`: the most one upload buffers.
    pub part_size: usize,
    /// One permit per upload buffering at once (`MAX_CONCURRENT_UPLOADS`).
    pub upload_permits: Arc<Semaphore>,
    /// Verifies bearer tokens, when a key is configured (always with
    /// `UPLOAD_REQUIRE_JWT`; never with `UPLOAD_ANONYMOUS_REPLACE`).
    pub upload_jwt: Option<Verifier>,
}
