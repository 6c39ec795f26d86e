//! Object keys and their public URLs: the one place both are built.
//!
//! Keys come from the uploaded file's name through [`secure_filename`], a port of
//! Werkzeug's `secure_filename` (POSIX), so a client that uploads `<user-id>.png`
//! gets the same key, and so the same URL, as with the original. URLs are
//! `<public base>/<bucket>/<key>` (path-style), each key byte outside RFC 3986's
//! unreserved set percent-encoded: the original concatenated raw strings, which
//! broke for keys created by other tools (spaces, `#`, `?`, non-ASCII).

use hub_runtime::config::NOT_UNRESERVED;
use percent_encoding::AsciiSet;
use unicode_normalization::UnicodeNormalization;

/// Werkzeug's `secure_filename` on POSIX: NFKD-normalise, drop what is not ASCII,
/// turn `/` into a space, join whitespace runs with `_`, drop every character
/// outside `[A-Za-z0-9_.-]`, strip leading and trailing `.` and `_`.
///
/// The result may be empty (e.g. `"文件"` or `".."`): callers refuse such names.
pub fn secure_filename(name: &str) -> String {
    let ascii: String = name
        .nfkd()
        .filter(char::is_ascii)
        .map(|c| if c == '/' { ' ' } else { c })
        .collect();
    // Python's `str.split()` without arguments: runs of whitespace, where whitespace
    // in ASCII also includes the separators \x1c-\x1f.
    let joined = ascii
        .split(|c: char| c.is_ascii_whitespace() || matches!(c, '\x0b' | '\x1c'..='\x1f'))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    joined
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .collect::<String>()
        .trim_matches(|c| c == '.' || c == '_')
        .to_owned()
}

/// The extensions of each type [`crate::magic`] accepts; the first is the one a key gets
/// when its name has none of them.
fn type_extensions(mime: &str) -> &'static [&'static str] {
    match mime {
        "image/png" => &["png"],
        "image/jpeg" => &["jpg", "jpeg"],
        "image/gif" => &["gif"],
        "image/webp" => &["webp"],
        _ => &[],
    }
}

/// The longest extension [`with_type_extension`] adds, with its dot.
pub const MAX_ADDED_EXTENSION: usize = ".webp".len();

/// A sanitised name split at its last `.`: (stem, extension). Names from
/// [`secure_filename`] neither start nor end with `.`.
pub fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => (stem, Some(ext)),
        _ => (name, None),
    }
}

/// `name` with an extension that says `mime`: kept when it already does (in any case,
/// `x.JPG`), else its last extension replaced or one added (`x.html` → `x.png`, `x` →
/// `x.png`), so a browser never takes an image for a page or a script.
pub fn with_type_extension(name: &str, mime: &str) -> String {
    let Some(canonical) = type_extensions(mime).first() else {
        return name.to_owned();
    };
    let (stem, ext) = split_extension(name);
    match ext {
        Some(ext)
            if type_extensions(mime)
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext)) =>
        {
            name.to_owned()
        }
        _ => format!("{stem}.{canonical}"),
    }
}

/// The most a version key adds to its image's stem: `/`, 64 hex digits, `-4096`, `.webp`.
pub const MAX_VERSION_SUFFIX: usize = 1 + 64 + 5 + 5;

/// The content-addressed key of one version of the image whose key has stem `stem`:
/// `<stem>/<sha256>.<ext>`, or `<stem>/<sha256>-<px>.<ext>` for its variant of `px`
/// pixels. Everything of a user's lives under `<user id>/` beside `<user id>.<ext>`.
pub fn version_key(stem: &str, sha256: &str, px: Option<u32>, ext: &str) -> String {
    match px {
        Some(px) => format!("{stem}/{sha256}-{px}.{ext}"),
        None => format!("{stem}/{sha256}.{ext}"),
    }
}

/// A key [`version_key`] made, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionKey<'a> {
    /// The stem of the image's own key (`<user id>` for `<user id>.png`).
    pub stem: &'a str,
    /// The full-size version's SHA-256, lower-case hex.
    pub sha256: &'a str,
    /// The variant's size; `None` for the full size.
    pub px: Option<u32>,
    /// The extension.
    pub ext: &'a str,
}

