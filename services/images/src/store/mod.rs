//! All S3 access: the client, the bucket (created if absent, public-read policy), object
//! writes (one `PutObject`, or a multipart upload that is aborted unless completed) and
//! the paged listing. Handlers never touch the SDK.
//!
//! The test server (moto) keeps everything in memory, and a MinIO volume can be
//! replaced: when S3 answers `NoSuchBucket`, the bucket and its policy are put back and
//! the call is tried once more, so the service heals without a restart.

mod multipart;

use std::{
    future::Future,
    time::{Duration, SystemTime},
};

use aws_sdk_s3::{
    Client,
    config::{
        BehaviorVersion, Credentials, Region, RequestChecksumCalculation,
        ResponseChecksumValidation, retry::RetryConfig, timeout::TimeoutConfig,
    },
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    primitives::ByteStream,
    types::{BucketLocationConstraint, CreateBucketConfiguration},
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use bytes::Bytes;
use secrecy::ExposeSecret;

pub use self::multipart::MultipartUpload;
use crate::{access::Write, config::S3Config, keys};

/// Why an S3 call failed, as far as callers care.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// S3 is down, slow or overloaded (connection refused, timeout, 5xx): retry later.
    #[error("S3 unavailable: {0}")]
    Unavailable(String),
    /// The bucket does not exist (any more).
    #[error("the bucket does not exist")]
    NoSuchBucket,
    /// A create-only write ([`Write::CreateOnly`]) found the key taken: S3 answered
    /// 412 `PreconditionFailed`, or 409 `ConditionalRequestConflict` (another write of
    /// the key was under way). Nothing was written.
    #[error("the key exists already")]
    Exists,
    /// Anything else (credentials, permissions, a bug).
    #[error("S3 error: {0}")]
    Failed(String),
}

/// One object of a listing.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its key.
    pub key: String,
    /// Its ETag, as S3 lists it (quoted; the MD5 of the bytes for a single `PutObject`).
    pub etag: String,
    /// When it was last written (the epoch if S3 did not say).
    pub last_modified: SystemTime,
    /// Its size in bytes (0 if S3 did not say).
    pub size: u64,
}

impl Object {
    /// From one entry of a `ListObjectsV2` page (`None` without a key).
    fn listed(o: &aws_sdk_s3::types::Object) -> Option<Self> {
        Some(Self {
            key: o.key()?.to_owned(),
            etag: o.e_tag().unwrap_or_default().to_owned(),
            last_modified: o
                .last_modified()
                .and_then(|t| SystemTime::try_from(*t).ok())
                .unwrap_or(SystemTime::UNIX_EPOCH),
            size: o
                .size()
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or_default(),
        })
    }
}

/// A handle on the service's bucket; cheap to clone.
#[derive(Clone)]
pub struct Store {
    client: Client,
    bucket: String,
    region: String,
    public_base_url: String,
    public_read_policy: bool,
}

impl Store {
    /// Builds the client (no network traffic yet): path-style addressing, static
    /// credentials, checksums only where S3 requires them (MinIO and other S3 servers
    /// do not all know the newer default ones) and every call bounded in time.
    pub fn new(cfg: &S3Config) -> Self {
        Self {
            client: Client::from_conf(client_config(cfg)),
            bucket: cfg.bucket.clone(),
            region: cfg.region.clone(),
            public_base_url: cfg.public_base_url.clone(),
            public_read_policy: cfg.public_read_policy,
        }
    }

    /// The SDK client, for tests and benchmarks that talk to the same S3 directly.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The public URL of `key` (see [`keys::object_url`]).
    pub fn url(&self, key: &str) -> String {
        keys::object_url(&self.public_base_url, &self.bucket, key)
    }

    /// Retries [`Store::ensure_bucket`] while S3 is unavailable, for at most `within`
    /// (start-up: the S3 server may still be starting).
    pub async fn wait_ready(&self, within: Duration) -> Result<(), StoreError> {
        hub_retry::until_ready(
            within,
            hub_retry::Backoff::constant(Duration::from_millis(500)),
            || self.ensure_bucket(),
            |e| match e {
                StoreError::Unavailable(e) => {
                    tracing::info!(error = %e, "waiting for S3");
                    true
                }
                _ => false,
            },
        )
        .await
    }

