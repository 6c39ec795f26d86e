//! Images service (port 5015): profile image upload and listing on S3, a Rust port of
//! the Flask `profile-image-service` (docs/LEGACY.md, images).
//!
//! Endpoints:
//! * `POST /upload_image`, multipart field `file` → 200 `{"message":"Image uploaded
//!   successfully","url"}`; 400 `{"error":"No file provided"}`; 413 over
//!   `MAX_IMAGE_BYTES`; 415 unless PNG, JPEG, GIF or WebP (by content); 503 when S3 is
//!   down. The object key is the file name through Werkzeug's `secure_filename`, its
//!   extension made to match the detected type (a PNG sent as `x.html` is stored as
//!   `x.png`). By default anyone may create a key that does not exist yet (409 if it
//!   does), and only the owner's token (not revoked) replaces `<own user id>.<ext>`
//!   ([`access`]); `UPLOAD_REQUIRE_JWT` requires a token for every upload (a user then
//!   writes only `<own user id>.<ext>`, 403 otherwise), `UPLOAD_ANONYMOUS_REPLACE` lets
//!   any upload replace, as the original.
//!   Every image is decoded and written out anew ([`process`], issue 26): no EXIF, GPS,
//!   XMP or comments, the EXIF orientation applied, its declared size checked before any
//!   pixel is decoded (413), decoding off the request threads within a concurrency bound;
//!   stored under its key and under `<stem>/<sha256>.<ext>` with 64/128/256 px variants
//!   in its format and WebP ([`versions`]); the answer gains `variants` and `version_url`.
//! * `GET /list_images` → 200 `{"images":[...],"urls":[...]}`: every object of the
//!   bucket but versions and variants; `images` with each one's current version.
//! * `GET /api/images/{user_id}` with that user's bearer token → 200 `{"user_id",
//!   "objects":[{"key","size","last_modified","url"}],"images"}`: the user's objects from
//!   one prefix listing (what auth's account export reads); 401 / 403 otherwise.
//! * `GET /profile-image/health`, `GET /health`.
//! * `GET /openapi.json`: the OpenAPI document, generated from the routes ([`routes`]).
//!
//! Data: one S3 bucket (`AWS_BUCKET_NAME`), created at start-up if absent, with a
//! bucket policy for public reads (MinIO ignores ACLs); replaced versions are deleted after
//! a grace period by a chore on every instance. PostgreSQL, read only to check that a
//! token was not revoked. Events: consumes `UserDeleted` from `images-events`
//! (auth, an account deletion) and deletes the user's objects ([`events`]).

pub mod access;
pub mod config;
pub mod error;
pub mod events;
pub mod keys;
pub mod magic;
pub mod process;
pub mod routes;
pub mod state;
pub mod store;
pub mod versions;

use std::{net::SocketAddr, sync::Arc, time::SystemTime};

use anyhow::Context;
use axum::Router;
use hub_identity::verifier::Verifier;
use hub_runtime::service::{self, Entry, Task};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
/// The images service, as the runtime's skeleton runs it: its state.
pub use crate::state::AppState as Images;
use crate::{access::Policy, error::ApiError, process::Imaging, store::Store};

impl service::Service for Images {
    const ENTRY: Entry = Entry::flask::<ApiError>("images", 5015, "/profile-image/health");
    type Config = Config;

    /// Waits for S3 (up to `S3_STARTUP_TIMEOUT_SECS`), makes sure the bucket and its
    /// policy exist; meanwhile connects to PostgreSQL (waiting up to its start-up
    /// timeout) and migrates.
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        let store = Store::new(&config.s3);
        let bucket = async {
            store
                .wait_ready(config.s3.startup_timeout)
                .await
                .with_context(|| format!("cannot prepare bucket {}", config.s3.bucket))
        };
        let (pool, ()) = tokio::try_join!(
            async { anyhow::Ok(config.db.connect(Self::NAME).await?) },
            bucket
        )?;
        if config.policy == Policy::CreateOnly && config.jwt.is_none() {
            tracing::warn!(
                "no JWT key (JWKS_URL, SECRET_KEY or JWT_SECRET): uploads only create images, \
                 and nobody can replace one, their owners included"
            );
        }
        Ok(Self {
            store,
            pool,
            policy: config.policy,
            max_image_bytes: config.max_image_bytes,
            upload_permits: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
            imaging: Imaging::new(
                config.decode_concurrency,
                config.pixel_limits,
                &config.variant_sizes,
            ),
            jwt: config.jwt.as_ref().map(Verifier::new).transpose()?,
        })
    }

    /// The prune of replaced versions, every `IMAGE_PRUNE_INTERVAL_SECS`, on every
    /// instance (deleting is idempotent): see [`versions::prune`].
    fn router(self, _config: &Config, _local: SocketAddr) -> Router {
        routes::router(self)
    }

    /// The prune of replaced versions (every `IMAGE_PRUNE_INTERVAL`), and the
    /// `images-events` consumer that deletes a deleted user's objects, unless turned off.
    fn tasks(&self, config: &Config, shutdown: &CancellationToken) -> Vec<Task> {
        let (store, grace) = (self.store.clone(), config.version_grace);
        let mut tasks = vec![service::every(
            config.prune_interval,
            shutdown.clone(),
            move || {
                let store = store.clone();
                async move {
                    match versions::prune(&store, grace, SystemTime::now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(keys = n, "replaced image versions pruned"),
                        Err(e) => tracing::warn!(error = %e, "pruning image versions failed"),
                    }
                }
            },
        )];
        if config.consume_events {
            tasks.push(Box::pin(hub_events::consumer::run(
                config.consumer.clone(),
                events::DeletionApplier {
                    store: self.store.clone(),
                },
                shutdown.clone(),
            )));
        }
        tasks
    }

    /// The bucket answers `HeadBucket` (a bucket that vanished is put back first) and
    /// PostgreSQL answers; neither driver's message is repeated.
    async fn down(&self) -> Option<String> {
        let storage = async {
            self.store.check().await.inspect_err(|e| {
                tracing::warn!(error = %e, "health check: S3 unavailable");
            })
        };
        let (storage, pg) = tokio::join!(storage, hub_db::healthy(&self.pool));
        service::unavailable(&[("storage", storage.is_ok()), ("PostgreSQL", pg)])
    }

    async fn close(self) {
        self.pool.close().await;
    }
}