/// `key` as a version or variant key, or `None` for any other key (an image's own key,
/// or one another tool made).
pub fn parse_version(key: &str) -> Option<VersionKey<'_>> {
    let (stem, file) = key.rsplit_once('/')?;
    let (base, ext) = file.rsplit_once('.')?;
    let (sha256, px) = match base.split_once('-') {
        Some((sha, px)) => (sha, Some(px)),
        None => (base, None),
    };
    let hex = |s: &str| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let px = match px {
        None => None,
        Some(px) if !px.is_empty() && px.bytes().all(|b| b.is_ascii_digit()) => {
            Some(px.parse().ok()?)
        }
        Some(_) => return None,
    };
    (!stem.is_empty() && hex(sha256) && !ext.is_empty() && !ext.contains('/')).then_some(
        VersionKey {
            stem,
            sha256,
            px,
            ext,
        },
    )
}

/// The public URL of `key` in `bucket`: `<base>/<bucket>/<encoded key>`, with any
/// trailing `/` of `base` ignored (the original produced `//` then). `/` inside a key
/// stays a path separator; every other byte outside the unreserved set is encoded.
pub fn object_url(base: &str, bucket: &str, key: &str) -> String {
    let base = base.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + bucket.len() + key.len() + 2);
    url.push_str(base);
    url.push('/');
    url.push_str(&encode_path(bucket));
    url.push('/');
    url.push_str(&encode_path(key));
    url
}

