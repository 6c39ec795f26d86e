//! Images configuration, read once from the environment at start-up.

use std::time::Duration;

use hub_db::PgSettings;
use hub_identity::verifier::VerifierConfig;
use hub_runtime::{
    config::{ConfigError, Vars},
    service::ServiceConfig,
};
use secrecy::SecretString;

use hub_events::{catalogue::queues, consumer::ConsumerConfig};

use crate::{access::Policy, process::PixelLimits};

/// S3's smallest part (every part of a multipart upload but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Room for the multipart framing (boundaries, part headers, small extra fields) on
/// top of the largest image, in the default request body limit.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the images live.
    pub s3: S3Config,
    /// `MAX_IMAGE_BYTES` (default 10 MiB): larger files get 413 and nothing is stored.
    pub max_image_bytes: u64,
    /// `MAX_CONCURRENT_UPLOADS` (default 4): uploads buffering at once; each holds its
    /// file (at most `MAX_IMAGE_BYTES`) and what it was re-encoded to, so this bounds the
    /// total (README, "Memory").
    pub max_concurrent_uploads: usize,
    /// `MAX_IMAGE_PIXELS` (default 16 Mi = 16 777 216, e.g. 4096 × 4096) and
    /// `MAX_IMAGE_SIDE` (default 16 384): the declared size an image may have, checked
    /// before any pixel is decoded.
    pub pixel_limits: PixelLimits,
    /// `IMAGE_DECODE_CONCURRENCY` (default 1): decodes running at once, each using up to
    /// `MAX_IMAGE_PIXELS` × 4 bytes × 2.
    pub decode_concurrency: usize,
    /// `IMAGE_VARIANT_SIZES` (default `64,128,256`): the boxes, in pixels, each image's
    /// variants fit in (1 to 4096 each, at most 8 sizes).
    pub variant_sizes: Vec<u32>,
    /// `IMAGE_VERSION_GRACE_SECS` (default 86 400): how long a replaced version (and its
    /// variants) stays readable at its content-addressed URL before the prune removes it.
    pub version_grace: Duration,
    /// `IMAGE_PRUNE_INTERVAL_SECS` (default 3600): how often each instance prunes.
    pub prune_interval: Duration,
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required;
    /// `DB_*`. Read only for uploads that carry a token: whether it was revoked.
    pub db: PgSettings,
    /// Who may write which key: `UPLOAD_REQUIRE_JWT` (default false) and
    /// `UPLOAD_ANONYMOUS_REPLACE` (default false); see [`Policy`].
    pub policy: Policy,
    /// How tokens are verified: auth's public keys (`JWKS_URL`) or else `SECRET_KEY` (or
    /// `JWT_SECRET`). Required with `UPLOAD_REQUIRE_JWT=true`; otherwise optional, and
    /// without one no token is read, so no image can be replaced and
    /// `GET /api/images/{user_id}` answers 503. Uploads ignore it with
    /// `UPLOAD_ANONYMOUS_REPLACE=true`.
    pub jwt: Option<VerifierConfig>,
    /// The `images-events` consumer (account deletions): `AMQP_URL` (one or several
    /// comma-separated brokers), `CONSUMER_QUEUE` (else `RABBITMQ_QUEUE`, default
    /// `images-events`), `CONSUMER_DEAD_LETTER_QUEUE` (default `<queue>.dlq`),
    /// `CONSUMER_*` tuning.
    pub consumer: ConsumerConfig,
    /// `IMAGES_CONSUMER` (default true): consume `UserDeleted`. Off, a deleted user's
    /// images stay until it is turned on again (the events wait in the queue).
    pub consume_events: bool,
}

/// The S3 connection and bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `S3_ENDPOINT` (preferred) or `AWS_ENDPOINT_URL` (the original). Required,
    /// `http://` or `https://`; addressed path-style (`<endpoint>/<bucket>/<key>`).
    pub endpoint: String,
    /// `AWS_ACCESS_KEY_ID`. Required.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`. Required; never logged.
    pub secret_access_key: SecretString,
    /// `AWS_REGION` (default `us-east-1`).
    pub region: String,
    /// `AWS_BUCKET_NAME` (default `profile-images`).
    pub bucket: String,
    /// `S3_PUBLIC_BASE_URL` (default: the endpoint): the start of the URLs handed to
    /// clients, e.g. a CDN or reverse proxy in front of the S3 server.
    pub public_base_url: String,
    /// `S3_PUBLIC_READ_POLICY` (default true): at start-up, set a bucket policy that
    /// lets anyone read objects (the URLs are public). Turn off when the policy is
    /// managed elsewhere.
    pub public_read_policy: bool,
    /// `S3_CONNECT_TIMEOUT_MS` (default 1000).
    pub connect_timeout: Duration,
    /// `S3_ATTEMPT_TIMEOUT_MS` (default 10 000): one try of one S3 call (a part upload
    /// is the largest).
    pub attempt_timeout: Duration,
    /// `S3_OPERATION_TIMEOUT_MS` (default 20 000): one S3 call, retries included.
    pub operation_timeout: Duration,
    /// `S3_MAX_ATTEMPTS` (default 3): tries per S3 call for transient errors.
    pub max_attempts: u32,
    /// `S3_STARTUP_TIMEOUT_SECS` (default 30): how long start-up waits for S3.
    pub startup_timeout: Duration,
    /// `S3_PART_SIZE_BYTES` (default and minimum 5 MiB): files up to this size are one
    /// `PutObject`; larger ones are sent as a multipart upload in parts of this size.
    pub part_size: usize,
}

