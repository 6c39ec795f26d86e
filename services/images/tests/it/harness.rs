//! images on the testkit's harness: each test gets its own bucket, its own database and
//! its own server on port 0, against the real S3 test server and PostgreSQL started by
//! scripts/backing.sh. What both the `it` and the `faults` binaries use; the rest of the
//! helpers are in `app.rs`.

use hub_testkit::{Go as _, Harness, env};
use image::ImageFormat;
use images::Images;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// images running for one test.
pub type TestApp = hub_testkit::TestApp<Images>;

/// A real PNG of exactly `len` bytes (or its smallest form, when `len` is smaller): 8 ×
/// 8 pixels drawn from `len`, so each length is another picture, padded with a `tEXt`
/// comment (metadata the service must not keep).
pub fn png(len: usize) -> Vec<u8> {
    let mut out = real_image(ImageFormat::Png, len);
    // tEXt: length, type, "Comment\0", text, CRC; before IEND (the last 12 bytes).
    let Some(text) = len.checked_sub(out.len() + 12 + 8) else {
        return out;
    };
    let mut chunk = Vec::with_capacity(text + 20);
    chunk.extend_from_slice(&u32::try_from(text + 8).unwrap().to_be_bytes());
    chunk.extend_from_slice(b"tEXtComment\0");
    chunk.extend(filler(text));
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let iend = out.len() - 12;
    out.splice(iend..iend, chunk);
    assert_eq!(out.len(), len);
    out
}

/// 8 × 8 pixels drawn from `seed`, encoded as `format` by image-rs.
pub fn real_image(format: ImageFormat, seed: usize) -> Vec<u8> {
    let mut x = u32::try_from(seed % (1 << 31)).unwrap() * 2 + 1;
    let img = image::RgbImage::from_fn(8, 8, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let [r, g, b, _] = x.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// What the service stores for an upload of `bytes`: they decoded and written out
/// anew by the service's own code (deterministic), so tests can tell which upload won.
pub fn reencoded(bytes: &[u8]) -> Vec<u8> {
    let images::magic::Sniff::Image(mime) = images::magic::sniff(bytes, true) else {
        panic!("not an image");
    };
    let limits = images::process::PixelLimits {
        max_pixels: images::config::DEFAULT_MAX_PIXELS,
        max_side: 16_384,
    };
    images::process::process(bytes, mime, limits, &[])
        .unwrap()
        .full
}

/// PNG's CRC-32 (ISO-HDLC) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `len` printable ASCII bytes that do not repeat at short range.
pub fn filler(len: usize) -> impl Iterator<Item = u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len).map(move |_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b'a' + (x % 26) as u8
    })
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
