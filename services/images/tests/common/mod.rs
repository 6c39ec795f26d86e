//! Test harness: each test gets its own bucket, its own database and its own server on
//! port 0, against the real S3 test server and PostgreSQL started by scripts/backing.sh.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use hub_identity::jwt::JwtKeys;
use hub_runtime::service::{Service as _, Settings};

use hub_testkit::{Go as _, Spawned};
use images::{Images, store::Store};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use uuid::Uuid;

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
    pub service: Spawned,
    pub bucket: String,
    pub endpoint: String,
    /// The same S3, through the service's own client settings (tests create and
    /// inspect objects directly).
    pub store: Store,
    /// The test's own database (users, logins, revocations).
    pub db_url: String,
    /// The HS256 secret the service verifies tokens with (`SECRET_KEY`).
    pub secret: String,
}

hub_testkit::test_app!(TestApp);

impl TestApp {
    /// Starts the service on its own new bucket and database, with test settings
    /// overridden by `extra`.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let bucket = hub_testkit::bucket_name("images");
        let db_url = hub_testkit::create_database("images").await;
        let secret = format!("images-test-secret-{}", Uuid::new_v4().simple());
        let endpoint = hub_testkit::env("S3_ENDPOINT");
        let settings = settings(&bucket, &db_url, &secret, extra);
        let store = Store::new(&settings.service.s3);
        let service = hub_testkit::spawn_config::<Images>(settings).await;
        Self {
            service,
            bucket,
            endpoint,
            store,
            db_url,
            secret,
        }
    }

    /// Another instance on the same bucket and database, as a second replica.
    pub async fn spawn_beside(&self, extra: &[(&str, &str)]) -> Spawned {
        let settings = settings(&self.bucket, &self.db_url, &self.secret, extra);
        hub_testkit::spawn_config::<Images>(settings).await
    }

    /// A user in the test's database; its id.
    pub async fn user(&self, name: &str) -> Uuid {
        hub_testkit::seed_user(&self.db_url, name).await
    }

    /// A token for `user` issued now by auth (HS256, the service's secret), of a login
    /// opened now (its `sid`), as auth's `/login` answers.
    pub async fn login(&self, user: Uuid) -> (String, Uuid) {
        let sid = hub_testkit::open_login(&self.db_url, user).await;
        (self.token_of(user, Some(sid)), sid)
    }

    /// A token for `user` issued now (`iat`), in a login `sid` (none: minted as the
    /// original auth did, revoked only by a password change or an operator).
    pub fn token_of(&self, user: Uuid, sid: Option<Uuid>) -> String {
        let keys = JwtKeys::new(&self.secret.clone().into(), Duration::from_secs(600));
        keys.sign_session(&keys.claims_for(user, "ana"), sid)
            .unwrap()
    }

    /// `POST /upload_image` of `bytes` named `filename`, with `Authorization: Bearer
    /// <token>` when given, on `service` (this instance or another).
    pub async fn upload_on(
        service: &Spawned,
        filename: &str,
        bytes: Vec<u8>,
        token: Option<&str>,
    ) -> reqwest::Response {
        let part = Part::bytes(bytes).file_name(filename.to_owned());
        let mut request = service
            .post("/upload_image")
            .multipart(Form::new().part("file", part));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.go().await
    }

    /// [`TestApp::upload_on`] this instance.
    pub async fn upload_as(
        &self,
        filename: &str,
        bytes: Vec<u8>,
        token: &str,
    ) -> reqwest::Response {
        Self::upload_on(&self.service, filename, bytes, Some(token)).await
    }

    /// The bytes stored under `key`, read from S3 directly (`None`: no such object).
    pub async fn stored(&self, key: &str) -> Option<Vec<u8>> {
        match self
            .store
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

/// The service's settings on `bucket` and `db_url`, verifying tokens with `secret`, then
/// `extra`.
fn settings(
    bucket: &str,
    db_url: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> Settings<images::Config> {
    let source = hub_testkit::local_source(
        &[
            ("S3_ENDPOINT", &hub_testkit::env("S3_ENDPOINT")),
            ("AWS_ACCESS_KEY_ID", &hub_testkit::env("AWS_ACCESS_KEY_ID")),
            (
                "AWS_SECRET_ACCESS_KEY",
                &hub_testkit::env("AWS_SECRET_ACCESS_KEY"),
            ),
            ("AWS_REGION", "us-east-1"),
            ("AWS_BUCKET_NAME", bucket),
            ("DATABASE_URL", db_url),
            ("SECRET_KEY", secret),
        ],
        extra,
    );
    Settings::from_source(&source, Images::PORT).expect("valid test config")
}

/// An anonymous GET (plain HTTP, no signature), as a browser fetches an avatar.
pub async fn anonymous_get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}