impl ServiceConfig for Config {
    /// `MAX_BODY_BYTES` default: `MAX_IMAGE_BYTES` plus room for the multipart framing.
    fn default_body_limit(&self) -> usize {
        usize::try_from(self.max_image_bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(MULTIPART_OVERHEAD)
    }

    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let max_image_bytes: u64 = vars.positive_or("MAX_IMAGE_BYTES", 10 * 1024 * 1024)?;
        let max_concurrent_uploads = vars.positive_or("MAX_CONCURRENT_UPLOADS", 4)?;
        let pixel_limits = PixelLimits {
            max_pixels: vars.positive_or("MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS)?,
            max_side: vars.positive_or("MAX_IMAGE_SIDE", 16_384)?,
        };
        let variant_sizes = variant_sizes(vars)?;
        let policy = match (
            vars.bool_or("UPLOAD_REQUIRE_JWT", false)?,
            vars.bool_or("UPLOAD_ANONYMOUS_REPLACE", false)?,
        ) {
            (true, true) => {
                return Err(ConfigError::invalid(
                    "UPLOAD_ANONYMOUS_REPLACE",
                    "cannot be true with UPLOAD_REQUIRE_JWT=true (no upload is anonymous then)",
                ));
            }
            (true, false) => Policy::TokenRequired,
            (false, true) => Policy::AnonymousReplace,
            (false, false) => Policy::CreateOnly,
        };
        // With UPLOAD_ANONYMOUS_REPLACE uploads read no token (anyone replaces anything,
        // as the original), but a configured key still serves `GET /api/images/{user_id}`.
        let jwt = match policy {
            Policy::TokenRequired => Some(VerifierConfig::from_vars(vars)?),
            Policy::CreateOnly | Policy::AnonymousReplace => {
                VerifierConfig::from_vars_if_set(vars)?
            }
        };
        Ok(Self {
            s3: S3Config::from_vars(vars)?,
            db: PgSettings::from_vars(vars)?,
            max_image_bytes,
            max_concurrent_uploads,
            pixel_limits,
            decode_concurrency: vars.positive_or("IMAGE_DECODE_CONCURRENCY", 1)?,
            variant_sizes,
            version_grace: vars
                .seconds_or("IMAGE_VERSION_GRACE_SECS", Duration::from_secs(86_400))?,
            prune_interval: vars
                .seconds_or("IMAGE_PRUNE_INTERVAL_SECS", Duration::from_secs(3600))?,
            policy,
            jwt,
            consumer: ConsumerConfig::from_vars(vars, "images", queues::IMAGES_EVENTS)?,
            consume_events: vars.bool_or("IMAGES_CONSUMER", true)?,
        })
    }
}

impl S3Config {
    /// Reads the S3 variables (see each field).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let (endpoint_var, endpoint) = vars
            .first_of(&["S3_ENDPOINT", "AWS_ENDPOINT_URL"])
            .ok_or_else(|| ConfigError::Missing("S3_ENDPOINT (or AWS_ENDPOINT_URL)".into()))?;
        let endpoint = http_url(endpoint_var, endpoint)?;
        let public_base_url = match vars.string("S3_PUBLIC_BASE_URL") {
            Some(url) => http_url("S3_PUBLIC_BASE_URL", url)?,
            None => endpoint.clone(),
        };
        let bucket = vars.string_or("AWS_BUCKET_NAME", "profile-images");
        if !is_valid_bucket_name(&bucket) {
            return Err(ConfigError::invalid(
                "AWS_BUCKET_NAME",
                "3-63 characters: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
            ));
        }
        let part_size = vars.parse_or("S3_PART_SIZE_BYTES", MIN_PART_SIZE)?;
        if part_size < MIN_PART_SIZE {
            return Err(ConfigError::invalid(
                "S3_PART_SIZE_BYTES",
                "must be at least 5242880 (S3's smallest part)",
            ));
        }
        let max_attempts = vars.positive_or("S3_MAX_ATTEMPTS", 3)?;
        Ok(Self {
            endpoint,
            access_key_id: vars
                .secret("AWS_ACCESS_KEY_ID")?
                .ok_or_else(|| ConfigError::Missing("AWS_ACCESS_KEY_ID".into()))?,
            secret_access_key: vars
                .secret("AWS_SECRET_ACCESS_KEY")?
                .ok_or_else(|| ConfigError::Missing("AWS_SECRET_ACCESS_KEY".into()))?
                .into(),
            region: vars.string_or("AWS_REGION", "us-east-1"),
            bucket,
            public_base_url,
            public_read_policy: vars.bool_or("S3_PUBLIC_READ_POLICY", true)?,
            connect_timeout: vars.millis_or("S3_CONNECT_TIMEOUT_MS", Duration::from_secs(1))?,
            attempt_timeout: vars.millis_or("S3_ATTEMPT_TIMEOUT_MS", Duration::from_secs(10))?,
            operation_timeout: vars
                .millis_or("S3_OPERATION_TIMEOUT_MS", Duration::from_secs(20))?,
            max_attempts,
            startup_timeout: vars.seconds_or("S3_STARTUP_TIMEOUT_SECS", Duration::from_secs(30))?,
            part_size,
        })
    }
}

