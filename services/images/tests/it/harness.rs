//! images on the testkit's harness: each test gets its own bucket, its own database and
//! its own server on port 0, against the real S3 test server and PostgreSQL started by
//! scripts/backing.sh. What both the `it` and the `faults` binaries use; the rest of the
//! helpers are in `app.rs`.

use hub_testkit::{Go as _, Harness, env};
use images::Images;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// images running for one test.
pub type TestApp = hub_testkit::TestApp<Images>;

/// The smallest content each accepted type is recognised by, plus filler.
pub fn png(len: usize) -> Vec<u8> {
    with_magic(b"\x89PNG\r\n\x1a\n", len)
}

/// `magic` followed by a deterministic, non-repeating-looking filler up to `len` bytes.
pub fn with_magic(magic: &[u8], len: usize) -> Vec<u8> {
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

/// images' test instance and its uploads.
pub trait ImagesApp {
    /// Starts the service with the test settings.
    async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }
    /// Starts the service on its own new bucket and database, verifying tokens with a
    /// fresh secret, with test settings overridden by `extra`.
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp;
    /// `POST /upload_image` with `bytes` as the field `file` named `filename`.
    async fn upload(&self, filename: &str, bytes: Vec<u8>) -> reqwest::Response;
    /// `POST /upload_image` of the multipart `form`.
    async fn post_form(&self, form: Form) -> reqwest::Response;
    /// Uploads and returns the URL, asserting the original's success answer.
    async fn upload_ok(&self, filename: &str, bytes: Vec<u8>) -> String;
    /// `GET /list_images` → the URLs.
    async fn list(&self) -> Vec<String>;
}

impl ImagesApp for TestApp {
    async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        Harness::new("images")
            .bucket("AWS_BUCKET_NAME")
            .secret("SECRET_KEY")
            .set("S3_ENDPOINT", &env("S3_ENDPOINT"))
            .set("AWS_ACCESS_KEY_ID", &env("AWS_ACCESS_KEY_ID"))
            .set("AWS_SECRET_ACCESS_KEY", &env("AWS_SECRET_ACCESS_KEY"))
            .set("AWS_REGION", "us-east-1")
            .queue("CONSUMER_QUEUE")
            .spawn(extra)
            .await
    }

    async fn upload(&self, filename: &str, bytes: Vec<u8>) -> reqwest::Response {
        let part = Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str("application/octet-stream")
            .unwrap();
        self.post_form(Form::new().part("file", part)).await
    }

    async fn post_form(&self, form: Form) -> reqwest::Response {
        self.post("/upload_image").multipart(form).go().await
    }

    async fn upload_ok(&self, filename: &str, bytes: Vec<u8>) -> String {
        let resp = self.upload(filename, bytes).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["message"], "Image uploaded successfully");
        body["url"].as_str().unwrap().to_owned()
    }

    async fn list(&self) -> Vec<String> {
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
}

/// An anonymous GET (plain HTTP, no signature), as a browser fetches an avatar.
pub async fn anonymous_get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}
