//! The images service against the real S3 test server (moto), each test on its own bucket.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use crate::app::{
    ImagesApp as _, ImagesHelpers as _, TestApp, anonymous_get, gif, jpeg, png, reencoded, webp,
};
use aws_sdk_s3::primitives::ByteStream;
use futures_util::{StreamExt, TryStreamExt, stream};
use hub_identity::jwt::JwtKeys;
use hub_testkit::{Go as _, status_json};
use reqwest::multipart::{Form, Part};
use serde_json::json;

/// The paths the OpenAPI document lists: every route images serves, sorted.
const ROUTES: [&str; 5] = [
    "/api/images/{user_id}",
    "/health",
    "/list_images",
    "/profile-image/health",
    "/upload_image",
];

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn an_uploaded_image_is_publicly_readable_at_its_url_with_its_type_and_listed() {
    let app = TestApp::spawn().await;
    let bytes = png(20_000);
    let url = app.upload_ok("avatar.png", bytes.clone()).await;
    assert_eq!(url, app.url_of("avatar.png"));

    // No signature, no credentials: readable through the bucket policy (no ACL is sent).
    let resp = anonymous_get(&url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    // Its URL keeps its content only until the next upload: caches must revalidate.
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let stored = resp.bytes().await.unwrap();
    assert!(
        stored.as_ref() == reencoded(&bytes).as_slice(),
        "re-encoded"
    );
    assert!(
        stored.len() < 1000,
        "the comment is not kept: {}",
        stored.len()
    );

    assert_eq!(app.list().await, vec![url]);
    let acl = app
        .store()
        .client()
        .get_object_acl()
        .bucket(&app.bucket)
        .key("avatar.png")
        .send()
        .await
        .unwrap();
    assert!(
        acl.grants().iter().all(|g| g
            .grantee()
            .and_then(|g| g.uri())
            .is_none_or(|uri| !uri.contains("AllUsers"))),
        "no public-read ACL: MinIO would ignore it"
    );
}

#[tokio::test]
async fn every_accepted_type_is_stored_with_its_content_type() {
    let app = TestApp::spawn().await;
    for (name, bytes, mime) in [
        ("a.png", png(100), "image/png"),
        ("b.jpg", jpeg(100), "image/jpeg"),
        ("c.gif", gif(100), "image/gif"),
        // The name does not decide the type: the content does, and the key's extension
        // follows it.
        ("d.png", webp(100), "image/webp"),
    ] {
        let url = app.upload_ok(name, bytes).await;
        let resp = anonymous_get(&url).await;
        assert_eq!(resp.headers()["content-type"], mime, "{name}");
    }
    assert_eq!(
        app.sorted_keys().await,
        ["a.png", "b.jpg", "c.gif", "d.webp"]
    );
}

#[tokio::test]
async fn an_image_named_as_a_page_or_a_script_is_stored_under_its_image_extension() {
    let app = TestApp::spawn().await;
    for (name, bytes, key) in [
        ("x.html", png(100), "x.png"),
        ("y.js", gif(100), "y.gif"),
        ("z.svg", jpeg(100), "z.jpg"),
        ("photo.JPEG", jpeg(100), "photo.JPEG"),
        ("noext", webp(100), "noext.webp"),
    ] {
        let url = app.upload_ok(name, bytes).await;
        assert_eq!(url, app.url_of(key), "{name}");
    }
    let big = app.upload_ok("big.html", jpeg(6 * MIB)).await;
    assert_eq!(big, app.url_of("big.jpg"), "large files too");
    assert_eq!(
        app.sorted_keys().await,
        [
            "big.jpg",
            "noext.webp",
            "photo.JPEG",
            "x.png",
            "y.gif",
            "z.jpg"
        ]
    );
}

#[tokio::test]
async fn a_large_file_is_read_whole_and_stored_re_encoded_without_its_comments() {
    let app = TestApp::spawn().await;
    let bytes = jpeg(7 * MIB + 123);
    assert!(bytes.len() > 7 * MIB);
    let url = app.upload_ok("big.jpg", bytes.clone()).await;
    let resp = anonymous_get(&url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    let got = resp.bytes().await.unwrap();
    assert!(got.as_ref() == reencoded(&bytes).as_slice(), "re-encoded");
    assert!(
        got.len() < 10_000,
        "the 7 MiB of comments are gone: {}",
        got.len()
    );
    assert_eq!(app.open_multipart_uploads().await, 0);
}

#[tokio::test]
async fn an_oversize_upload_gets_413_json_and_stores_nothing_even_past_the_first_part() {
    let app = TestApp::spawn().await; // default limit: 10 MiB
    let resp = app.upload("huge.png", png(10 * MIB + 1)).await;
    // (Refused while reading: never decoded.)
    assert_eq!(
        status_json(resp).await,
        (
            413,
            json!({ "error": "Image too large (limit 10485760 bytes)" })
        )
    );
    assert!(app.stored_keys().await.is_empty());

    // Exactly at the limit is accepted.
    app.upload_ok("edge.png", png(10 * MIB)).await;
}

#[tokio::test]
async fn a_body_over_the_transport_limit_gets_413_json_too() {
    let app = TestApp::spawn_with(&[("MAX_IMAGE_BYTES", "100000")]).await;
    let resp = app.upload("a.png", png(150_000)).await;
    assert_eq!(resp.status(), 413);
    let (status, body) = status_json(app.upload("b.png", png(400_000)).await).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "Image too large (limit 100000 bytes)");
    assert!(app.stored_keys().await.is_empty());
}

#[tokio::test]
async fn content_that_is_not_an_accepted_image_gets_415_json_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let unsupported = (
        415,
        json!({ "error": "Unsupported image type: PNG, JPEG, GIF or WebP required" }),
    );
    for (name, bytes) in [
        (
            "evil.png",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("doc.jpg", b"%PDF-1.7\n".repeat(1000)),
        ("empty.png", Vec::new()),
        ("short.png", b"\x89PN".to_vec()),
    ] {
        let resp = app.upload(name, bytes).await;
        assert_eq!(status_json(resp).await, unsupported, "{name}");
    }
    assert!(app.stored_keys().await.is_empty());
}

#[tokio::test]
async fn traversal_and_odd_file_names_are_sanitised_into_flat_keys() {
    let app = TestApp::spawn().await;
    for (name, key) in [
        ("../../etc/passwd", "etc_passwd.png"),
        ("my photo.png", "my_photo.png"),
        ("文件.png", "png.png"),
        ("ñandú.PNG", "nandu.PNG"),
        ("  .hidden  ", "hidden.png"),
    ] {
        let url = app.upload_ok(name, png(64)).await;
        assert_eq!(url, app.url_of(key), "{name}");
    }
    assert_eq!(
        app.sorted_keys().await,
        [
            "etc_passwd.png",
            "hidden.png",
            "my_photo.png",
            "nandu.PNG",
            "png.png"
        ]
    );

    // Nothing left after sanitising: refused (the original answered 500).
    let resp = app.upload("..", png(64)).await;
    assert_eq!(
        status_json(resp).await,
        (400, json!({ "error": "Invalid file name" }))
    );
}

#[tokio::test]
async fn a_missing_file_or_an_empty_file_name_gets_the_originals_400() {
    let app = TestApp::spawn().await;
    let no_file = Form::new().text("other", "x");
    let empty_name = Form::new().part("file", Part::bytes(png(10)).file_name(""));
    let no_name = Form::new().part("file", Part::bytes(png(10)));
    let no_file_provided = (400, json!({ "error": "No file provided" }));
    for form in [no_file, empty_name, no_name] {
        let resp = app.post_form(form).await;
        assert_eq!(status_json(resp).await, no_file_provided);
    }
    // Not multipart at all: the original's request.files was empty, the same answer.
    let resp = app
        .post("/upload_image")
        .json(&json!({ "file": "x" }))
        .go()
        .await;
    assert_eq!(status_json(resp).await, no_file_provided);
    assert!(app.stored_keys().await.is_empty());
}

#[tokio::test]
async fn other_fields_around_the_file_are_ignored() {
    let app = TestApp::spawn().await;
    let form = Form::new()
        .text("user", "ana")
        .part("file", Part::bytes(png(50)).file_name("x.png"))
        .text("after", "ignored");
    let resp = app.post_form(form).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.sorted_keys().await, ["x.png"]);
}

