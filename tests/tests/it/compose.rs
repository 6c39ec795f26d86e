//! No Docker engine runs in CI, so docker-compose.yml is kept right by reading it here
//! (tests/readme/run.sh also has Debian's docker-compose validate it against the compose
//! schema, with .env.example's values; it cannot read the `!reset` of the HS256
//! override, which is compose 2's): every service of the
//! registry (services.toml) is built from the one Dockerfile and waits for its backing
//! servers; the backing servers have healthchecks and no default secrets; every image, the
//! Dockerfile's included, names one exact release; every container has resource limits,
//! rotated logs and a stop grace period (the services' above their drain time); no
//! application container gets a root credential, each backing server creates the services'
//! least-privilege account, and image URLs point where a browser can go. Each service's
//! port, PORT and healthcheck against the registry are checked in registry.rs, with the
//! other files that repeat the registry.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use hub_checks::{compose, healthcheck_text, read, root, services};
use hub_runtime::{
    config::{Env, Vars},
    http::HttpConfig,
};
use serde_norway::Value;

#[test]
fn every_service_is_built_from_the_root_dockerfile_and_waits_for_its_backing_servers() {
    let doc = compose();
    for svc in services() {
        let name = svc.name.as_str();
        let entry = &doc["services"][name];
        assert!(
            entry.is_mapping(),
            "docker-compose.yml has no service {name} (services.toml)"
        );
        assert_eq!(
            entry["build"]["context"].as_str(),
            Some("."),
            "docker-compose.yml: {name}: built from the root Dockerfile"
        );
        assert!(
            entry["depends_on"].is_mapping(),
            "docker-compose.yml: {name}: waits for its backing servers"
        );
    }
}

#[test]
fn backing_servers_have_pinned_images_healthchecks_and_no_default_secrets() {
    let doc = compose();
    for name in ["postgres", "mongo", "rabbitmq", "minio"] {
        let svc = &doc["services"][name];
        let image = svc["image"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no image"));
        assert!(is_exact_release(image), "{name}: pinned tag, got {image}");
        assert!(!healthcheck_text(svc).is_empty(), "{name}: healthcheck");
    }
    let text = read("docker-compose.yml");
    for secret in [
        "POSTGRES_PASSWORD",
        "POSTGRES_SUPERUSER_PASSWORD",
        "MONGO_PASSWORD",
        "MONGO_ROOT_PASSWORD",
        "RABBITMQ_PASSWORD",
        "MINIO_APP_USER",
        "MINIO_APP_PASSWORD",
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "JWT_SIGNING_KEY",
    ] {
        assert!(
            text.contains(&format!("${{{secret}:?")),
            "{secret} must be required, not defaulted"
        );
        assert!(
            !text.contains(&format!("${{{secret}:-")),
            "{secret} must have no default"
        );
    }
    // HS256 is the opt-in (docker-compose.hs256.yml): there the shared secret is required.
    let hs256 = read("docker-compose.hs256.yml");
    assert!(
        hs256.contains("${SECRET_KEY:?"),
        "SECRET_KEY must be required"
    );
    assert!(
        !hs256.contains("${SECRET_KEY:-"),
        "SECRET_KEY must have no default"
    );
}

/// A new deployment signs EdDSA tokens: auth gets the Ed25519 key, session and images verify
/// through auth's JWKS and get no key that signs; HS256 is docker-compose.hs256.yml's opt-in.
#[test]
fn new_deployments_sign_eddsa_and_only_auth_holds_the_key() {
    let doc = merged();
    let env = |name: &str| doc["services"][name]["environment"].clone();
    assert_eq!(env("auth")["JWT_ALGORITHM"].as_str(), Some("EdDSA"));
    assert!(
        env("auth")["JWT_SIGNING_KEY"].is_string(),
        "auth: JWT_SIGNING_KEY"
    );
    for (name, svc) in app_containers(&doc) {
        let env = &svc["environment"];
        for var in ["SECRET_KEY", "JWT_SECRET"] {
            assert!(env[var].is_null(), "{name}: {var} is HS256's, the opt-in");
        }
        if name != "auth" {
            assert!(env["JWT_SIGNING_KEY"].is_null(), "{name}: holds auth's key");
        }
    }
    for name in ["session", "images"] {
        assert_eq!(
            env(name)["JWKS_URL"].as_str(),
            Some("http://auth:5001/.well-known/jwks.json"),
            "{name}: verifies with auth's JWKS"
        );
    }
}

#[test]
fn images_gets_the_s3_settings_it_reads_from_the_shared_anchor() {
    let mut doc = compose();
    doc.apply_merge().expect("merge keys resolve");
    let env = &doc["services"]["images"]["environment"];
    assert_eq!(env["S3_ENDPOINT"].as_str(), Some("http://minio:9000"));
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_BUCKET_NAME",
    ] {
        assert!(env[var].is_string(), "images: {var} missing");
    }
    assert!(
        doc["services"]["images"]["depends_on"]["minio"].is_mapping(),
        "images waits for MinIO"
    );
}

