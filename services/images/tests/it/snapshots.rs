//! Snapshots (insta) of images' JSON replies, in the original's shape: an upload, the
//! list, the upload's errors, and a user's listing without a token.
//! Review or update them with `cargo insta review` (docs/ARCHITECTURE.md, Testing).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{ImagesApp as _, ImagesHelpers as _, TestApp, png};
use hub_testkit::snapshot::Replies;
use reqwest::{
    Method,
    multipart::{Form, Part},
};

#[tokio::test]
async fn images_replies_match_their_snapshots() {
    let app = TestApp::spawn_with(&[("MAX_IMAGE_BYTES", "1000")]).await;
    let upload = |name: &str, bytes: Vec<u8>| {
        let part = Part::bytes(bytes).file_name(name.to_owned());
        app.post("/upload_image")
            .multipart(Form::new().part("file", part))
    };
    let cases = [
        ("upload_200", upload("avatar.png", png(100))),
        ("list_200", app.req(Method::GET, "/list_images")),
        (
            "upload_415_not_an_image",
            upload("evil.png", b"<svg/>".to_vec()),
        ),
        ("upload_413_too_large", upload("big.png", png(2000))),
        ("upload_400_invalid_name", upload("..", png(100))),
        (
            "upload_400_no_file",
            app.post("/upload_image")
                .multipart(Form::new().text("other", "x")),
        ),
        ("not_found_404", app.req(Method::GET, "/nope")),
        (
            "user_images_401_no_token",
            app.req(
                Method::GET,
                "/api/images/6f1c2e9b-1e8a-4012-8456-789abcdef012",
            ),
        ),
    ];
    Replies::new(&app.base)
        .known(&app.bucket, "[bucket]")
        .known(app.endpoint().trim_end_matches('/'), "[s3-endpoint]")
        .check(cases, |name, reply| insta::assert_snapshot!(name, reply))
        .await;
}