#[tokio::test]
async fn the_owner_replaces_their_image_with_their_token() {
    // Was `uploading_the_same_name_again_replaces_the_object`: anonymous uploads replaced
    // anyone's image. Now only the owner's token replaces (the item 6).
    let app = TestApp::spawn().await;
    let ana = app.user("ana").await;
    let (token, _) = app.login(ana).await;
    let avatar = format!("{ana}.png");
    // The legacy registration page: uploaded before the user has a token.
    let first = app.upload_ok(&avatar, png(1000)).await;
    let second_bytes = png(2000);
    let resp = app.upload_as(&avatar, second_bytes.clone(), &token).await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let second = body["url"].as_str().unwrap().to_owned();
    assert_eq!(first, second);
    let resp = anonymous_get(&second).await;
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        reencoded(&second_bytes).as_slice()
    );
    assert_eq!(app.list().await, vec![second.clone()]);
    // Another type under the same name is another key: its extension says its type.
    let third = status_json(app.upload_as(&avatar, jpeg(500), &token).await).await;
    assert_eq!(third.0, 200);
    assert_eq!(third.1["url"], json!(app.url_of(&format!("{ana}.jpg"))));
    assert_eq!(app.list().await.len(), 2);
    // A large file replaces too.
    let big = png(6 * MIB);
    assert_eq!(
        app.upload_as(&avatar, big.clone(), &token).await.status(),
        200
    );
    assert!(
        app.stored(&avatar).await.unwrap() == reencoded(&big),
        "replaced"
    );
}

