//! Shared handler state, which is also the service: `lib.rs` implements the skeleton's
//! `Service` on it.

use std::sync::Arc;

use hub_identity::verifier::Verifier;
use tokio::sync::Semaphore;

use crate::store::Store;

/// Cloned into every handler; all fields are cheap handles.
#[derive(Clone)]
pub struct AppState {
    /// The bucket.
    pub store: Store,
    /// `MAX_IMAGE_BYTES`.
    pub max_image_bytes: u64,
    /// `S3_PART_SIZE_BYTES`: the most one upload buffers.
    pub part_size: usize,
    /// One permit per upload buffering at once (`MAX_CONCURRENT_UPLOADS`).
    pub upload_permits: Arc<Semaphore>,
    /// Set when uploads require a bearer token (`UPLOAD_REQUIRE_JWT`).
    pub upload_jwt: Option<Verifier>,
}
