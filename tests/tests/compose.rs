//! No Docker engine runs in CI, so docker-compose.yml is kept right by reading it here:
//! every service of the registry (services.toml) is built from the one Dockerfile and waits
//! for its backing servers, and the four backing servers have pinned images, healthchecks
//! and no default secrets. Each service's port, PORT and healthcheck against the registry
//! are checked in registry.rs, with the other files that repeat the registry.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use hub_checks::{compose, healthcheck_text, read, services};

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
        assert!(
            image.contains(':') && !image.ends_with(":latest"),
            "{name}: pinned tag, got {image}"
        );
        assert!(!healthcheck_text(svc).is_empty(), "{name}: healthcheck");
    }
    let text = read("docker-compose.yml");
    for secret in [
        "POSTGRES_PASSWORD",
        "MONGO_PASSWORD",
        "RABBITMQ_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "SECRET_KEY",
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