/// The answer to an upload without its owner's token to a name that exists.
fn image_exists() -> (u16, serde_json::Value) {
    (
        409,
        json!({ "error": "An image with this name already exists; replacing it needs its owner's token" }),
    )
}

#[tokio::test]
async fn without_a_token_an_upload_creates_a_new_name_but_never_replaces_one() {
    let app = TestApp::spawn().await;
    let avatar = format!("{}.png", uuid::Uuid::new_v4());
    let original = png(1000);
    app.upload_ok(&avatar, original.clone()).await;
    for bytes in [png(2000), png(6 * MIB)] {
        let resp = app.upload(&avatar, bytes).await;
        assert_eq!(status_json(resp).await, image_exists());
        assert!(
            app.stored(&avatar).await.unwrap() == reencoded(&original),
            "unchanged"
        );
    }
    // Names that are nobody's id are create-only as well; a new name is still created.
    app.upload_ok("avatar.png", png(10)).await;
    let resp = app.upload("avatar.png", png(20)).await;
    assert_eq!(status_json(resp).await, image_exists());
    let mut keys = vec![avatar.clone(), "avatar.png".to_owned()];
    keys.sort();
    assert_eq!(app.sorted_keys().await, keys, "nothing else stored");
    // Each accepted upload: its own key, its version, 3 variants in 2 formats; nothing
    // of the refused ones (the access rule's write comes first).
    assert_eq!(app.stored_keys().await.len(), 2 * (1 + 1 + 3 * 2));
}