/// `MAX_IMAGE_PIXELS`' default: 16 Mi pixels. At 4 bytes a pixel, decoded and once more
/// (a rotated copy, or the re-encoded output), one decode uses up to 128 MiB.
pub const DEFAULT_MAX_PIXELS: u64 = 16 * 1024 * 1024;

/// `IMAGE_VARIANT_SIZES` (unset or empty: 64, 128, 256): distinct sizes, 1 to 4096 px, at most 8, in the order given.
fn variant_sizes(vars: &Vars<'_>) -> Result<Vec<u32>, ConfigError> {
    const NAME: &str = "IMAGE_VARIANT_SIZES";
    if vars.string(NAME).is_none() {
        return Ok(vec![64, 128, 256]);
    }
    let raw = vars.list(NAME);
    let mut sizes: Vec<u32> = Vec::with_capacity(raw.len());
    for size in raw {
        match size.parse::<u32>() {
            Ok(px @ 1..=4096) if !sizes.contains(&px) => sizes.push(px),
            _ => {
                return Err(ConfigError::invalid(
                    NAME,
                    "comma-separated distinct sizes from 1 to 4096 pixels",
                ));
            }
        }
    }
    if sizes.len() > 8 {
        return Err(ConfigError::invalid(NAME, "at most 8 sizes"));
    }
    Ok(sizes)
}

/// An `http(s)://` URL without its trailing `/`.
fn http_url(var: &'static str, url: String) -> Result<String, ConfigError> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() => Ok(trimmed.to_owned()),
        _ => Err(ConfigError::invalid(
            var,
            "must be an http:// or https:// URL",
        )),
    }
}