/// Every variable docker compose requires (`${NAME:?...}`) has a line in .env.example,
/// so a newcomer who copies it to .env gets a complete list to fill in.
#[test]
fn env_example_covers_every_variable_compose_requires() {
    let compose_text = read("docker-compose.yml");
    let example = read(".env.example");
    let mut missing = Vec::new();
    for part in compose_text.split("${").skip(1) {
        let Some((name, rest)) = part.split_once(":?") else {
            continue;
        };
        if rest.contains('}') && !example.lines().any(|l| l.starts_with(&format!("{name}="))) {
            missing.push(name.to_owned());
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

// --- production hardening ------------------------------------------------------------------

/// docker-compose.yml with its merge keys (`<<`) applied, as compose reads it.
fn merged() -> Value {
    let mut doc = compose();
    doc.apply_merge().expect("merge keys resolve");
    doc
}

/// Every container of the file (services of every profile), by name.
fn containers(doc: &Value) -> Vec<(String, &Value)> {
    doc["services"]
        .as_mapping()
        .expect("services:")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v))
        .collect()
}

/// The containers built from our Dockerfile: the services, which hold the app credentials.
fn app_containers(doc: &Value) -> Vec<(String, &Value)> {
    containers(doc)
        .into_iter()
        .filter(|(_, svc)| svc["build"].is_mapping())
        .collect()
}

/// `${NAME:-default}` as compose resolves it when NAME is unset; any other text as is.
fn unset_default(value: &str) -> &str {
    value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .and_then(|v| v.split_once(":-"))
        .map_or(value, |(_, default)| default)
}

/// Releases numbered major.minor, where that pair is already one exact release
/// (PostgreSQL since version 10: 15.19 is a patch release of 15).
const TWO_PART_RELEASES: &[&str] = &["postgres"];

/// True when an image reference names one release: a digest, or a tag whose version has
/// three numbers (`8.0.26-noble`, `v3.5.0`), two for [`TWO_PART_RELEASES`], or a date
/// (`RELEASE.2025-09-07T16-13-09Z`, `bookworm-20260824-slim`). `latest`, a bare major
/// (`15`, `1`) and a major.minor (`8.0`, `4.1-management`) float.
fn is_exact_release(reference: &str) -> bool {
    if reference.contains("@sha256:") {
        return true;
    }
    // The tag follows the last ':' after the last '/' (a registry may carry a port).
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let Some((name, tag)) = last.split_once(':') else {
        return false;
    };
    if tag == "latest" {
        return false;
    }
    let version: String = tag
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let numbers = version.split('.').filter(|n| !n.is_empty()).count();
    let wanted = if TWO_PART_RELEASES.contains(&name) {
        2
    } else {
        3
    };
    numbers >= wanted || has_date(tag)
}

/// A `YYYY-MM-DD` or an eight-digit `YYYYMMDD` in `tag`.
fn has_date(tag: &str) -> bool {
    let digit_runs_of_8 = tag
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 8);
    let b = tag.as_bytes();
    let dashed = b.windows(10).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
    });
    digit_runs_of_8 || dashed
}