#[tokio::test]
async fn another_users_token_cannot_replace_and_a_token_that_does_not_count_says_why() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.user("ana").await, app.user("bob").await);
    let (bob_token, _) = app.login(bob).await;
    let avatar = format!("{ana}.png");
    let original = png(1000);
    app.upload_ok(&avatar, original.clone()).await;

    let not_own = (
        403,
        json!({ "error": "You may only upload your own image: name the file <your user id>.<extension>" }),
    );
    let resp = app.upload_as(&avatar, png(2000), &bob_token).await;
    assert_eq!(status_json(resp).await, not_own);
    // A token that does not verify (here: another secret, expired) only makes the
    // upload anonymous; replacing needed it, so it is what the answer names.
    let keys = JwtKeys::new(&app.secret.clone().into(), Duration::from_secs(60));
    let mut expired = keys.claims_for(ana, "ana");
    expired.exp = chrono_free_past();
    let expired = keys.sign(&expired).unwrap();
    let other_keys = JwtKeys::new(
        &"another-secret-0123456789abcdefghij".to_owned().into(),
        Duration::from_secs(60),
    );
    let forged = other_keys.sign(&other_keys.claims_for(ana, "ana")).unwrap();
    for (token, error) in [(&expired, "Token expired"), (&forged, "Invalid token")] {
        let resp = app.upload_as(&avatar, png(2000), token).await;
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(status_json(resp).await, (401, json!({ "error": error })));
    }
    assert!(
        app.stored(&avatar).await.unwrap() == reencoded(&original),
        "unchanged"
    );
    // A new name is created whatever the token.
    for (i, token) in [&bob_token, &expired, &forged].into_iter().enumerate() {
        let resp = app.upload_as(&format!("new{i}.png"), png(10), token).await;
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn simultaneous_anonymous_uploads_of_one_new_name_on_two_instances_store_exactly_one() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    let avatar = format!("{}.png", uuid::Uuid::new_v4());
    let n = 24;
    // Each upload its own bytes, so the stored object tells which one won.
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| png(3000 + i)).collect();
    let answers = futures_util::future::join_all(bodies.iter().enumerate().map(|(i, bytes)| {
        let service = if i % 2 == 0 { &app } else { &other };
        let avatar = avatar.clone();
        async move { status_json(service.upload_with(&avatar, bytes.clone(), None).await).await }
    }))
    .await;
    let winners: Vec<usize> = (0..n).filter(|&i| answers[i].0 == 200).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (i, answer) in answers.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(*answer, image_exists(), "upload {i}");
        }
    }
    assert!(
        app.stored(&avatar).await.unwrap() == reencoded(&bodies[winners[0]]),
        "the winner's bytes"
    );
    assert_eq!(app.sorted_keys().await, [avatar]);
}

#[tokio::test]
async fn a_logged_out_token_is_refused_at_once_on_every_instance_and_other_logins_still_work() {
    let app = TestApp::spawn_with(&[("UPLOAD_REQUIRE_JWT", "true")]).await;
    let other = app.beside(&[("UPLOAD_REQUIRE_JWT", "true")]).await;
    let ana = app.user("ana").await;
    let avatar = format!("{ana}.png");
    let (token, sid) = app.login(ana).await;
    let (kept, _) = app.login(ana).await;
    for service in [&app, &other] {
        let resp = service.upload_with(&avatar, png(100), Some(&token)).await;
        assert_eq!(resp.status(), 200);
    }

    hub_testkit::log_out(&app.db_url, sid).await;
    let invalid = (401, json!({ "error": "Invalid token" }));
    for service in [&app, &other] {
        let resp = service.upload_with(&avatar, png(200), Some(&token)).await;
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(status_json(resp).await, invalid);
        // The same user's other login is untouched.
        let resp = service.upload_with(&avatar, png(300), Some(&kept)).await;
        assert_eq!(resp.status(), 200);
    }
    assert!(app.stored(&avatar).await.unwrap() == reencoded(&png(300)));

    // A token whose user is gone is refused the same way.
    let ghost = uuid::Uuid::new_v4();
    let resp = app
        .upload_as(&format!("{ghost}.png"), png(10), &app.token_of(ghost, None))
        .await;
    assert_eq!(status_json(resp).await, invalid);
}

