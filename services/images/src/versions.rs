//! Which version of each image is current, from one bucket listing, for the listing's
//! reply and for the prune of old versions.
//!
//! An image's own key (`<stem>.<ext>`, e.g. `<user id>.png`) holds the newest upload;
//! each upload is also stored at `<stem>/<sha256>.<ext>` with its variants beside it
//! (`<stem>/<sha256>-<px>.<ext>`, [`keys::version_key`]). Both are written by one
//! `PutObject` each of the same bytes, so S3 gives them the same ETag (the MD5 of the
//! bytes): the current version of an image is the full-size version under its stem whose
//! ETag is its own key's. No metadata is read, so the listing stays one paged call.
//! (S3 with SSE-KMS does not make ETags of the bytes: there, no version counts as current,
//! the listing shows none, and the prune keeps only the grace period's.)

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, SystemTime},
};

use crate::{
    keys::{self, VersionKey},
    store::{Object, Store, StoreError},
};

/// One image's own key and, when found, its current version.
#[derive(Debug)]
pub struct Image<'a> {
    /// The image's own (legacy) key.
    pub key: &'a str,
    /// The current version, if one matches.
    pub current: Option<Version<'a>>,
}

/// A version: its full-size key and its variants' keys by size.
#[derive(Debug, Default)]
pub struct Version<'a> {
    /// `<stem>/<sha256>.<ext>`.
    pub key: &'a str,
    /// Per size: the key in the original's format and the WebP's (either may be missing).
    pub variants: BTreeMap<u32, (Option<&'a str>, Option<&'a str>)>,
}

/// The bucket's objects sorted out: every object that is not a version or a variant
/// (the legacy listing), each with its current version.
pub fn images(objects: &[Object]) -> Vec<Image<'_>> {
    let mut fulls: HashMap<(&str, &str), &str> = HashMap::new(); // (stem, etag) -> key
    let mut variants: HashMap<(&str, &str), Vec<(VersionKey<'_>, &str)>> = HashMap::new();
    for o in objects {
        if let Some(v) = keys::parse_version(&o.key) {
            match v.px {
                None => {
                    fulls.insert((v.stem, o.etag.as_str()), o.key.as_str());
                }
                Some(_) => variants
                    .entry((v.stem, v.sha256))
                    .or_default()
                    .push((v, o.key.as_str())),
            }
        }
    }
    objects
        .iter()
        .filter(|o| keys::parse_version(&o.key).is_none())
        .map(|o| {
            let stem = keys::split_extension(&o.key).0;
            let current = fulls.get(&(stem, o.etag.as_str())).map(|&key| {
                let full = keys::parse_version(key);
                let mut version = Version {
                    key,
                    variants: BTreeMap::new(),
                };
                if let Some(full) = full {
                    for (v, key) in variants.get(&(stem, full.sha256)).into_iter().flatten() {
                        let Some(px) = v.px else { continue };
                        let entry = version.variants.entry(px).or_default();
                        if v.ext == full.ext {
                            entry.0 = Some(key);
                        }
                        if v.ext == "webp" {
                            entry.1 = Some(key);
                        }
                    }
                }
                version
            });
            Image {
                key: &o.key,
                current,
            }
        })
        .collect()
}

/// The version and variant keys to delete: those of every version that is not current
/// and whose newest object was written more than `grace` before `now`.
pub fn expired(objects: &[Object], grace: Duration, now: SystemTime) -> Vec<&str> {
    let current: HashSet<(&str, &str)> = images(objects)
        .iter()
        .filter_map(|image| image.current.as_ref())
        .filter_map(|v| keys::parse_version(v.key))
        .map(|v| (v.stem, v.sha256))
        .collect();
    let mut groups: HashMap<(&str, &str), (SystemTime, Vec<&str>)> = HashMap::new();
    for o in objects {
        if let Some(v) = keys::parse_version(&o.key) {
            let group = groups
                .entry((v.stem, v.sha256))
                .or_insert((SystemTime::UNIX_EPOCH, Vec::new()));
            group.0 = group.0.max(o.last_modified);
            group.1.push(&o.key);
        }
    }
    let mut doomed: Vec<&str> = groups
        .into_iter()
        .filter(|(id, (newest, _))| {
            !current.contains(id) && newest.checked_add(grace).is_some_and(|t| t <= now)
        })
        .flat_map(|(_, (_, keys))| keys)
        .collect();
    doomed.sort_unstable();
    doomed
}

/// The prune: deletes every expired version ([`expired`]). Safe on any number of
/// instances at once: each deletes what it found expired, and deleting a key already
/// gone succeeds. Returns how many keys were deleted.
pub async fn prune(store: &Store, grace: Duration, now: SystemTime) -> Result<usize, StoreError> {
    let objects = store.list_objects().await?;
    let doomed = expired(&objects, grace, now);
    for key in &doomed {
        store.delete(key).await?;
    }
    Ok(doomed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, etag: &str, age_secs: u64) -> Object {
        Object {
            key: key.to_owned(),
            etag: etag.to_owned(),
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_secs),
            size: 0,
        }
    }

    #[test]
    fn the_current_version_is_the_one_with_the_images_etag_and_only_old_others_expire() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let objects = vec![
            object("u1.png", "\"e-b\"", 10),
            object(&format!("u1/{a}.png"), "\"e-a\"", 500),
            object(&format!("u1/{a}-64.png"), "x", 500),
            object(&format!("u1/{a}-64.webp"), "x", 500),
            object(&format!("u1/{b}.png"), "\"e-b\"", 10),
            object(&format!("u1/{b}-64.png"), "y", 10),
            object(&format!("u1/{b}-64.webp"), "y", 10),
            object(&format!("u1/{c}.png"), "\"e-c\"", 50),
            object("other.gif", "\"e-o\"", 10),
        ];
        let listed = images(&objects);
        assert_eq!(
            listed.iter().map(|i| i.key).collect::<Vec<_>>(),
            ["u1.png", "other.gif"]
        );
        let current = listed[0].current.as_ref().unwrap();
        assert_eq!(current.key, format!("u1/{b}.png"));
        let v64 = current.variants[&64];
        assert_eq!(v64.0.unwrap(), format!("u1/{b}-64.png"));
        assert_eq!(v64.1.unwrap(), format!("u1/{b}-64.webp"));
        assert!(listed[1].current.is_none());

        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let doomed = expired(&objects, Duration::from_secs(100), now);
        assert_eq!(
            doomed,
            [
                format!("u1/{a}-64.png"),
                format!("u1/{a}-64.webp"),
                format!("u1/{a}.png")
            ]
        );
        // Within the grace period nothing goes; the current version never does.
        assert!(expired(&objects, Duration::from_secs(1000), now).is_empty());
        assert_eq!(expired(&objects, Duration::ZERO, now).len(), 4);
    }
}
