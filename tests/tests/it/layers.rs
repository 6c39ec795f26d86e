//! The crate layers docs/ARCHITECTURE.md promises: the crates that talk to backing
//! servers or hold shared logic sit beneath `hub-runtime` (the web stack: axum, the
//! server loop, the Prometheus exporter), so none of them builds it. Read from
//! `cargo metadata`; no servers needed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use hub_checks::root;
use serde_json::Value;

/// Each workspace package and the workspace packages it depends on to build (normal
/// dependencies: not dev or build).
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let direct = direct_dependencies();
    direct
        .iter()
        .map(|(package, deps)| {
            let deps = deps
                .iter()
                .filter(|d| direct.contains_key(*d))
                .cloned()
                .collect();
            (package.clone(), deps)
        })
        .collect()
}

/// Every workspace package `package` builds, directly or through others.
fn closure(graph: &BTreeMap<String, BTreeSet<String>>, package: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![package.to_owned()];
    while let Some(next) = todo.pop() {
        for dep in graph.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn the_crates_beneath_the_runtime_do_not_build_it() {
    let graph = workspace_graph();
    let beneath = [
        "hub-config",
        "hub-metrics",
        "hub-trace",
        "hub-db",
        "hub-mongo",
        "hub-identity",
        "hub-events",
        "hub-retry",
    ];
    let mut problems = Vec::new();
    for package in beneath {
        assert!(
            graph.contains_key(package),
            "{package}: not in the workspace"
        );
        let builds = closure(&graph, package);
        if builds.contains("hub-runtime") {
            problems.push(format!("{package} builds hub-runtime (through {builds:?})"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The check itself: a crate that does build the runtime is seen.
    assert!(closure(&graph, "hub-soap").contains("hub-runtime"));
}

/// Each workspace package and its direct normal dependencies (not dev or build),
/// workspace packages or not, by name. Read from `cargo metadata`.
fn direct_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// hub-soap is the protocol: the replay cache (hub-soap-pg) and the Bearer check
/// (user-lookup's) are injected through its `wsse::ports`, so neither it nor any
/// workspace crate it builds reaches for the database or the JWTs.
#[test]
fn the_soap_protocol_crate_builds_no_database_and_no_identity() {
    let graph = workspace_graph();
    let direct = direct_dependencies();
    let forbidden = ["sqlx", "hub-db", "hub-identity"];
    let mut builds = closure(&graph, "hub-soap");
    builds.insert("hub-soap".to_owned());
    let problems: Vec<String> = builds
        .iter()
        .flat_map(|package| {
            direct[package]
                .iter()
                .filter(|d| forbidden.contains(&d.as_str()))
                .map(move |d| format!("{package} depends on {d}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The check itself: the crate that implements the cache is seen to use the database.
    assert!(direct["hub-soap-pg"].contains("sqlx"));
    assert!(closure(&graph, "hub-soap-pg").contains("hub-db"));
}