    /// Creates the bucket if, and only if, `HeadBucket` says it does not exist (any
    /// other error is returned: creating on, say, a 403 would hide the real problem),
    /// tolerating a concurrent creation by another instance; then sets the public-read
    /// policy (idempotent). MinIO ignores per-object ACLs, so none are ever sent.
    pub async fn ensure_bucket(&self) -> Result<(), StoreError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => self.create_bucket().await?,
            Err(e) => return Err(classify(e)),
        }
        if self.public_read_policy {
            self.client
                .put_bucket_policy()
                .bucket(&self.bucket)
                .policy(public_read_policy(&self.bucket))
                .send()
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    async fn create_bucket(&self) -> Result<(), StoreError> {
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that refuses an explicit location constraint.
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {
                tracing::info!(bucket = %self.bucket, "bucket created");
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Health: the bucket answers `HeadBucket`; a missing bucket is put back first.
    pub async fn check(&self) -> Result<(), StoreError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => self.ensure_bucket().await,
            Err(e) => Err(classify(e)),
        }
    }

    /// Stores `body` under `key` in one `PutObject` (S3 replaces an existing object
    /// atomically: readers see the old or the new bytes, never a mix). With
    /// [`Write::CreateOnly`], only if the key does not exist: `If-None-Match: *`, which S3
    /// checks and writes as one step, so of simultaneous writes of a new key one wins;
    /// the others, and any write of a taken key, get [`StoreError::Exists`].
    pub async fn put(
        &self,
        key: &str,
        content_type: &str,
        body: Bytes,
        write: Write,
    ) -> Result<(), StoreError> {
        self.put_cached(key, content_type, None, body, write).await
    }

    /// [`Store::put`] with a `Cache-Control` header stored on the object (S3 serves it
    /// with every read).
    pub async fn put_cached(
        &self,
        key: &str,
        content_type: &str,
        cache_control: Option<&str>,
        body: Bytes,
        write: Write,
    ) -> Result<(), StoreError> {
        self.healing(|| async {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .set_cache_control(cache_control.map(str::to_owned))
                .set_if_none_match(if_none_match(write))
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        })
        .await
    }

    /// Starts a multipart upload of `key`; the object appears only on
    /// [`MultipartUpload::complete`], and an upload dropped before that is aborted.
    pub async fn start_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<MultipartUpload, StoreError> {
        let upload_id = self
            .healing(|| async {
                self.client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .content_type(content_type)
                    .send()
                    .await
                    .map_err(classify)?
                    .upload_id
                    .ok_or_else(|| StoreError::Failed("no upload id in the answer".into()))
            })
            .await?;
        Ok(MultipartUpload::new(
            self.client.clone(),
            self.bucket.clone(),
            key.to_owned(),
            upload_id,
        ))
    }

    /// Every key in the bucket, in S3 (UTF-8 binary) order, following continuation
    /// tokens past S3's 1000 keys per page.
    pub async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_objects()
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect())
    }

    /// Every object in the bucket (key, ETag, last modified, size), in S3 key order, all
    /// pages.
    pub async fn list_objects(&self) -> Result<Vec<Object>, StoreError> {
        self.list_prefix(None).await
    }

    /// Every object whose key starts with `prefix` (the whole bucket for `None`), in S3
    /// key order, following continuation tokens past S3's 1000 keys per page. S3 reads
    /// only the keys under the prefix, so a user's listing costs what the user has.
    async fn list_prefix(&self, prefix: Option<&str>) -> Result<Vec<Object>, StoreError> {
        self.healing(|| async {
            let mut objects = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .set_prefix(prefix.map(str::to_owned))
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(classify)?;
                objects.extend(page.contents().iter().filter_map(Object::listed));
                match page.next_continuation_token() {
                    Some(next) if page.is_truncated() == Some(true) => {
                        token = Some(next.to_owned())
                    }
                    _ => return Ok(objects),
                }
            }
        })
        .await
    }

    /// Every object of a user, in S3 key order: the keys `<user_id>.<ext>` (and any other
    /// name starting `<user_id>.`) and everything under `<user_id>/` (the key scheme agreed
    /// with issue 26). One prefix listing of `<user_id>` (all its pages): what another
    /// user's keys or the rest of the bucket hold is never read.
    pub async fn user_objects(&self, user_id: &str) -> Result<Vec<Object>, StoreError> {
        let (dot, slash) = (format!("{user_id}."), format!("{user_id}/"));
        let mut objects = self.list_prefix(Some(user_id)).await?;
        objects.retain(|o| o.key.starts_with(&dot) || o.key.starts_with(&slash));
        Ok(objects)
    }

    /// Deletes every object of a user ([`Store::user_objects`]), each with one
    /// `DeleteObject` (a user has a handful). Idempotent: returns how many were deleted
    /// now, 0 once none is left.
    pub async fn delete_user_objects(&self, user_id: &str) -> Result<usize, StoreError> {
        let objects = self.user_objects(user_id).await?;
        for o in &objects {
            self.delete(&o.key).await?;
        }
        Ok(objects.len())
    }

    /// Deletes `key` (S3 answers success for a key that does not exist, so deleting is
    /// idempotent, safe from any number of instances at once).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// Runs `op`; if the bucket has vanished, puts it back and runs `op` once more.
    async fn healing<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        match op().await {
            Err(StoreError::NoSuchBucket) => {
                tracing::warn!(bucket = %self.bucket, "bucket missing; creating it again");
                self.ensure_bucket().await?;
                op().await
            }
            other => other,
        }
    }
}