/// Percent-encodes every byte outside RFC 3986's unreserved set, keeping `/`.
fn encode_path(raw: &str) -> String {
    const PATH: &AsciiSet = &NOT_UNRESERVED.remove(b'/');
    percent_encoding::utf8_percent_encode(raw, PATH).to_string()
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy as _;

    use super::*;

    #[test]
    fn secure_filename_matches_the_verified_werkzeug_examples() {
        // docs/LEGACY.md, images: checked against Werkzeug.
        for (input, expected) in [
            ("my photo.png", "my_photo.png"),
            ("../../etc/passwd", "etc_passwd"),
            ("文件.png", "png"),
            ("a\\b.png", "ab.png"),
            ("  .hidden  ", "hidden"),
            ("ñandú.JPG", "nandu.JPG"),
            ("", ""),
        ] {
            assert_eq!(secure_filename(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn secure_filename_handles_whitespace_runs_controls_and_compatibility_forms() {
        assert_eq!(secure_filename("a \t\n b.png"), "a_b.png");
        assert_eq!(secure_filename("a\x1fb.png"), "a_b.png");
        assert_eq!(secure_filename("ﬁle.png"), "file.png"); // NFKD splits the ligature
        assert_eq!(secure_filename("x\0y?.png"), "xy.png");
        assert_eq!(secure_filename("/abs/path/img.gif"), "abs_path_img.gif");
        assert_eq!(secure_filename("._.a-b_c.webp._"), "a-b_c.webp");
        assert_eq!(secure_filename(".."), "");
        assert_eq!(secure_filename("文件"), "");
        assert_eq!(
            secure_filename("3f1c2d4e-0000-4000-8000-000000000001.png"),
            "3f1c2d4e-0000-4000-8000-000000000001.png"
        );
    }

    #[test]
    fn the_extension_follows_the_detected_type() {
        for (name, mime, key) in [
            ("a.png", "image/png", "a.png"),
            ("x.html", "image/png", "x.png"),
            ("x.js", "image/gif", "x.gif"),
            ("photo.JPEG", "image/jpeg", "photo.JPEG"),
            ("photo.jpg", "image/webp", "photo.webp"),
            ("etc_passwd", "image/png", "etc_passwd.png"),
            ("my.photo.svg", "image/jpeg", "my.photo.jpg"),
            ("a.png", "application/octet-stream", "a.png"),
        ] {
            assert_eq!(with_type_extension(name, mime), key, "{name} as {mime}");
        }
        assert_eq!(split_extension("a.b.c"), ("a.b", Some("c")));
        assert_eq!(split_extension("abc"), ("abc", None));
    }

    #[test]
    fn version_keys_round_trip_and_nothing_else_parses_as_one() {
        let sha = "ab".repeat(32);
        let key = version_key("u1", &sha, Some(64), "webp");
        assert_eq!(key, format!("u1/{sha}-64.webp"));
        assert_eq!(
            parse_version(&key),
            Some(VersionKey {
                stem: "u1",
                sha256: &sha,
                px: Some(64),
                ext: "webp"
            })
        );
        let full = version_key("u1", &sha, None, "png");
        assert_eq!(parse_version(&full).unwrap().px, None);
        assert!(key.len() <= "u1".len() + MAX_VERSION_SUFFIX);
        for other in [
            "u1.png".to_owned(),
            "dir/a.png".to_owned(),
            format!("u1/{}.png", "AB".repeat(32)),
            format!("u1/{sha}-.png"),
            format!("u1/{sha}-x.png"),
            format!("/{sha}.png"),
            format!("u1/{sha}"),
        ] {
            assert_eq!(parse_version(&other), None, "{other}");
        }
    }

    #[test]
    fn urls_are_path_style_and_percent_encoded_once() {
        assert_eq!(
            object_url("http://minio:9000", "profile-images", "a.png"),
            "http://minio:9000/profile-images/a.png"
        );
        assert_eq!(
            object_url("http://minio:9000/", "b", "a.png"),
            "http://minio:9000/b/a.png"
        );
        assert_eq!(
            object_url("https://cdn.example.com/s3", "b", "dir/my pic#1?.png"),
            "https://cdn.example.com/s3/b/dir/my%20pic%231%3F.png"
        );
        assert_eq!(object_url("http://h", "b", "ñ%"), "http://h/b/%C3%B1%25");
    }

    #[test]
    fn every_sanitised_key_is_its_own_url_encoding() {
        let key = secure_filename("Ünïcödé näme (1).PNG");
        assert_eq!(key, "Unicode_name_1.PNG");
        assert!(object_url("http://h", "b", &key).ends_with("/b/Unicode_name_1.PNG"));
    }

    /// Names mixing what `secure_filename` treats specially: ASCII letters, digits,
    /// `.`, `_`, `-` and other punctuation, every ASCII whitespace and control
    /// character (`\x1c`-`\x1f` split words in Python), `/` and `\`, and non-ASCII text
    /// whose NFKD form is, or contains, ASCII (accents, ligatures, full-width forms,
    /// the wide space U+3000, mathematical letters, circled digits) or is not (CJK,
    /// Greek). Only blocks assigned long before the Unicode versions of Python and
    /// unicode-normalization, so that neither sees a code point the other does not.
    fn generated_name() -> impl proptest::strategy::Strategy<Value = String> {
        const RANGES: &[std::ops::RangeInclusive<char>] = &[
            'a'..='z',
            'A'..='Z',
            '0'..='9',
            '.'..='.',
            '_'..='_',
            '-'..='-',
            ' '..='~',
            '\0'..='\x1f',
            ' '..=' ',
            '/'..='/',
            '\\'..='\\',
            '\u{7f}'..='\u{24f}',
            '\u{300}'..='\u{36f}',
            '\u{391}'..='\u{3c9}',
            '\u{2000}'..='\u{2064}',
            '\u{2070}'..='\u{209c}',
            '\u{2100}'..='\u{2189}',
            '\u{2460}'..='\u{24ff}',
            '\u{3000}'..='\u{303f}',
            '\u{4e00}'..='\u{4eff}',
            '\u{fb00}'..='\u{fb06}',
            '\u{ff01}'..='\u{ffee}',
            '\u{1d400}'..='\u{1d6a5}',
        ];
        proptest::collection::vec(
            proptest::char::ranges(std::borrow::Cow::Borrowed(RANGES)),
            0..24,
        )
        .prop_map(String::from_iter)
    }

    /// Werkzeug's `secure_filename` (the test venv's, pinned in scripts/backing.sh) on
    /// every name, in one Python call.
    fn werkzeug_secure_filenames(names: &[String]) -> Vec<String> {
        use std::io::Write as _;
        let mut python = std::process::Command::new(hub_testkit::python())
            .args([
                "-c",
                "import json, sys; from werkzeug.utils import secure_filename; \
                 json.dump([secure_filename(n) for n in json.load(sys.stdin)], sys.stdout)",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run the test venv's python (HUB_PYTHON)");
        let input = serde_json::to_vec(names).unwrap();
        python.stdin.take().unwrap().write_all(&input).unwrap();
        let out = python.wait_with_output().unwrap();
        assert!(out.status.success(), "werkzeug failed");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Property: ours and Werkzeug's agree on every generated name (3000 per run, new
    /// ones each run; a disagreement lists the names, the shortest first).
    #[test]
    fn secure_filename_agrees_with_werkzeug_on_generated_names() {
        use proptest::strategy::ValueTree as _;
        let mut runner = proptest::test_runner::TestRunner::default();
        let strategy = generated_name();
        let names: Vec<String> = (0..3000)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect();
        let theirs = werkzeug_secure_filenames(&names);
        assert_eq!(theirs.len(), names.len());
        let mut differ: Vec<(&String, String, &String)> = names
            .iter()
            .zip(&theirs)
            .map(|(name, werkzeug)| (name, secure_filename(name), werkzeug))
            .filter(|(_, ours, werkzeug)| ours != *werkzeug)
            .collect();
        differ.sort_by_key(|(name, ..)| name.chars().count());
        differ.truncate(5);
        assert!(differ.is_empty(), "(name, ours, Werkzeug's): {differ:?}");
    }
}
