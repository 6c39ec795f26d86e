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
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|d| names.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
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