/// The `If-None-Match` of a write: `*` (only if no object has the key) for a create-only one.
pub(crate) fn if_none_match(write: Write) -> Option<String> {
    (write == Write::CreateOnly).then(|| "*".to_owned())
}

fn client_config(cfg: &S3Config) -> aws_sdk_s3::Config {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(cfg.region.clone()))
        .endpoint_url(&cfg.endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            &cfg.access_key_id,
            cfg.secret_access_key.expose_secret(),
            None,
            None,
            "environment",
        ))
        .http_client(http_client)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(cfg.connect_timeout)
                .operation_attempt_timeout(cfg.attempt_timeout)
                .operation_timeout(cfg.operation_timeout)
                .build(),
        )
        // Short backoff: an S3 outage must turn into a quick 503, not a long wait.
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(cfg.max_attempts)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(1)),
        )
        .build()
}

/// Anyone may read objects (the URLs are public, as the original meant with its ACL);
/// nobody anonymous may list, write or delete.
fn public_read_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicReadObjects",
            "Effect": "Allow",
            "Principal": { "AWS": ["*"] },
            "Action": ["s3:GetObject"],
            "Resource": [format!("arn:aws:s3:::{bucket}/*")],
        }],
    })
    .to_string()
}

/// `HeadBucket` has no body, so "missing" is only visible as a 404.
fn is_not_found<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(s) => {
            matches!(s.err().code(), Some("NotFound" | "NoSuchBucket"))
                || s.raw().status().as_u16() == 404
        }
        _ => false,
    }
}

/// Sorts an SDK error into what callers act on. The message (the SDK's error chain:
/// endpoint, code, request id) is for logs only.
pub(crate) fn classify<E>(e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(message)
        }
        SdkError::ServiceError(s) if s.err().code() == Some("NoSuchBucket") => {
            StoreError::NoSuchBucket
        }
        SdkError::ServiceError(s)
            if s.raw().status().as_u16() == 412
                || s.err().code() == Some("ConditionalRequestConflict") =>
        {
            StoreError::Exists
        }
        SdkError::ServiceError(s) if s.raw().status().is_server_error() => {
            StoreError::Unavailable(message)
        }
        _ => StoreError::Failed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_grants_anonymous_reads_of_objects_only() {
        let policy: serde_json::Value =
            serde_json::from_str(&public_read_policy("profile-images")).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Action"], serde_json::json!(["s3:GetObject"]));
        assert_eq!(
            statement["Resource"],
            serde_json::json!(["arn:aws:s3:::profile-images/*"])
        );
    }
}