#[tokio::test]
async fn a_deactivated_users_tokens_are_refused_on_every_instance_until_reactivated() {
    let app = TestApp::spawn_with(&[("UPLOAD_REQUIRE_JWT", "true")]).await;
    let other = app.beside(&[("UPLOAD_REQUIRE_JWT", "true")]).await;
    let ana = app.user("ana").await;
    let avatar = format!("{ana}.png");
    let (token, _) = app.login(ana).await;
    let legacy_token = app.token_of(ana, None);
    hub_testkit::set_deactivated(&app.db_url, ana, true).await;
    for service in [&app, &other] {
        for t in [&token, &legacy_token] {
            let resp = service.upload_with(&avatar, png(100), Some(t)).await;
            assert_eq!(
                status_json(resp).await,
                (401, json!({ "error": "Invalid token" }))
            );
        }
    }
    assert!(app.stored(&avatar).await.is_none(), "nothing stored");
    hub_testkit::set_deactivated(&app.db_url, ana, false).await;
    for service in [&app, &other] {
        let resp = service.upload_with(&avatar, png(200), Some(&token)).await;
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn a_password_change_revokes_every_token_of_the_user_at_once() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.user("ana").await, app.user("bob").await);
    let avatar = format!("{ana}.png");
    let (login_token, _) = app.login(ana).await;
    // A token as the original auth minted them: no login, revoked only by its `iat`.
    let legacy_token = app.token_of(ana, None);
    let (bob_token, _) = app.login(bob).await;
    app.upload_ok(&avatar, png(100)).await;
    for token in [&login_token, &legacy_token] {
        assert_eq!(app.upload_as(&avatar, png(150), token).await.status(), 200);
    }

    hub_testkit::change_password(&app.db_url, ana).await;
    // Replacing needs the owner's token: a revoked one is answered as invalid.
    for token in [&login_token, &legacy_token] {
        let resp = app.upload_as(&avatar, png(200), token).await;
        assert_eq!(
            status_json(resp).await,
            (401, json!({ "error": "Invalid token" }))
        );
    }
    assert!(
        app.stored(&avatar).await.unwrap() == reencoded(&png(150)),
        "unchanged"
    );
    // Another user's token, and a login after the change, still work.
    let resp = app
        .upload_as(&format!("{bob}.png"), png(10), &bob_token)
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .upload_as(&format!("{bob}.png"), png(20), &bob_token)
        .await;
    assert_eq!(resp.status(), 200, "bob replaces his own");
    let (new_token, _) = app.login(ana).await;
    assert_eq!(
        app.upload_as(&avatar, png(300), &new_token).await.status(),
        200
    );
    assert!(app.stored(&avatar).await.unwrap() == reencoded(&png(300)));
}