#[test]
fn the_release_check_tells_floating_tags_from_exact_ones() {
    for floating in [
        "postgres:15",
        "postgres:15-bookworm",
        "mongo:8.0",
        "rabbitmq:4.1-management",
        "debian:bookworm-slim",
        "rust:1.95-bookworm",
        "minio/minio:latest",
        "minio/minio",
        "docker/dockerfile:1",
        "registry.example.com:5000/app",
    ] {
        assert!(!is_exact_release(floating), "{floating} floats");
    }
    for exact in [
        "postgres:15.19-bookworm",
        "mongo:8.0.26-noble",
        "rabbitmq:4.1.8-management",
        "prom/prometheus:v3.5.0",
        "minio/minio:RELEASE.2025-09-07T16-13-09Z",
        "debian:bookworm-20260824-slim",
        "rust:1.95.0-bookworm",
        "registry.example.com:5000/app:1.2.3",
        "mongo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert!(is_exact_release(exact), "{exact} is exact");
    }
}

/// The images the Dockerfile builds from (its `# syntax=` frontend included), with `${ARG}`
/// replaced by the ARG's default.
fn dockerfile_images() -> Vec<String> {
    let text = read("Dockerfile");
    let mut args = Vec::new();
    let mut images = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(syntax) = line.strip_prefix("# syntax=") {
            images.push(syntax.trim().to_owned());
        } else if let Some((name, default)) =
            line.strip_prefix("ARG ").and_then(|a| a.split_once('='))
        {
            args.push((name.trim().to_owned(), default.trim().to_owned()));
        } else if let Some(from) = line.strip_prefix("FROM ") {
            let mut image = from
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            for (name, value) in &args {
                image = image.replace(&format!("${{{name}}}"), value);
            }
            images.push(image);
        }
    }
    assert!(!images.is_empty(), "Dockerfile: no FROM line found");
    images
}

#[test]
fn no_image_tag_floats() {
    let doc = compose();
    let mut floating = Vec::new();
    for (name, svc) in containers(&doc) {
        if let Some(image) = svc["image"].as_str()
            && !is_exact_release(image)
        {
            floating.push(format!("docker-compose.yml: {name}: {image}"));
        }
    }
    for image in dockerfile_images() {
        if !is_exact_release(&image) {
            floating.push(format!("Dockerfile: {image}"));
        }
    }
    assert!(
        floating.is_empty(),
        "pin an exact release (or a digest): {floating:?}"
    );
}

/// A compose duration (`20s`, `1m30s`, `500ms`).
fn compose_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::from_secs_f64(number * unit_secs);
    }
    Some(total)
}

/// What the services do when `SHUTDOWN_DRAIN_SECS` is not set, read from the code.
fn default_drain() -> Duration {
    let unset = |_: &str| -> Option<String> { None };
    let env: &dyn Env = &unset;
    HttpConfig::from_vars(&Vars::new(env), 1, 1)
        .expect("the HTTP defaults are valid")
        .drain_timeout
}

/// After the drain bound a service still lets its background tasks finish the item in hand
/// and closes its pools: the grace period must leave room for that.
const AFTER_DRAIN: Duration = Duration::from_secs(5);

