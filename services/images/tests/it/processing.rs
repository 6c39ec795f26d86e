//! Issue 26: what is stored is decoded and written out anew (no metadata, orientation
//! applied), bombs are refused before decoding, variants and content-addressed versions
//! (long-lived cache headers), the legacy key serving the newest, and the prune of
//! replaced versions, on two instances.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    io::Cursor,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use crate::app::{ImagesApp as _, ImagesHelpers as _, TestApp, anonymous_get, png};
use crate::harness::{crc32, real_image};
use hub_testkit::status_json;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};

/// The default limits' answer to an image declaring too many pixels.
fn too_many_pixels() -> (u16, Value) {
    (
        413,
        json!({ "error": "Image dimensions too large (limit 16777216 pixels, 16384 per side)" }),
    )
}

/// A zlib stream that inflates to `n` zero bytes: one literal, then back-references of
/// 258 bytes (13 bits each, fixed Huffman codes), so the ratio is about 160:1.
fn zeros_zlib(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, bits: u32) {
            self.acc |= value << self.len;
            self.len += bits;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// A Huffman code: most significant bit first.
        fn code(&mut self, code: u64, bits: u32) {
            let reversed = (0..bits).fold(0, |r, i| r | (((code >> i) & 1) << (bits - 1 - i)));
            self.put(reversed, bits);
        }
    }
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // fixed Huffman
    let literal_zero = |b: &mut Bits| b.code(0x30, 8);
    literal_zero(&mut bits);
    let matches = (n - 1) / 258;
    for _ in 0..matches {
        bits.code(0b1100_0101, 8); // length 258
        bits.code(0, 5); // distance 1
    }
    for _ in 0..(n - 1 - matches * 258) {
        literal_zero(&mut bits);
    }
    bits.code(0, 7); // end of block
    if bits.len > 0 {
        bits.put(0, 8 - bits.len);
    }
    let adler = (u32::try_from(n % 65_521).unwrap() << 16) | 1;
    bits.out.extend_from_slice(&adler.to_be_bytes());
    bits.out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// An RGBA PNG declaring `w` × `h` whose pixel data inflates to `inflated` zero bytes.
fn png_bomb(w: u32, h: u32, inflated: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zeros_zlib(inflated));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

#[tokio::test]
async fn a_crafted_bomb_is_refused_before_decoding_with_a_clear_error_and_nothing_stored() {
    let app = TestApp::spawn().await;
    // The issue's: a few hundred bytes declaring 60 000 × 60 000 (14.4 GB as RGBA).
    let small = png_bomb(60_000, 60_000, 40_000);
    assert!(small.len() < 400, "{}", small.len());
    // Within the side limit but over the pixel limit, and its data really inflates to
    // the 67 MB it declares.
    let full = png_bomb(4097, 4096, 4096 * (1 + 4097 * 4));
    // A GIF whose screen is 1 × 1 and whose one frame declares 60 000 × 60 000.
    let mut gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
    gif.extend_from_slice(b"\x2c\x00\x00\x00\x00\x60\xea\x60\xea\x00\x02\x02\x44\x01\x00\x3b");
    for (name, bytes) in [("a.png", small), ("b.png", full), ("c.gif", gif)] {
        let resp = app.upload(name, bytes).await;
        assert_eq!(status_json(resp).await, too_many_pixels(), "{name}");
    }
    // Looks like a PNG, is not one: refused as such.
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend_from_slice(&[b'x'; 500]);
    assert_eq!(
        status_json(app.upload("d.png", fake).await).await,
        (
            400,
            json!({ "error": "Invalid image: the file could not be decoded" })
        )
    );
    assert!(app.stored_keys().await.is_empty());
}

/// This process's resident set size, in KiB (the services run in the test's process).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The bound: a hundred bombs declaring 14.4 GB each add less than this to the process
/// (two instances, their clients and the hundred requests included).
const BOMBS_RSS_BOUND_MIB: u64 = 64;