/// S3's bucket naming rules (the subset that matters for path-style addressing).
fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    use hub_runtime::service::{Service as _, Settings};

    fn config(pairs: &[(&str, &str)]) -> Result<Settings<Config>, ConfigError> {
        Settings::from_source(&hub_testkit::config_source(pairs, &[]), crate::Images::PORT)
    }

    const BASE: &[(&str, &str)] = &[
        ("DATABASE_URL", "postgres://app:pw@postgres:5432/app"),
        ("AWS_ENDPOINT_URL", "http://minio:9000/"),
        ("AWS_ACCESS_KEY_ID", "ak"),
        ("AWS_SECRET_ACCESS_KEY", "sk-very-secret"),
    ];

    #[test]
    fn the_originals_variables_are_enough_and_defaults_match_it() {
        let c = config(BASE).unwrap();
        assert_eq!(c.http.addr.port(), 5015);
        assert_eq!(c.service.s3.endpoint, "http://minio:9000");
        assert_eq!(c.service.s3.public_base_url, "http://minio:9000");
        assert_eq!(c.service.s3.bucket, "profile-images");
        assert_eq!(c.service.s3.region, "us-east-1");
        assert_eq!(
            c.service.s3.secret_access_key.expose_secret(),
            "sk-very-secret"
        );
        assert_eq!(c.service.max_image_bytes, 10 * 1024 * 1024);
        assert_eq!(c.http.body_limit, 10 * 1024 * 1024 + 64 * 1024);
        assert!(c.service.jwt.is_none());
        assert_eq!(c.service.policy, Policy::CreateOnly);
        assert_eq!(c.service.variant_sizes, [64, 128, 256]);
        assert_eq!(c.service.pixel_limits.max_pixels, 16 * 1024 * 1024);
        assert_eq!(c.service.decode_concurrency, 1);
        assert_eq!(c.service.max_concurrent_uploads, 4);
    }

    #[test]
    fn variant_sizes_are_configurable_and_checked() {
        let mut vars = BASE.to_vec();
        vars.push(("IMAGE_VARIANT_SIZES", "32, 96"));
        assert_eq!(config(&vars).unwrap().service.variant_sizes, [32, 96]);
        for bad in ["0", "64,64", "5000", "a", "1,2,3,4,5,6,7,8,9"] {
            let mut vars = BASE.to_vec();
            vars.push(("IMAGE_VARIANT_SIZES", bad));
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains("IMAGE_VARIANT_SIZES"), "{bad}: {err}");
        }
    }

    #[test]
    fn s3_endpoint_wins_over_the_originals_name_and_a_public_base_can_differ() {
        let mut vars = BASE.to_vec();
        vars.push(("S3_ENDPOINT", "http://127.0.0.1:9000"));
        vars.push(("S3_PUBLIC_BASE_URL", "https://img.example.com/"));
        let c = config(&vars).unwrap();
        assert_eq!(c.service.s3.endpoint, "http://127.0.0.1:9000");
        assert_eq!(c.service.s3.public_base_url, "https://img.example.com");
    }

    #[test]
    fn the_secret_never_appears_in_debug_output_or_errors() {
        let c = config(BASE).unwrap();
        assert!(!format!("{c:?}").contains("sk-very-secret"));
        let mut vars = BASE.to_vec();
        vars.push(("S3_ENDPOINT", "ftp://sk-very-secret"));
        let err = config(&vars).unwrap_err().to_string();
        assert!(
            err.contains("S3_ENDPOINT") && !err.contains("sk-very-secret"),
            "{err}"
        );
    }

    #[test]
    fn missing_and_invalid_settings_name_their_variable() {
        let err = config(&BASE[2..]).unwrap_err().to_string();
        assert!(err.contains("S3_ENDPOINT"), "{err}");
        let err = config(&BASE[1..]).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        for (var, value) in [
            ("AWS_BUCKET_NAME", "Bad_Bucket"),
            ("S3_PART_SIZE_BYTES", "1024"),
            ("MAX_IMAGE_BYTES", "0"),
            ("MAX_CONCURRENT_UPLOADS", "0"),
            ("UPLOAD_ANONYMOUS_REPLACE", "maybe"),
        ] {
            let mut vars = BASE.to_vec();
            vars.push((var, value));
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn requiring_a_jwt_requires_its_secret() {
        let mut vars = BASE.to_vec();
        vars.push(("UPLOAD_REQUIRE_JWT", "true"));
        let err = config(&vars).unwrap_err().to_string();
        assert!(err.contains("SECRET_KEY"), "{err}");
        vars.push(("JWT_SECRET", "a-long-enough-secret-for-tests-0123456789"));
        assert!(matches!(
            config(&vars).unwrap().service.jwt,
            Some(VerifierConfig::Hs256(_))
        ));
        vars.push(("JWKS_URL", "http://auth:5001/.well-known/jwks.json"));
        assert!(matches!(
            config(&vars).unwrap().service.jwt,
            Some(VerifierConfig::Jwks(_))
        ));
    }

    #[test]
    fn by_default_a_configured_key_lets_owners_replace_and_the_originals_rule_is_opt_in() {
        let mut vars = BASE.to_vec();
        vars.push(("SECRET_KEY", "a-long-enough-secret-for-tests-0123456789"));
        let c = config(&vars).unwrap();
        assert_eq!(c.service.policy, Policy::CreateOnly);
        assert!(matches!(c.service.jwt, Some(VerifierConfig::Hs256(_))));
        vars.push(("UPLOAD_ANONYMOUS_REPLACE", "true"));
        let c = config(&vars).unwrap();
        assert_eq!(c.service.policy, Policy::AnonymousReplace);
        assert!(
            matches!(c.service.jwt, Some(VerifierConfig::Hs256(_))),
            "uploads read no token then, but a user's listing does"
        );
        vars.push(("UPLOAD_REQUIRE_JWT", "true"));
        let err = config(&vars).unwrap_err().to_string();
        assert!(err.contains("UPLOAD_ANONYMOUS_REPLACE"), "{err}");
    }
}