#[test]
fn every_container_stops_gracefully_and_the_services_get_more_than_their_drain() {
    assert_eq!(compose_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(compose_duration("ten"), None);
    let doc = merged();
    let mut problems = Vec::new();
    for (name, svc) in containers(&doc) {
        let Some(grace) = svc["stop_grace_period"].as_str().and_then(compose_duration) else {
            problems.push(format!(
                "{name}: no stop_grace_period (Docker's 10 s default is too short for a clean stop)"
            ));
            continue;
        };
        if !svc["build"].is_mapping() {
            continue;
        }
        let drain = match svc["environment"]["SHUTDOWN_DRAIN_SECS"].as_str() {
            Some(secs) => Duration::from_secs(
                unset_default(secs)
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: SHUTDOWN_DRAIN_SECS {secs:?}")),
            ),
            None => default_drain(),
        };
        if grace < drain + AFTER_DRAIN {
            problems.push(format!(
                "{name}: stop_grace_period {grace:?} is not above the drain time {drain:?} + {AFTER_DRAIN:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "docker-compose.yml: {problems:#?}");
}

#[test]
fn every_container_has_resource_limits_and_rotated_logs() {
    let doc = merged();
    let mut problems = Vec::new();
    for (name, svc) in containers(&doc) {
        let limits = &svc["deploy"]["resources"]["limits"];
        let memory = !limits["memory"].is_null() || !svc["mem_limit"].is_null();
        let cpus = !limits["cpus"].is_null() || !svc["cpus"].is_null();
        if !memory || !cpus {
            problems.push(format!(
                "{name}: no memory and CPU limits (deploy.resources.limits)"
            ));
        }
        let logging = &svc["logging"];
        let rotated = matches!(logging["driver"].as_str(), Some("json-file" | "local"))
            && logging["options"]["max-size"].is_string()
            && logging["options"]["max-file"].is_string();
        if !rotated {
            problems.push(format!(
                "{name}: logs not rotated (json-file with max-size and max-file: *logging)"
            ));
        }
    }
    assert!(problems.is_empty(), "docker-compose.yml: {problems:#?}");
}

/// Root (superuser) credentials: the backing servers and their init containers get them,
/// an application container never does.
const ROOT_CREDENTIALS: &[&str] = &[
    "POSTGRES_SUPERUSER_PASSWORD",
    "MONGO_ROOT_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
];

#[test]
fn no_application_container_receives_a_root_credential() {
    let text = read("docker-compose.yml");
    for var in ROOT_CREDENTIALS {
        assert!(
            text.contains(&format!("${{{var}:?")),
            "{var} is no longer used: update ROOT_CREDENTIALS"
        );
    }
    let doc = merged();
    let apps = app_containers(&doc);
    assert!(
        apps.len() >= services().len(),
        "every service is built here"
    );
    let mut problems = Vec::new();
    for (name, svc) in apps {
        if !svc["env_file"].is_null() {
            problems.push(format!("{name}: env_file would hand it every variable"));
        }
        let env = svc["environment"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name}: environment is a mapping"));
        for (key, value) in env {
            let key = key.as_str().unwrap_or_default();
            let value = value.as_str().unwrap_or_default();
            for var in ROOT_CREDENTIALS {
                if key == *var || value.contains(&format!("${{{var}")) {
                    problems.push(format!("{name}: {key} carries {var}"));
                }
            }
            if key.starts_with("MINIO_ROOT_") || key.starts_with("MONGO_INITDB_ROOT_") {
                problems.push(format!("{name}: gets {key}"));
            }
        }
    }
    assert!(problems.is_empty(), "docker-compose.yml: {problems:#?}");
}

/// The user in a `scheme://user:password@host...` URL.
fn url_user(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once(':'))
        .map_or("", |(user, _)| user)
}

/// The file a compose bind mount `./src:/target[:ro]` mounts at `target`, checked to exist.
fn mounted_at<'a>(svc: &'a Value, name: &str, target: &str) -> &'a str {
    let mount = svc["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|v| v.split(':').nth(1) == Some(target))
        .unwrap_or_else(|| panic!("{name}: nothing mounted at {target}"));
    let source = mount.split(':').next().unwrap_or_default();
    let path = source.trim_start_matches("./");
    assert!(
        root().join(path).is_file(),
        "{name}: mounts {source}, which does not exist"
    );
    path
}

#[test]
fn each_backing_server_gives_the_services_a_least_privilege_account() {
    let doc = merged();
    let svc = |name: &str| &doc["services"][name];

    // PostgreSQL: the services' role is not the superuser; the init script makes it.
    let pg = svc("postgres");
    let superuser = pg["environment"]["POSTGRES_USER"]
        .as_str()
        .unwrap_or("postgres");
    let db_url = svc("auth")["environment"]["DATABASE_URL"]
        .as_str()
        .expect("DATABASE_URL");
    assert_ne!(
        url_user(db_url),
        superuser,
        "DATABASE_URL logs in as the superuser"
    );
    let sql = read(mounted_at(
        pg,
        "postgres",
        "/docker-entrypoint-initdb.d/10-app-role.sql",
    ));
    assert!(
        sql.contains(&format!(
            "CREATE ROLE {} LOGIN NOSUPERUSER",
            url_user(db_url)
        )),
        "the init script creates the DATABASE_URL role, not superuser"
    );

    // MongoDB: the URI's user is not root and authenticates where the init script makes it.
    let mongo = svc("mongo");
    let mongo_uri = svc("session")["environment"]["MONGODB_URI"]
        .as_str()
        .expect("MONGODB_URI");
    assert_ne!(
        Some(url_user(mongo_uri)),
        mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"].as_str(),
        "MONGODB_URI logs in as root"
    );
    let js = read(mounted_at(
        mongo,
        "mongo",
        "/docker-entrypoint-initdb.d/init-app-user.js",
    ));
    assert!(
        mongo_uri.ends_with("authSource=app") && js.contains("getSiblingDB('app').createUser"),
        "the app user lives in database app, and the URI authenticates there"
    );
    assert!(
        js.contains("roles: [{ role: 'readWrite', db: 'app' }]"),
        "readWrite on app, nothing more"
    );

    // RabbitMQ: the default (services') user gets no administrator tag.
    let conf = read(mounted_at(
        svc("rabbitmq"),
        "rabbitmq",
        "/etc/rabbitmq/conf.d/90-hub.conf",
    ));
    assert!(
        conf.lines()
            .any(|l| l.trim() == "default_user_tags.administrator = false"),
        "the default user must not be an administrator"
    );

    // MinIO: images uses the user minio-init made, scoped to images' own bucket.
    let images = svc("images");
    assert_eq!(
        images["depends_on"]["minio-init"]["condition"].as_str(),
        Some("service_completed_successfully"),
        "images starts after its MinIO user exists"
    );
    let init = svc("minio-init");
    assert_eq!(
        init["environment"]["IMAGES_BUCKET"], images["environment"]["AWS_BUCKET_NAME"],
        "the policy names the bucket images uses"
    );
    assert_eq!(
        init["environment"]["MINIO_APP_USER"], images["environment"]["AWS_ACCESS_KEY_ID"],
        "images logs in as the user minio-init makes"
    );
    let script = read(mounted_at(init, "minio-init", "/init/init-app-user.sh"));
    assert!(
        !script.contains("\"s3:*\"") && !script.contains("admin:") && !script.contains("\"*\""),
        "the policy grants named S3 actions only"
    );
    let resources: Vec<&str> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"Resource\": "))
        .collect();
    assert!(
        !resources.is_empty()
            && resources.iter().all(|r| {
                *r == "[\"arn:aws:s3:::${IMAGES_BUCKET}\"]"
                    || *r == "[\"arn:aws:s3:::${IMAGES_BUCKET}/*\"]"
            }),
        "every statement is on the images bucket only: {resources:?}"
    );
    assert!(
        !script.contains("svcacct"),
        "a regular user, not a service account"
    );
}

#[test]
fn image_urls_point_where_a_browser_can_go() {
    let doc = merged();
    let env = &doc["services"]["images"]["environment"];
    let base = env["S3_PUBLIC_BASE_URL"]
        .as_str()
        .expect("images: S3_PUBLIC_BASE_URL set (else the URLs start with S3_ENDPOINT)");
    let base = unset_default(base);
    let authority = base
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
        .unwrap_or_else(|| panic!("S3_PUBLIC_BASE_URL default {base:?} is not a URL"));
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
    for (name, svc) in containers(&doc) {
        assert!(
            host != name && svc["hostname"].as_str() != Some(host),
            "S3_PUBLIC_BASE_URL {base} names the compose-internal host {host}"
        );
    }
    // The default is this host: MinIO's S3 port must then be published there.
    if matches!(host, "localhost" | "127.0.0.1") {
        let published: Vec<&str> = doc["services"]["minio"]["ports"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            published
                .iter()
                .any(|p| p.ends_with(":9000") && p.split(':').rev().nth(1) == Some(port)),
            "minio publishes S3 (9000) on host port {port}: {published:?}"
        );
    }
}