#[tokio::test]
async fn a_hundred_bombs_at_once_on_two_instances_keep_the_process_within_its_bound() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    // Warm both (first-use allocations are not the bombs').
    app.upload_ok("warm.png", png(2000)).await;
    other.upload_ok("warm2.png", png(3000)).await;
    let before = rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let bomb = png_bomb(60_000, 60_000, 40_000);
    let answers = futures_util::future::join_all((0..100).map(|i| {
        let (service, bomb) = (if i % 2 == 0 { &app } else { &other }, bomb.clone());
        async move { status_json(service.upload(&format!("bomb{i}.png"), bomb).await).await }
    }))
    .await;
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    for answer in answers {
        assert_eq!(answer, too_many_pixels());
    }
    let grown = peak.load(Ordering::Relaxed).saturating_sub(before) / 1024;
    eprintln!("RSS before {} MiB, grew by {grown} MiB", before / 1024);
    assert!(
        grown < BOMBS_RSS_BOUND_MIB,
        "RSS grew by {grown} MiB (bound {BOMBS_RSS_BOUND_MIB} MiB)"
    );
    assert_eq!(app.sorted_keys().await, ["warm.png", "warm2.png"]);
}

/// 40 × 20 pixels: red on the left half, blue on the right.
fn landscape(format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(40, 20, |x, _| {
        if x < 20 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// exiftool's JSON about `bytes` (every group, duplicates included).
fn exiftool(bytes: &[u8], ext: &str) -> Value {
    let dir = std::env::temp_dir().join(format!("images-exif-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("x.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("exiftool")
        .args(["-j", "-a", "-G1", "-n"])
        .arg(&path)
        .output()
        .expect("exiftool (Debian libimage-exiftool-perl; scripts/backing.sh install)");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()[0].clone()
}

/// `bytes` with GPS, orientation 6 (rotate 90° clockwise to display), XMP and a comment,
/// written by exiftool.
fn with_private_metadata(bytes: &[u8], ext: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("images-exif-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("x.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("exiftool")
        .args([
            "-overwrite_original",
            "-EXIF:GPSLatitude=48.8584",
            "-EXIF:GPSLatitudeRef=N",
            "-EXIF:GPSLongitude=2.2945",
            "-EXIF:GPSLongitudeRef=E",
            "-EXIF:Orientation#=6",
            "-EXIF:Make=SecretPhone",
            "-XMP-dc:Description=home address",
            "-Comment=private comment",
        ])
        .arg(&path)
        .output()
        .expect("exiftool (Debian libimage-exiftool-perl; scripts/backing.sh install)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tagged = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    tagged
}

#[tokio::test]
async fn no_metadata_survives_and_the_exif_orientation_is_applied_as_exiftool_sees_it() {
    let app = TestApp::spawn().await;
    for (format, ext) in [(ImageFormat::Jpeg, "jpg"), (ImageFormat::Png, "png")] {
        let sent = with_private_metadata(&landscape(format), ext);
        // The test's own premise, by the same reader.
        let tags = exiftool(&sent, ext);
        assert_eq!(tags["IFD0:Orientation"], 6, "{tags}");
        assert!(tags.get("GPS:GPSLatitude").is_some(), "{tags}");
        assert!(tags.get("XMP-dc:Description").is_some(), "{tags}");

        let url = app.upload_ok(&format!("photo.{ext}"), sent).await;
        let stored = anonymous_get(&url).await.bytes().await.unwrap().to_vec();
        let tags = exiftool(&stored, ext);
        let groups: Vec<&String> = tags.as_object().unwrap().keys().collect();
        for key in &groups {
            let group = key.split(':').next().unwrap();
            assert!(
                ![
                    "IFD0",
                    "ExifIFD",
                    "GPS",
                    "XMP-dc",
                    "XMP-x",
                    "IFD1",
                    "File:Comment"
                ]
                .contains(&group)
                    && !key.contains("Comment")
                    && !key.starts_with("XMP"),
                "{ext}: {key} survived: {tags}"
            );
        }
        let text = tags.to_string();
        for secret in ["SecretPhone", "home address", "private comment", "48.85"] {
            assert!(!text.contains(secret), "{ext}: {secret} survived: {text}");
        }
        // Rotated: 20 wide, 40 high, the red (left) half now on top.
        let (w, h) = match ext {
            "jpg" => ("File:ImageWidth", "File:ImageHeight"),
            _ => ("PNG:ImageWidth", "PNG:ImageHeight"),
        };
        assert_eq!((&tags[w], &tags[h]), (&json!(20), &json!(40)), "{tags}");
        let img = image::load_from_memory(&stored).unwrap().to_rgb8();
        let (top, bottom) = (img.get_pixel(10, 5), img.get_pixel(10, 34));
        assert!(top[0] > 200 && top[2] < 60, "{ext}: top {top:?}");
        assert!(
            bottom[2] > 200 && bottom[0] < 60,
            "{ext}: bottom {bottom:?}"
        );
    }
}

/// `GET url` → (content type, cache control, width × height).
async fn fetch(url: &str) -> (String, String, (u32, u32)) {
    let resp = anonymous_get(url).await;
    assert_eq!(resp.status(), 200, "{url}");
    let header = |name: &str| resp.headers()[name].to_str().unwrap().to_owned();
    let (mime, cache) = (header("content-type"), header("cache-control"));
    let img = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
    (mime, cache, (img.width(), img.height()))
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[tokio::test]
async fn variants_and_the_version_are_stored_content_addressed_and_listed_as_new_keys() {
    let app = TestApp::spawn_with(&[("IMAGE_VARIANT_SIZES", "64,128,256")]).await;
    let ana = app.user("ana").await;
    let (token, _) = app.login(ana).await;
    let avatar = format!("{ana}.png");
    let img = RgbImage::from_fn(300, 150, |x, y| Rgb([x as u8, y as u8, 9]));
    let mut sent = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut sent, ImageFormat::Png)
        .unwrap();
    let resp = app.upload_as(&avatar, sent.into_inner(), &token).await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    // The legacy keys, unchanged.
    assert_eq!(body["message"], "Image uploaded successfully");
    assert_eq!(body["url"], json!(app.url_of(&avatar)));
    let version = body["version_url"].as_str().unwrap();
    let prefix = app.url_of(&format!("{ana}/"));
    assert!(
        version.starts_with(&prefix) && version.ends_with(".png"),
        "{version}"
    );
    let sha = &version[prefix.len()..version.len() - 4];
    assert_eq!(sha.len(), 64);
    assert_eq!(
        fetch(version).await,
        ("image/png".into(), IMMUTABLE.into(), (300, 150))
    );
    let variants = body["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 3);
    for (variant, (px, dims)) in
        variants
            .iter()
            .zip([(64, (64, 32)), (128, (128, 64)), (256, (256, 128))])
    {
        assert_eq!(variant["size"], px);
        let url = variant["url"].as_str().unwrap();
        assert_eq!(url, app.url_of(&format!("{ana}/{sha}-{px}.png")));
        assert_eq!(
            fetch(url).await,
            ("image/png".into(), IMMUTABLE.into(), dims)
        );
        let webp = variant["webp_url"].as_str().unwrap();
        assert_eq!(webp, app.url_of(&format!("{ana}/{sha}-{px}.webp")));
        assert_eq!(
            fetch(webp).await,
            ("image/webp".into(), IMMUTABLE.into(), dims)
        );
    }

    // The legacy listing skips versions and variants; `images` has them.
    let listing: Value = app.get("/list_images").await.json().await.unwrap();
    assert_eq!(listing["urls"], json!([app.url_of(&avatar)]));
    assert_eq!(
        listing["images"],
        json!([{ "url": app.url_of(&avatar), "version_url": version, "variants": variants }])
    );

    // The owner's next upload: the legacy URL serves it, the listing follows, the old
    // version stays readable (grace period).
    let second = png(5000);
    let resp = app.upload_as(&avatar, second.clone(), &token).await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let new_version = body["version_url"].as_str().unwrap().to_owned();
    assert_ne!(new_version, version);
    assert_eq!(fetch(&app.url_of(&avatar)).await.2, (8, 8), "the newest");
    let listing: Value = app.get("/list_images").await.json().await.unwrap();
    assert_eq!(listing["urls"], json!([app.url_of(&avatar)]));
    assert_eq!(listing["images"][0]["version_url"], json!(new_version));
    assert_eq!(anonymous_get(version).await.status(), 200, "still there");

    // An anonymous upload of the name stores nothing, versions included.
    let keys = app.stored_keys().await.len();
    assert_eq!(keys, 2 * (1 + 3 * 2) + 1);
    assert_eq!(app.upload(&avatar, png(6000)).await.status(), 409);
    assert_eq!(app.stored_keys().await.len(), keys);
}

#[tokio::test]
async fn replaced_versions_are_pruned_after_the_grace_period_by_any_number_of_instances() {
    let app = TestApp::spawn().await;
    let other = app.beside(&[]).await;
    let ana = app.user("ana").await;
    let (token, _) = app.login(ana).await;
    let avatar = format!("{ana}.png");
    let first = app.upload_ok(&avatar, png(1000)).await;
    assert_eq!(first, app.url_of(&avatar));
    let old: Value = app.get("/list_images").await.json().await.unwrap();
    let old_version = old["images"][0]["version_url"].as_str().unwrap().to_owned();
    let resp = other.upload_as(&avatar, png(2000), &token).await;
    assert_eq!(resp.status(), 200);
    // A GIF beside it: another image of the user's, current, kept.
    let resp = app
        .upload_as(
            &format!("{ana}.gif"),
            real_image(ImageFormat::Gif, 7),
            &token,
        )
        .await;
    assert_eq!(resp.status(), 200);
    // Two own keys; three versions of seven objects each (itself, 3 sizes × 2 formats).
    assert_eq!(app.stored_keys().await.len(), 2 + 3 * 7);

    let store = app.store();
    // Within the grace period: nothing goes.
    let kept = images::versions::prune(&store, Duration::from_secs(3600), SystemTime::now())
        .await
        .unwrap();
    assert_eq!(kept, 0);
    // After it, the replaced version and its variants go, on both instances at once.
    let later = SystemTime::now() + Duration::from_secs(2 * 86_400);
    let other_store = other.store();
    let (a, b) = tokio::join!(
        images::versions::prune(&store, Duration::from_secs(86_400), later),
        images::versions::prune(&other_store, Duration::from_secs(86_400), later),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.max(b) == 7 && a.min(b) <= 7,
        "{a} and {b}: the first to list finds seven"
    );
    let after = app.stored_keys().await;
    assert_eq!(after.len(), 2 + 2 * 7);
    let old_key = old_version
        .rsplit_once(&format!("/{}/", app.bucket))
        .unwrap()
        .1;
    let old_stem = old_key.trim_end_matches(".png");
    assert!(after.iter().all(|k| !k.starts_with(old_stem)), "{after:?}");
    assert_eq!(anonymous_get(&old_version).await.status(), 404);
    let listing: Value = app.get("/list_images").await.json().await.unwrap();
    assert_eq!(listing["images"].as_array().unwrap().len(), 2);
    for image in listing["images"].as_array().unwrap() {
        assert_eq!(
            anonymous_get(image["version_url"].as_str().unwrap())
                .await
                .status(),
            200
        );
    }
    // Nothing more to do.
    let again = images::versions::prune(&store, Duration::from_secs(86_400), later)
        .await
        .unwrap();
    assert_eq!(again, 0);
}
