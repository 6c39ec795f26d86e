//! Workspace-level checks live in `tests/`. This library is what several of them read:
//! the service registry (`services.toml`, read by hub-registry, the one reader the
//! scripts use too) and the files checked against it, starting with docker-compose.yml;
//! and the five services started in-process on shared backing resources ([`system`]);
//! the chaos run's load generator and cluster plumbing ([`load`]), for chaos and upgrade.

pub mod load;
pub mod system;

use std::path::{Path, PathBuf};

pub use hub_registry::{self as registry, Protocol, Service};

/// The repository's registry, in file order; panics naming services.toml if it is wrong.
pub fn services() -> Vec<Service> {
    registry::parse(&read(registry::FILE)).unwrap_or_else(|e| panic!("{}: {e}", registry::FILE))
}

/// The settings every service these tests start in their own process takes besides its
/// own: loopback on a free port, password hashing far cheaper than production's, and a
/// quick outbox relay.
pub const IN_PROCESS: [(&str, &str); 6] = [
    ("HOST", "127.0.0.1"),
    ("PORT", "0"),
    ("PASSWORD_PBKDF2_ITERATIONS", "20000"),
    ("PASSWORD_ARGON2_MEMORY_KIB", "1024"),
    ("PASSWORD_ARGON2_ITERATIONS", "1"),
    ("OUTBOX_POLL_MS", "200"),
];

/// The repository root (the workspace's top folder).
pub fn root() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).to_path_buf()
}

/// The text of `path` (relative to the root); panics naming the file.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path))
        .unwrap_or_else(|e| panic!("{path}: cannot read: {e}"))
}

/// docker-compose.yml, parsed (merge keys `<<` left as they are).
pub fn compose() -> serde_norway::Value {
    serde_norway::from_str(&read("docker-compose.yml"))
        .unwrap_or_else(|e| panic!("docker-compose.yml does not parse as YAML: {e}"))
}

/// A compose service's `healthcheck.test` as one line, whichever form it is written in.
pub fn healthcheck_text(svc: &serde_norway::Value) -> String {
    use serde_norway::Value;
    match &svc["healthcheck"]["test"] {
        Value::Sequence(parts) => parts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(s) => s.clone(),
        other => panic!("docker-compose.yml: healthcheck.test missing or odd: {other:?}"),
    }
}

/// Folders under services/ that hold a crate (a Cargo.toml), sorted.
pub fn service_dirs() -> Vec<String> {
    let dir = root().join("services");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("services/: cannot list: {e}"))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The text after the first `open` in `text`, up to the next `close` (or `open`): an
/// element's text, such as the id in a SOAP reply.
pub fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split(open).nth(1)?.split(close).next()
}

/// A SOAP client script of tests/soap-clients/.
pub fn client_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("soap-clients")
        .join(name)
}
