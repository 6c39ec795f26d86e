//! services.toml is the one list of services. The scripts read it; what cannot read it is
//! checked against it here, and every failure names the file to fix and the service:
//! docker-compose.yml, the Dockerfile, deploy/prometheus/prometheus.yml, README.md's service
//! table, the folders under services/, each service's default port, health route and README,
//! and the scripts (which must read the registry through scripts/lib/registry.sh, which runs
//! hub-registry's `registry` binary: the same reader as these tests). No servers needed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::BTreeSet,
    io::Write,
    process::{Command, Stdio},
};

use hub_checks::{Protocol, Service, compose, healthcheck_text, read, registry, root, services};
use serde_norway::Value;

/// Fails with every problem at once, one per line, so adding a service shows all the files
/// that still have to learn about it.
fn assert_none(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} disagreement(s) with services.toml:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn names(services: &[Service]) -> BTreeSet<String> {
    services.iter().map(|s| s.name.clone()).collect()
}

#[test]
fn the_registry_parses_and_rejects_what_it_must() {
    let all = services();
    assert!(all.len() >= 6, "services.toml: only {} services", all.len());
    let auth = all.iter().find(|s| s.name == "auth").expect("auth listed");
    assert_eq!((auth.port, auth.protocol), (5001, Protocol::Rest));

    let entry = |name: &str, port: u16, protocol: &str| {
        format!(
            "[[service]]\nname = \"{name}\"\nport = {port}\nhealth = \"/{name}/health\"\nprotocol = \"{protocol}\"\n"
        )
    };
    assert!(registry::parse(&entry("a", 1, "rest")).is_ok());
    for (text, why) in [
        (
            entry("a", 1, "rest") + &entry("a", 2, "rest"),
            "listed twice",
        ),
        (
            entry("a", 1, "rest") + &entry("b", 1, "rest"),
            "already taken",
        ),
        (entry("A_b", 1, "rest"), "not a folder/package name"),
        (entry("a", 1, "grpc"), "unknown variant"),
        (
            entry("a", 1, "rest").replace("/a/health", "a/health"),
            "not a path",
        ),
        (entry("a", 1, "rest") + "helth = \"/x\"\n", "unknown field"),
        (
            entry("a", 1, "rest").replace("port = 1\n", ""),
            "missing field `port`",
        ),
        (String::from("# nothing\nservice = []\n"), "no [[service]]"),
    ] {
        let err = registry::parse(&text).expect_err(&text);
        assert!(err.contains(why), "{text}: expected {why:?}, got {err}");
    }
}

#[test]
fn every_service_folder_is_in_the_registry_and_every_entry_has_a_folder() {
    let listed = names(&services());
    let dirs: BTreeSet<String> = hub_checks::service_dirs().into_iter().collect();
    let mut problems = Vec::new();
    for d in dirs.difference(&listed) {
        problems.push(format!(
            "services/{d}: a service crate missing from services.toml"
        ));
    }
    for n in listed.difference(&dirs) {
        problems.push(format!(
            "services.toml: {n} has no crate under services/{n}"
        ));
    }
    assert_none(problems);
}

#[test]
fn docker_compose_runs_every_service_on_its_port_with_its_healthcheck() {
    let doc = compose();
    let all = services();
    let mut problems = Vec::new();
    for s in &all {
        let (name, port) = (s.name.as_str(), s.port);
        let svc = &doc["services"][name];
        if !svc.is_mapping() {
            problems.push(format!("docker-compose.yml: no service {name}"));
            continue;
        }
        if svc["build"]["args"]["SERVICE"].as_str() != Some(name) {
            problems.push(format!(
                "docker-compose.yml: {name}: build arg SERVICE is not {name}"
            ));
        }
        let ports: Vec<&str> = svc["ports"]
            .as_sequence()
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !ports.contains(&format!("{port}:{port}").as_str()) {
            problems.push(format!(
                "docker-compose.yml: {name}: ports {ports:?}, want \"{port}:{port}\""
            ));
        }
        if svc["environment"]["PORT"].as_str() != Some(port.to_string().as_str()) {
            problems.push(format!(
                "docker-compose.yml: {name}: PORT is not \"{port}\""
            ));
        }
        // Readiness, not the legacy health path: the same check, and the probe every
        // service answers the same way.
        let want = format!("http://127.0.0.1:{port}/readyz");
        if svc["healthcheck"]["test"].is_null() {
            problems.push(format!(
                "docker-compose.yml: {name}: no healthcheck (want {want})"
            ));
        } else {
            let check = healthcheck_text(svc);
            if !check.contains(&want) {
                problems.push(format!(
                    "docker-compose.yml: {name}: healthcheck `{check}` does not probe {want}"
                ));
            }
        }
    }
    // And nothing built there that the registry does not know.
    let listed = names(&all);
    for (key, svc) in doc["services"].as_mapping().expect("services:") {
        let key = key.as_str().unwrap_or_default();
        if svc["build"].is_mapping() && !listed.contains(key) {
            problems.push(format!(
                "docker-compose.yml: builds {key}, which is not in services.toml"
            ));
        }
    }
    assert_none(problems);
}

