//! An upload as services/images reads it: the multipart body (axum's `Multipart`, the
//! extractor the route uses), the `file` field's name through `keys::secure_filename`,
//! its bytes through `magic::sniff` as they arrive, chunk by chunk, and the key's
//! extension from the detected type. The first byte sets the chunk size (1 to 256), so
//! a file's first bytes may arrive split as over a network.
#![no_main]

use std::{convert::Infallible, sync::LazyLock};

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest as _, Multipart},
    http::Request,
};
// The service's own files, compiled in here (not through the images crate, which would
// build the AWS SDK for two pure files).
#[path = "../../services/images/src/keys.rs"]
#[allow(dead_code)]
mod keys;
#[path = "../../services/images/src/magic.rs"]
mod magic;

use magic::Sniff;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&chunk, body)) = data.split_first() else {
        return;
    };
    let chunks: Vec<Result<Bytes, Infallible>> = body
        .chunks(usize::from(chunk) + 1)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let request = Request::builder()
        .method("POST")
        .header("content-type", "multipart/form-data; boundary=X")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .expect("request");
    RUNTIME.block_on(upload(request));
});

async fn upload(request: Request<Body>) {
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
        return;
    };
    while let Ok(Some(mut field)) = multipart.next_field().await {
        if field.name() != Some("file") {
            continue;
        }
        let name = keys::secure_filename(field.file_name().unwrap_or_default());
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')),
            "{name:?}"
        );
        assert!(
            !name.starts_with(['.', '_']) && !name.ends_with(['.', '_']),
            "{name:?}"
        );
        let mut head = Vec::new();
        let mut mime = None;
        while let Ok(Some(bytes)) = field.chunk().await {
            if mime.is_some() {
                continue;
            }
            head.extend_from_slice(&bytes);
            match magic::sniff(&head, false) {
                Sniff::Image(m) => mime = Some(m),
                Sniff::NeedMore => {}
                Sniff::Refused => break,
            }
        }
        let mime = mime.or(match magic::sniff(&head, true) {
            Sniff::Image(m) => Some(m),
            Sniff::NeedMore | Sniff::Refused => None,
        });
        if let Some(mime) = mime {
            let key = keys::with_type_extension(&name, mime);
            assert!(
                key.len() <= name.len() + keys::MAX_ADDED_EXTENSION,
                "{key:?}"
            );
        }
        return;
    }
}
