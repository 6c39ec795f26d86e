//! Images service (port 5015): profile image upload and listing on S3, a Rust port of
//! the Flask `profile-image-service` (docs/LEGACY.md, images).
//!
//! Endpoints:
//! * `POST /upload_image`, multipart field `file` → 200 `{"message":"Image uploaded
//!   successfully","url"}`; 400 `{"error":"No file provided"}`; 413 over
//!   `MAX_IMAGE_BYTES`; 415 unless PNG, JPEG, GIF or WebP (by content); 503 when S3 is
//!   down. The object key is the file name through Werkzeug's `secure_filename`, its
//!   extension made to match the detected type (a PNG sent as `x.html` is stored as
//!   `x.png`); uploading the same name again replaces the object (front-ends upload
//!   `<user-id>.png` to change an avatar). Optionally requires a JWT
//!   (`UPLOAD_REQUIRE_JWT`), and then a user may only write `<own user id>.<ext>` (403
//!   otherwise).
//! * `GET /list_images` → 200 `{"urls":[...]}`, every object of the bucket.
//! * `GET /profile-image/health`, `GET /health`.
//! * `GET /openapi.json`: the OpenAPI document, generated from the routes ([`routes`]).
//!
//! Data: one S3 bucket (`AWS_BUCKET_NAME`), created at start-up if absent, with a
//! bucket policy for public reads (MinIO ignores ACLs). No database, no events.

pub mod config;
pub mod error;
pub mod keys;
pub mod magic;
pub mod routes;
pub mod state;
pub mod store;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::Router;
use hub_identity::verifier::Verifier;
use hub_runtime::service::{self, Entry};
use tokio::sync::Semaphore;

pub use crate::config::Config;
/// The images service, as the runtime's skeleton runs it: its state.
pub use crate::state::AppState as Images;
use crate::{error::ApiError, store::Store};

impl service::Service for Images {
    const ENTRY: Entry = Entry::flask::<ApiError>("images", 5015, "/profile-image/health");
    type Config = Config;

    /// Waits for S3 (up to `S3_STARTUP_TIMEOUT_SECS`), makes sure the bucket and its
    /// policy exist.
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        let store = Store::new(&config.s3);
        store
            .wait_ready(config.s3.startup_timeout)
            .await
            .with_context(|| format!("cannot prepare bucket {}", config.s3.bucket))?;
        Ok(Self {
            store,
            max_image_bytes: config.max_image_bytes,
            part_size: config.s3.part_size,
            upload_permits: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
            upload_jwt: config.upload_jwt.as_ref().map(Verifier::new).transpose()?,
        })
    }

    fn router(self, _config: &Config, _local: SocketAddr) -> Router {
        routes::router(self)
    }

    /// The bucket answers `HeadBucket` (a bucket that vanished is put back first);
    /// S3's message is not repeated.
    async fn down(&self) -> Option<String> {
        let answered = self.store.check().await.inspect_err(|e| {
            tracing::warn!(error = %e, "health check: S3 unavailable");
        });
        service::unavailable(&[("storage", answered.is_ok())])
    }
}
