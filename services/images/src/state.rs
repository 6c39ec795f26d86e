//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use std::sync::Arc;

use hub_identity::verifier::Verifier;
use sqlx::PgPool;
use tokio::sync::Semaphore;

use crate::{access::Policy, process::Imaging, store::Store};

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
    /// One permit per upload buffering at once (`MAX_CONCURRENT_UPLOADS`).
    pub upload_permits: Arc<Semaphore>,
    /// Decoding and re-encoding, off the request threads, `IMAGE_DECODE_CONCURRENCY` at
    /// once, within `MAX_IMAGE_PIXELS`.
    pub imaging: Imaging,
    /// Verifies bearer tokens, when a key is configured (always with
    /// `UPLOAD_REQUIRE_JWT`): an upload's (not with `UPLOAD_ANONYMOUS_REPLACE`), and the
    /// owner's of `GET /api/images/{user_id}`.
    pub jwt: Option<Verifier>,
}
