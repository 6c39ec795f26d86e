//! images' requests and S3 reads only the `it` binary uses ([`ImagesHelpers`]); the
//! harness and what the `faults` binary shares are in `harness.rs`.

use std::time::Duration;

use hub_identity::jwt::JwtKeys;
use hub_testkit::Go as _;
use images::store::Store;
use reqwest::multipart::{Form, Part};
use uuid::Uuid;

use image::ImageFormat;

pub use crate::harness::{ImagesApp, TestApp, anonymous_get, png, reencoded};
use crate::harness::{filler, real_image};

/// A real JPEG of about `len` bytes (at most; its smallest form when `len` is
/// smaller): 8 × 8 pixels drawn from `len`, padded with comment (COM) segments.
pub fn jpeg(len: usize) -> Vec<u8> {
    let mut out = real_image(ImageFormat::Jpeg, len);
    let mut pad = Vec::new();
    let mut left = len.saturating_sub(out.len());
    while left > 4 {
        let data = (left - 4).min(65_533);
        pad.extend_from_slice(&[0xFF, 0xFE]);
        pad.extend_from_slice(&u16::try_from(data + 2).unwrap().to_be_bytes());
        pad.extend(filler(data));
        left -= data + 4;
    }
    out.splice(2..2, pad); // after SOI
    out
}

/// A real GIF of about `len` bytes (at most): 8 × 8 pixels drawn from `len`, padded
/// with a comment extension before its trailer.
pub fn gif(len: usize) -> Vec<u8> {
    let mut out = real_image(ImageFormat::Gif, len);
    let mut left = len.saturating_sub(out.len() + 3);
    let mut pad = vec![0x21, 0xFE];
    while left > 1 {
        let block = (left - 1).min(255);
        pad.push(u8::try_from(block).unwrap());
        pad.extend(filler(block));
        left -= block + 1;
    }
    pad.push(0);
    if pad.len() > 3 {
        let trailer = out.len() - 1;
        out.splice(trailer..trailer, pad);
    }
    out
}

/// A real (lossless) WebP, 8 × 8 pixels drawn from `len` (not padded).
pub fn webp(len: usize) -> Vec<u8> {
    real_image(ImageFormat::WebP, len)
}

/// images' users, tokens, uploads and what S3 holds, on the test's instance.
pub trait ImagesHelpers {
    /// The same S3, through the service's own client settings (tests create and
    /// inspect objects directly).
    fn store(&self) -> Store;
    /// The S3 endpoint the service uses.
    fn endpoint(&self) -> String;
    /// A user in the test's database; its id.
    async fn user(&self, name: &str) -> Uuid;
    /// A token for `user` issued now by auth (HS256, the service's secret), of a login
    /// opened now (its `sid`), as auth's `/login` answers.
    async fn login(&self, user: Uuid) -> (String, Uuid);
    /// A token for `user` issued now (`iat`), in a login `sid` (none: minted as the
    /// original auth did, revoked only by a password change or an operator).
    fn token_of(&self, user: Uuid, sid: Option<Uuid>) -> String;
    /// `POST /upload_image` of `bytes` named `filename`, with `Authorization: Bearer
    /// <token>` when given, on this instance.
    async fn upload_with(
        &self,
        filename: &str,
        bytes: Vec<u8>,
        token: Option<&str>,
    ) -> reqwest::Response;
    /// [`ImagesHelpers::upload_with`] a token.
    async fn upload_as(&self, filename: &str, bytes: Vec<u8>, token: &str) -> reqwest::Response;
    /// The bytes stored under `key`, read from S3 directly (`None`: no such object).
    async fn stored(&self, key: &str) -> Option<Vec<u8>>;
    /// The keys in the bucket, read from S3 directly (not through the service).
    async fn stored_keys(&self) -> Vec<String>;
    /// The images' own keys (not versions nor variants), sorted.
    async fn sorted_keys(&self) -> Vec<String>;
    /// Deletes the (empty) bucket behind the service's back.
    async fn delete_bucket(&self);
    /// Multipart uploads S3 still holds open for this bucket.
    async fn open_multipart_uploads(&self) -> usize;
    /// The URL the service hands out for `key`.
    fn url_of(&self, key: &str) -> String;
}

impl ImagesHelpers for TestApp {
    fn store(&self) -> Store {
        Store::new(&self.settings().service.s3)
    }

    fn endpoint(&self) -> String {
        hub_testkit::env("S3_ENDPOINT")
    }

    async fn user(&self, name: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, name).await
    }

    async fn login(&self, user: Uuid) -> (String, Uuid) {
        let sid = hub_testkit::open_login(&self.db_url, user).await;
        (self.token_of(user, Some(sid)), sid)
    }

    fn token_of(&self, user: Uuid, sid: Option<Uuid>) -> String {
        let keys = JwtKeys::new(&self.secret.clone().into(), Duration::from_secs(600));
        keys.sign_session(&keys.claims_for(user, "ana"), sid)
            .unwrap()
    }

    async fn upload_with(
        &self,
        filename: &str,
        bytes: Vec<u8>,
        token: Option<&str>,
    ) -> reqwest::Response {
        let part = Part::bytes(bytes).file_name(filename.to_owned());
        let mut request = self
            .post("/upload_image")
            .multipart(Form::new().part("file", part));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.go().await
    }

    async fn upload_as(&self, filename: &str, bytes: Vec<u8>, token: &str) -> reqwest::Response {
        self.upload_with(filename, bytes, Some(token)).await
    }

    async fn stored(&self, key: &str) -> Option<Vec<u8>> {
        match self
            .store()
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => Some(object.body.collect().await.unwrap().to_vec()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(e) => panic!("reading {key}: {e:?}"),
        }
    }

    async fn stored_keys(&self) -> Vec<String> {
        self.store().list_keys().await.unwrap()
    }

    async fn sorted_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .stored_keys()
            .await
            .into_iter()
            .filter(|k| images::keys::parse_version(k).is_none())
            .collect();
        keys.sort();
        keys
    }

    async fn delete_bucket(&self) {
        self.store()
            .client()
            .delete_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
    }

    async fn open_multipart_uploads(&self) -> usize {
        self.store()
            .client()
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap()
            .uploads()
            .len()
    }

    fn url_of(&self, key: &str) -> String {
        format!(
            "{}/{}/{key}",
            self.endpoint().trim_end_matches('/'),
            self.bucket
        )
    }
}