#[tokio::test]
async fn with_postgresql_unreachable_a_token_gets_a_fast_503_and_anonymous_creates_go_on() {
    let app = TestApp::spawn().await;
    let (db, through_relay) = hub_testkit::TcpRelay::for_url(&app.db_url).await;
    let app_on_relay = app.beside(&[("DATABASE_URL", &through_relay)]).await;
    let ana = app.user("ana").await;
    let (token, _) = app.login(ana).await;
    let avatar = format!("{ana}.png");
    let resp = app_on_relay
        .upload_with(&avatar, png(100), Some(&token))
        .await;
    assert_eq!(resp.status(), 200);

    db.cut().await;
    let started = Instant::now();
    let resp = app_on_relay
        .upload_with(&avatar, png(200), Some(&token))
        .await;
    assert_eq!(
        status_json(resp).await,
        (503, json!({ "error": "Storage temporarily unavailable" }))
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        app.stored(&avatar).await.unwrap() == reencoded(&png(100)),
        "unchanged"
    );
    let resp = app_on_relay.get("/profile-image/health").await;
    assert_eq!(
        status_json(resp).await,
        (
            500,
            json!({ "error": "PostgreSQL unavailable", "status": "unhealthy" })
        )
    );
    // No token, no database read: the registration page's upload still works.
    let resp = app_on_relay.upload_with("new.png", png(10), None).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn the_listing_follows_continuation_tokens_past_1000_keys() {
    let app = TestApp::spawn().await;
    let client = app.store().client().clone();
    let keys: Vec<String> = (0..1003).map(|i| format!("k{i:05}.png")).collect();
    stream::iter(keys.clone())
        .map(|key| {
            let client = client.clone();
            let bucket = app.bucket.clone();
            async move {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let urls = app.list().await;
    let expected: Vec<String> = keys.iter().map(|k| app.url_of(k)).collect();
    assert_eq!(urls, expected, "all 1003, in key order");
}

#[tokio::test]
async fn listed_urls_of_keys_made_by_other_tools_are_percent_encoded() {
    let app = TestApp::spawn().await;
    app.store()
        .client()
        .put_object()
        .bucket(&app.bucket)
        .key("dir/my pic#1.png")
        .body(ByteStream::from(png(10)))
        .send()
        .await
        .unwrap();
    let urls = app.list().await;
    assert_eq!(urls, vec![app.url_of("dir/my%20pic%231.png")]);
    assert_eq!(anonymous_get(&urls[0]).await.status(), 200);
}

#[tokio::test]
async fn a_bucket_deleted_behind_the_services_back_is_recreated_with_its_policy() {
    let app = TestApp::spawn().await;
    app.delete_bucket().await;
    // The listing heals it (NoSuchBucket → create, policy, retry)...
    assert!(app.list().await.is_empty());
    app.delete_bucket().await;
    // ...and so do an upload and the health check.
    let url = app.upload_ok("back.png", png(100)).await;
    assert_eq!(anonymous_get(&url).await.status(), 200, "policy set again");
    let resp = app.get("/profile-image/health").await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn health_answers_on_both_paths_and_unknown_paths_get_json_404() {
    let app = TestApp::spawn().await;
    for path in ["/profile-image/health", "/health"] {
        assert_eq!(
            status_json(app.get(path).await).await,
            (200, json!({ "status": "healthy" }))
        );
    }
    assert_eq!(
        status_json(app.get("/nope").await).await,
        (404, json!({ "error": "Not found" }))
    );
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    let app = TestApp::spawn().await;
    let doc = hub_testkit::assert_openapi_lists(&app.base, "error", &ROUTES).await;
    let upload = &doc["paths"]["/upload_image"]["post"];
    for status in [
        "200", "400", "401", "403", "409", "413", "415", "500", "503",
    ] {
        assert!(upload["responses"][status].is_object(), "{status}");
    }
    let form = &upload["requestBody"]["content"]["multipart/form-data"]["schema"];
    assert_eq!(form["properties"]["file"]["format"], "binary", "{form}");
    // The token is optional: an empty requirement beside the bearer one.
    assert_eq!(upload["security"], json!([{}, { "bearer": [] }]));
    let list = &doc["paths"]["/list_images"]["get"];
    for status in ["200", "500", "503"] {
        assert!(list["responses"][status].is_object(), "{status}");
    }
    let user = &doc["paths"]["/api/images/{user_id}"]["get"];
    for status in ["200", "401", "403", "500", "503"] {
        assert!(user["responses"][status].is_object(), "{status}");
    }
    assert_eq!(user["security"], json!([{ "bearer": [] }]));
    let uploaded = &doc["components"]["schemas"]["Uploaded"]["properties"];
    for key in ["message", "url"] {
        assert!(uploaded[key].is_object(), "{key}: {uploaded}");
    }
}

#[tokio::test]
async fn with_jwt_required_uploads_need_a_valid_bearer_token_and_write_only_their_own_key() {
    let secret = "images-test-secret-0123456789abcdef";
    let app = TestApp::spawn_with(&[("UPLOAD_REQUIRE_JWT", "true"), ("SECRET_KEY", secret)]).await;
    let keys = JwtKeys::new(&secret.to_owned().into(), Duration::from_secs(60));
    let upload = |name: &str, auth: Option<String>| {
        let part = Part::bytes(png(100)).file_name(name.to_owned());
        let mut req = app
            .post("/upload_image")
            .multipart(Form::new().part("file", part));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req.go()
    };

    let resp = upload("me.png", None).await;
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        status_json(resp).await,
        (401, json!({ "error": "Token is missing" }))
    );
    let resp = upload("me.png", Some("Bearer not.a.jwt".into())).await;
    assert_eq!(
        status_json(resp).await,
        (401, json!({ "error": "Invalid token" }))
    );
    let ana = app.user("ana").await;
    let mut expired = keys.claims_for(ana, "ana");
    expired.exp = chrono_free_past();
    let resp = upload(
        &format!("{ana}.png"),
        Some(format!("Bearer {}", keys.sign(&expired).unwrap())),
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert!(app.stored_keys().await.is_empty());

    let bearer = format!(
        "Bearer {}",
        keys.sign(&keys.claims_for(ana, "ana")).unwrap()
    );
    // Any other key, another user's avatar included, is refused before anything is stored.
    let not_own = (
        403,
        json!({ "error": "You may only upload your own image: name the file <your user id>.<extension>" }),
    );
    let bob = app.user("bob").await;
    for name in [
        "me.png".to_owned(),
        format!("{bob}.png"),
        format!("{ana}x.png"),
        format!("x{ana}.png"),
        format!("{ana}.old.png"),
    ] {
        let resp = upload(&name, Some(bearer.clone())).await;
        assert_eq!(status_json(resp).await, not_own, "{name}");
    }
    assert!(app.stored_keys().await.is_empty());

    // Its own key, in any case and with any extension: stored as <id>.<type's extension>.
    for name in [
        format!("{ana}.png"),
        format!("{}.html", ana.to_string().to_uppercase()),
        ana.to_string(),
    ] {
        let (status, body) = status_json(upload(&name, Some(bearer.clone())).await).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(body["url"], json!(app.url_of(&format!("{ana}.png"))));
    }
    // Reading stays public.
    assert_eq!(app.list().await, vec![app.url_of(&format!("{ana}.png"))]);
}

/// An `exp` an hour ago.
fn chrono_free_past() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(now).unwrap() - 3600
}

#[tokio::test]
async fn the_service_stops_cleanly_on_shutdown() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    app.stop().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_users_objects_are_listed_to_that_user_only_from_its_own_prefix() {
    let app = TestApp::spawn().await;
    let (ana, bob) = (app.user("ana").await, app.user("bob").await);
    let ((ana_token, _), (bob_token, _)) = (app.login(ana).await, app.login(bob).await);
    for (user, token) in [(ana, &ana_token), (bob, &bob_token)] {
        let resp = app.upload_as(&format!("{user}.png"), png(300), token).await;
        assert_eq!(resp.status(), 200);
    }
    app.upload_ok("someone.png", png(200)).await;
    // A key that starts with the id but is not the user's (neither `<id>.` nor `<id>/`).
    app.store()
        .put(
            &format!("{ana}x.png"),
            "image/png",
            png(100).into(),
            images::access::Write::Replace,
        )
        .await
        .unwrap();
    let list = |user: uuid::Uuid, token: Option<&str>| {
        let mut req = app.req(reqwest::Method::GET, &format!("/api/images/{user}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { status_json(req.go().await).await }
    };

    let (status, body) = list(ana, Some(&ana_token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], ana.to_string());
    let keys: Vec<&str> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    let mut stored: Vec<String> = app
        .stored_keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with(&format!("{ana}.")) || k.starts_with(&format!("{ana}/")))
        .collect();
    stored.sort();
    assert_eq!(keys, stored, "exactly the user's objects, in key order");
    assert!(keys.contains(&format!("{ana}.png").as_str()), "{keys:?}");
    for o in body["objects"].as_array().unwrap() {
        let key = o["key"].as_str().unwrap();
        assert_eq!(
            o["size"].as_u64().unwrap(),
            app.stored(key).await.unwrap().len() as u64,
            "{o}"
        );
        assert!(o["last_modified"].as_str().unwrap().ends_with('Z'), "{o}");
        assert_eq!(o["url"], app.url_of(key), "{o}");
    }
    let image = &body["images"][0];
    assert_eq!(body["images"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(image["url"], app.url_of(&format!("{ana}.png")));
    assert_eq!(image["variants"].as_array().unwrap().len(), 3, "{image}");
    assert!(image["version_url"].is_string(), "{image}");

    // Another user's token: 403; no token, or one that does not count: 401.
    assert_eq!(
        list(ana, Some(&bob_token)).await,
        (403, json!({ "error": "You may only list your own images" }))
    );
    assert_eq!(
        list(ana, None).await,
        (401, json!({ "error": "Token is missing" }))
    );
    let forged = JwtKeys::new(
        &"another-secret-0123456789abcdef0123".to_owned().into(),
        Duration::from_secs(60),
    );
    let forged = forged
        .sign_session(&forged.claims_for(ana, "ana"), None)
        .unwrap();
    assert_eq!(
        list(ana, Some(&forged)).await,
        (401, json!({ "error": "Invalid token" }))
    );
    let resp = app
        .req(reqwest::Method::GET, &format!("/api/images/{ana}"))
        .go()
        .await;
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    // A path that is no user id is nobody's own.
    let resp = app
        .req(reqwest::Method::GET, "/api/images/someone")
        .bearer_auth(&ana_token)
        .go()
        .await;
    assert_eq!(resp.status(), 403);

    // bob sees his own, none of ana's.
    let (status, body) = list(bob, Some(&bob_token)).await;
    assert_eq!(status, 200, "{body}");
    for o in body["objects"].as_array().unwrap() {
        assert!(
            o["key"].as_str().unwrap().starts_with(&bob.to_string()),
            "{o}"
        );
    }
}