#[test]
fn the_dockerfile_builds_every_service_binary() {
    let dockerfile = read("Dockerfile");
    let all = services();
    let listed = names(&all);
    let mut problems = Vec::new();
    // One recipe, the binary picked by SERVICE: the package must be the binary's name.
    for needle in [r#"-p "$SERVICE""#, r#"target/release/$SERVICE"#] {
        if !dockerfile.contains(needle) {
            problems.push(format!("Dockerfile: no longer builds with `{needle}`"));
        }
    }
    // The list it prints when SERVICE is missing: `--build-arg SERVICE=<a|b|…>`.
    let usage = dockerfile
        .split_once("SERVICE=<")
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(list, _)| list.split('|').map(str::to_owned).collect::<BTreeSet<_>>());
    // And the header comment: `SERVICE is one of: a, b, … (package name = binary name)`.
    let header = dockerfile
        .split_once("SERVICE is one of:")
        .and_then(|(_, rest)| rest.split_once('('))
        .map(|(list, _)| {
            list.split(',')
                .map(|n| n.trim().to_owned())
                .collect::<BTreeSet<_>>()
        });
    for (what, list) in [
        ("the SERVICE=<…> usage line", usage),
        ("the SERVICE header comment", header),
    ] {
        let Some(list) = list else {
            problems.push(format!("Dockerfile: {what} is gone"));
            continue;
        };
        for n in listed.difference(&list) {
            problems.push(format!("Dockerfile: {what} does not name {n}"));
        }
        for n in list.difference(&listed) {
            problems.push(format!(
                "Dockerfile: {what} names {n}, which is not in services.toml"
            ));
        }
    }
    for s in &all {
        let name = &s.name;
        let path = format!("services/{name}/Cargo.toml");
        let Ok(text) = std::fs::read_to_string(root().join(&path)) else {
            problems.push(format!("{path}: missing"));
            continue;
        };
        let manifest: toml::Table = toml::from_str(&text).expect(&path);
        let package = manifest
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(toml::Value::as_str);
        if package != Some(name.as_str()) {
            problems.push(format!("{path}: package name {package:?}, want {name:?}"));
        }
        let bins: Vec<&str> = manifest
            .get("bin")
            .and_then(toml::Value::as_array)
            .map(|b| b.iter().filter_map(|b| b.get("name")?.as_str()).collect())
            .unwrap_or_default();
        let builds_binary = if bins.is_empty() {
            root().join(format!("services/{name}/src/main.rs")).exists()
        } else {
            bins.contains(&name.as_str())
        };
        if !builds_binary {
            problems.push(format!(
                "{path}: no binary named {name} (the Dockerfile copies target/release/{name})"
            ));
        }
    }
    assert_none(problems);
}

