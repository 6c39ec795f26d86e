//! No Docker engine runs in CI, so docker-compose.yml is kept right by reading it here:
//! every service crate must be in it (built from the one Dockerfile, on its port, with a
//! healthcheck on its health path), as must the four backing servers with healthchecks.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use serde_norway::Value;

/// The design table: service, port, health path (README.md).
const SERVICES: &[(&str, u16, &str)] = &[
    ("auth", 5001, "/auth/health"),
    ("user-soap", 5002, "/user-soap/health"),
    ("session", 5004, "/session/health"),
    ("images", 5015, "/profile-image/health"),
    ("user-lookup", 5016, "/user-search/health"),
    ("connected", 5020, "/connected/health"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    serde_norway::from_str(&text).expect("docker-compose.yml parses as YAML")
}

/// Service crates that exist: directories under services/ with a Cargo.toml.
fn existing_services() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("services"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn healthcheck_text(svc: &Value) -> String {
    match &svc["healthcheck"]["test"] {
        Value::Sequence(parts) => parts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(s) => s.clone(),
        other => panic!("healthcheck.test missing or odd: {other:?}"),
    }
}

#[test]
fn every_service_crate_is_in_compose_with_its_port_and_healthcheck() {
    let doc = compose();
    let services = &doc["services"];
    let existing = existing_services();
    assert!(existing.contains(&"auth".to_owned()));
    for name in &existing {
        let (_, port, health) = SERVICES
            .iter()
            .find(|(n, ..)| n == name)
            .unwrap_or_else(|| panic!("services/{name} is not in the design table of this test"));
        let svc = &services[name.as_str()];
        assert!(svc.is_mapping(), "docker-compose.yml has no service {name}");
        assert_eq!(
            svc["build"]["context"].as_str(),
            Some("."),
            "{name}: built from the root Dockerfile"
        );
        assert_eq!(
            svc["build"]["args"]["SERVICE"].as_str(),
            Some(name.as_str()),
            "{name}: SERVICE build arg"
        );
        let ports: Vec<&str> = svc["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            ports.contains(&format!("{port}:{port}").as_str()),
            "{name}: ports {ports:?}"
        );
        assert_eq!(
            svc["environment"]["PORT"].as_str(),
            Some(port.to_string().as_str()),
            "{name}: PORT"
        );
        let check = healthcheck_text(svc);
        assert!(
            check.contains(&format!("127.0.0.1:{port}{health}")),
            "{name}: healthcheck {check}"
        );
        assert!(
            svc["depends_on"].is_mapping(),
            "{name}: waits for its backing servers"
        );
    }
    // And nothing in compose that cannot be built.
    for (name, _) in services.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if services[name]["build"].is_mapping() {
            assert!(
                existing.iter().any(|e| e == name),
                "compose builds {name}, which has no crate"
            );
        }
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
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
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
fn the_run_script_starts_every_service_crate() {
    let script = std::fs::read_to_string(root().join("scripts/run.sh")).unwrap();
    for name in existing_services() {
        let (_, port, health) = SERVICES.iter().find(|(n, ..)| *n == name).unwrap();
        assert!(
            script.contains(&format!("\"{name}:{port}:{health}\"")),
            "scripts/run.sh does not start {name}"
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
