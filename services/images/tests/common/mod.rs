//! Test harness: each test gets its own bucket and its own server on port 0, against
//! the real S3 test server started by scripts/backing.sh.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use hub_runtime::service::{Service as _, Settings};

use hub_testkit::Go as _;
use images::{Images, store::Store};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// The smallest content each accepted type is recognised by, plus filler.
pub fn png(len: usize) -> Vec<u8> {
    with_magic(b"\x89PNG\r\n\x1a\n", len)
}

pub fn jpeg(len: usize) -> Vec<u8> {
    with_magic(b"\xff\xd8\xff\xe0", len)
}

pub fn gif(len: usize) -> Vec<u8> {
    with_magic(b"GIF89a", len)
}

pub fn webp(len: usize) -> Vec<u8> {
    with_magic(b"RIFF\x24\0\0\0WEBPVP8 ", len)
}

/// `magic` followed by a deterministic, non-repeating-looking filler up to `len` bytes.
fn with_magic(magic: &[u8], len: usize) -> Vec<u8> {
    let mut out = magic.to_vec();
    let mut x: u32 = 0x1234_5678;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x as u8);
    }
    out.truncate(len.max(magic.len()));
    out
}

pub struct TestApp {
    /// The service on port 0: `addr`, `base`, `http`, `running` (through `Deref`).
    pub service: hub_testkit::Spawned,
    pub bucket: String,
    pub endpoint: String,
    /// The same S3, through the service's own client settings (tests create and
    /// inspect objects directly).
    pub store: Store,
}

hub_testkit::test_app!(TestApp);

impl TestApp {
    /// Starts the service on its own new bucket, with test settings overridden by `extra`.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let bucket = hub_testkit::bucket_name("images");
        let endpoint = hub_testkit::env("S3_ENDPOINT");
        let source = hub_testkit::local_source(
            &[
                ("S3_ENDPOINT", endpoint.as_str()),
                ("AWS_ACCESS_KEY_ID", &hub_testkit::env("AWS_ACCESS_KEY_ID")),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    &hub_testkit::env("AWS_SECRET_ACCESS_KEY"),
                ),
                ("AWS_REGION", "us-east-1"),
                ("AWS_BUCKET_NAME", bucket.as_str()),
            ],
            extra,
        );
        let settings: Settings<images::Config> =
            Settings::from_source(&source, Images::PORT).expect("valid test config");
        let store = Store::new(&settings.s3);
        let service = hub_testkit::spawn_config::<Images>(settings).await;
        Self {
            service,
            bucket,
            endpoint,
            store,
        }
    }

    /// `POST /upload_image` with `bytes` as the field `file` named `filename`.
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> reqwest::Response {
        let part = Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str("application/octet-stream")
            .unwrap();
        self.post_form(Form::new().part("file", part)).await
    }

    pub async fn post_form(&self, form: Form) -> reqwest::Response {
        self.post("/upload_image").multipart(form).go().await
    }

    /// Uploads and returns the URL, asserting the original's success answer.
    pub async fn upload_ok(&self, filename: &str, bytes: Vec<u8>) -> String {
        let resp = self.upload(filename, bytes).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["message"], "Image uploaded successfully");
        body["url"].as_str().unwrap().to_owned()
    }

    /// `GET /list_images` → the URLs.
    pub async fn list(&self) -> Vec<String> {
        let resp = self.get("/list_images").await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect()
    }

    /// The keys in the bucket, read from S3 directly (not through the service).
    pub async fn stored_keys(&self) -> Vec<String> {
        self.store.list_keys().await.unwrap()
    }

    /// [`TestApp::stored_keys`], sorted.
    pub async fn sorted_keys(&self) -> Vec<String> {
        let mut keys = self.stored_keys().await;
        keys.sort();
        keys
    }

    /// Deletes the (empty) bucket behind the service's back.
    pub async fn delete_bucket(&self) {
        let client = self.store.client();
        client
            .delete_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
    }

    /// Multipart uploads S3 still holds open for this bucket.
    pub async fn open_multipart_uploads(&self) -> usize {
        self.store
            .client()
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap()
            .uploads()
            .len()
    }

    /// The URL the service hands out for `key`.
    pub fn url_of(&self, key: &str) -> String {
        format!(
            "{}/{}/{key}",
            self.endpoint.trim_end_matches('/'),
            self.bucket
        )
    }
}

/// An anonymous GET (plain HTTP, no signature), as a browser fetches an avatar.
pub async fn anonymous_get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}