#[test]
fn prometheus_scrapes_every_service_on_its_port() {
    let path = "deploy/prometheus/prometheus.yml";
    let doc: Value = serde_norway::from_str(&read(path)).expect(path);
    let mut targets = BTreeSet::new();
    for job in doc["scrape_configs"].as_sequence().into_iter().flatten() {
        for group in job["static_configs"].as_sequence().into_iter().flatten() {
            for t in group["targets"].as_sequence().into_iter().flatten() {
                targets.insert(t.as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let all = services();
    let mut problems = Vec::new();
    for s in &all {
        let want = format!("{}:{}", s.name, s.port);
        if !targets.contains(&want) {
            problems.push(format!("{path}: {}: no target {want}", s.name));
        }
    }
    for t in &targets {
        let known = all.iter().any(|s| *t == format!("{}:{}", s.name, s.port));
        if !known {
            problems.push(format!("{path}: target {t} is no service of services.toml"));
        }
    }
    assert_none(problems);
}

#[test]
fn the_readme_table_lists_every_service_with_its_port_and_protocol() {
    let readme = read("README.md");
    // | [services/auth](services/auth/README.md) | 5001 | REST: login, profile, JWT | … |
    let rows: Vec<(String, String, String)> = readme
        .lines()
        .filter(|l| l.starts_with("| [services/"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells
                .get(1)?
                .strip_prefix("[services/")?
                .split(']')
                .next()?;
            let protocol = cells.get(3)?.split(':').next()?.trim().to_lowercase();
            Some((name.to_owned(), cells.get(2)?.to_string(), protocol))
        })
        .collect();
    let all = services();
    let mut problems = Vec::new();
    for s in &all {
        match rows.iter().find(|(n, ..)| *n == s.name) {
            None => problems.push(format!(
                "README.md: the service table has no row for {}",
                s.name
            )),
            Some((_, port, protocol)) => {
                if *port != s.port.to_string() {
                    problems.push(format!(
                        "README.md: {}: port {port}, want {}",
                        s.name, s.port
                    ));
                }
                if protocol != s.protocol.as_str() {
                    problems.push(format!(
                        "README.md: {}: protocol {protocol}, want {}",
                        s.name, s.protocol
                    ));
                }
            }
        }
    }
    for (n, ..) in &rows {
        if !all.iter().any(|s| s.name == *n) {
            problems.push(format!(
                "README.md: the service table lists {n}, which is not in services.toml"
            ));
        }
    }
    assert_none(problems);
}

/// Each service's `Service::NAME`, `Service::PORT` (the default of `PORT`) and
/// its entry's `health_path` (served by the runtime), read from the code itself.
fn skeletons() -> Vec<(&'static str, u16, &'static str)> {
    fn of<S: hub_runtime::service::Service>() -> (&'static str, u16, &'static str) {
        (S::NAME, S::PORT, S::ENTRY.health_path)
    }
    vec![
        of::<auth::Auth>(),
        of::<user_soap::UserSoap>(),
        of::<session::Session>(),
        of::<images::Images>(),
        of::<user_lookup::UserLookup>(),
        of::<connected::Connected>(),
        of::<notifications::Notifications>(),
    ]
}

#[test]
fn each_service_defaults_to_its_registry_port_and_serves_its_health_path() {
    let mut problems = Vec::new();
    let code = skeletons();
    for s in services() {
        match code.iter().find(|(name, ..)| *name == s.name) {
            None => problems.push(format!(
                "tests/tests/it/registry.rs: {}: no Service with that NAME in skeletons()",
                s.name
            )),
            Some((_, port, _)) if *port != s.port => problems.push(format!(
                "services/{}/src/lib.rs: PORT = {port}, services.toml says {}",
                s.name, s.port
            )),
            Some((.., health)) if *health != s.health => problems.push(format!(
                "services/{}/src/lib.rs: health path {health}, services.toml says {}",
                s.name, s.health
            )),
            Some(_) => {}
        }
    }
    for (name, ..) in &code {
        if !services().iter().any(|s| s.name == *name) {
            problems.push(format!("services.toml: no entry for the service {name}"));
        }
    }
    assert_none(problems);
}

#[test]
fn each_service_documents_its_health_path() {
    let mut problems = Vec::new();
    for s in services() {
        let (name, health) = (s.name.as_str(), s.health.as_str());
        let readme = format!("services/{name}/README.md");
        let text = std::fs::read_to_string(root().join(&readme)).unwrap_or_default();
        if !text.contains(&format!("GET {health}")) {
            problems.push(format!("{readme}: does not document GET {health}"));
        }
    }
    assert_none(problems);
}

#[test]
fn the_scripts_read_the_registry_instead_of_listing_services() {
    let mut problems = Vec::new();
    let all = services();
    // bench/run.sh runs each service on its port + 20000.
    for (script, offset) in [("scripts/run.sh", 0), ("bench/run.sh", 20000)] {
        let text = read(script);
        for needle in [". scripts/lib/registry.sh", "registry_services"] {
            if !text.contains(needle) {
                problems.push(format!("{script}: does not use `{needle}`"));
            }
        }
        for s in &all {
            let port = u32::from(s.port) + offset;
            if text.contains(&port.to_string()) {
                problems.push(format!(
                    "{script}: {}: port {port} written out instead of read",
                    s.name
                ));
            }
            if text.contains(&format!("-p {} ", s.name))
                || text.contains(&format!("-p {})", s.name))
            {
                problems.push(format!(
                    "{script}: {}: package listed instead of read",
                    s.name
                ));
            }
        }
    }
    assert_none(problems);
}

/// What scripts/lib/registry.sh prints for `file` ("-": `stdin`), and whether it succeeded.
fn bash_registry(file: &str, stdin: &str) -> (bool, String, String) {
    let lib = root().join("scripts/lib/registry.sh");
    let mut child = Command::new("bash")
        .args(["-c", r#". "$1" && registry_services "$2""#, "bash"])
        .arg(&lib)
        .arg(if file == "-" { "/dev/stdin" } else { file })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lines(services: &[Service]) -> String {
    services
        .iter()
        .map(|s| format!("{} {} {} {}\n", s.name, s.port, s.health, s.protocol))
        .collect()
}

#[test]
fn the_scripts_read_services_toml_as_a_toml_parser_does() {
    let file = root().join(registry::FILE);
    let (ok, out, err) = bash_registry(file.to_str().unwrap(), "");
    assert!(
        ok,
        "scripts/lib/registry.sh cannot read services.toml: {err}"
    );
    assert_eq!(
        out,
        lines(&services()),
        "scripts/lib/registry.sh and toml disagree on services.toml"
    );

    // Legal variations, read the same: comments, spacing, key order, other tables.
    let varied = "# head\n\n[[ service ]]   # first\nprotocol=\"soap\"\n  name = \"a-b\"  # n\nport =  12 # p\nhealth = \"/a/health\"\n\n[[service]]\nname = \"c\"\nport = 13\nhealth = \"/c\"\nprotocol = \"rest\"\n";
    let (ok, out, err) = bash_registry("-", varied);
    assert!(ok, "registry.sh on a varied file: {err}");
    assert_eq!(out, lines(&registry::parse(varied).unwrap()));

    // An array of inline tables is the same registry in another TOML spelling: read, not
    // skipped (the awk reader this replaced refused it).
    let inline =
        "service = [\n  { name = \"a\", port = 1, health = \"/h\", protocol = \"rest\" },\n]\n";
    let (ok, out, err) = bash_registry("-", inline);
    assert!(ok, "registry.sh on inline tables: {err}");
    assert_eq!(out, lines(&registry::parse(inline).unwrap()));

    // What is wrong is an error naming the file, not a silent skip.
    for broken in [
        "[[service]]\nname = \"a\"\nport = \"1\"\nhealth = \"/h\"\nprotocol = \"rest\"\n",
        "[[service]]\nname = \"a\"\nport = 1\nhealth = \"/h\"\n",
        "[[service]]\nname = \"a\"\nport = 1\nhealth = \"/h\"\nprotocol = \"rest\"\n[[service]]\nname = \"b\"\nport = 1\nhealth = \"/h\"\nprotocol = \"rest\"\n",
        "# no services\n",
    ] {
        let (ok, out, err) = bash_registry("-", broken);
        assert!(!ok, "registry.sh accepted:\n{broken}\nprinting {out:?}");
        assert!(
            out.is_empty() && err.starts_with("registry: /dev/stdin: "),
            "{broken}: stdout {out:?}, stderr {err:?}"
        );
    }
}
