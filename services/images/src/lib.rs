//! Images service (port 5015): profile image upload and listing on S3, a Rust port of
//! the Flask `profile-image-service` (shared/originals.md §3.4).
//!
//! Endpoints:
//! * `POST /upload_image`, multipart field `file` → 200 `{"message":"Image uploaded
//!   successfully","url"}`; 400 `{"error":"No file provided"}`; 413 over
//!   `MAX_IMAGE_BYTES`; 415 unless PNG, JPEG, GIF or WebP (by content); 503 when S3 is
//!   down. The object key is the file name through Werkzeug's `secure_filename`;
//!   uploading the same name again replaces the object (front-ends upload
//!   `<user-id>.png` to change an avatar). Optionally requires a JWT (`UPLOAD_REQUIRE_JWT`).
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
use hub_identity::jwt::JwtKeys;
use hub_runtime::{http, service};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::{state::AppState, store::Store};

/// A built service: bucket ready, listener bound, not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    config: Config,
}

impl App {
    /// Waits for S3 (up to `S3_STARTUP_TIMEOUT_SECS`), makes sure the bucket and its
    /// policy exist, binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = Store::new(&config.s3);
        store
            .wait_ready(config.s3.startup_timeout)
            .await
            .with_context(|| format!("cannot prepare bucket {}", config.s3.bucket))?;
        let state = AppState {
            store,
            max_image_bytes: config.max_image_bytes,
            part_size: config.s3.part_size,
            upload_permits: Arc::new(Semaphore::new(config.max_concurrent_uploads)),
            // The TTL only matters for issuing, which this service never does.
            upload_jwt: config
                .upload_jwt_secret
                .as_ref()
                .map(|secret| JwtKeys::new(secret, std::time::Duration::from_secs(3600))),
        };
        let router = http::wrap(
            routes::router(state),
            &config.http,
            http::json_renderer("error"),
        );
        let listener = http::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        Ok(Self {
            listener,
            router,
            config,
        })
    }

    /// The address actually bound (the real port when `PORT=0`).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves requests until `shutdown` is cancelled, then drains them.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let served = service::serve(
            "images",
            self.listener,
            self.router,
            shutdown,
            self.config.http.drain_timeout,
            Vec::new(),
        )
        .await;
        tracing::info!("shutdown complete");
        served
    }
}
