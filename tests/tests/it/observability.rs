//! What operators load, checked the way Prometheus and Grafana will read it:
//! deploy/prometheus/ (the scrape config, the alert rules and their unit tests) with
//! `promtool` (Debian's prometheus package; `scripts/backing.sh install` installs it), the
//! Grafana dashboard's every query as PromQL through `promtool` too, and every metric the
//! rules and the dashboard name against what the code records and describes. The last test
//! scrapes five services started in-process, so the names read from the code are the names
//! /metrics really shows.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use hub_checks::{compose, read, root};
use serde_json::Value as Json;
use serde_norway::Value;

const PROMETHEUS_DIR: &str = "deploy/prometheus";
const DASHBOARD: &str = "deploy/grafana/hub-dashboard.json";

/// Runs promtool in `dir`: whether it succeeded, and what it printed. Panics with how to
/// install it when it is missing (never a silent pass).
fn run_promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool cannot run ({e}); install it with `bash scripts/backing.sh install` \
                 (Debian's prometheus package ships /usr/bin/promtool)"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// [`run_promtool`] that must succeed; returns what it printed.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = run_promtool(dir, args);
    assert!(ok, "promtool {} failed:\n{text}", args.join(" "));
    text
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: not YAML: {e}"))
}

fn dashboard() -> Json {
    serde_json::from_str(&read(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD}: not JSON: {e}"))
}

/// Every rule of alerts.yml: (alert or record name, expression, the rule itself).
fn rules() -> Vec<(String, String, Value)> {
    let doc = yaml(&format!("{PROMETHEUS_DIR}/alerts.yml"));
    let mut out = Vec::new();
    for group in doc["groups"].as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            let name = rule["alert"]
                .as_str()
                .or_else(|| rule["record"].as_str())
                .expect("every rule is an alert or a record");
            let expr = rule["expr"].as_str().expect("every rule has an expr");
            out.push((name.to_owned(), expr.to_owned(), rule.clone()));
        }
    }
    out
}

/// Every panel, rows' nested panels included.
fn panels(dash: &Json) -> Vec<&Json> {
    fn walk<'a>(list: &'a Json, out: &mut Vec<&'a Json>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    out
}

/// Every (panel title, PromQL) of the dashboard's panels.
fn panel_queries(dash: &Json) -> Vec<(String, String)> {
    panels(dash)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("?").to_owned();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (title.clone(), t["expr"].as_str().unwrap_or("").to_owned()))
        })
        .collect()
}

/// The PromQL inside each template variable's `label_values(<expr>, <label>)` query.
fn variable_queries(dash: &Json) -> Vec<(String, String)> {
    dash["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["type"] == "query")
        .filter_map(|v| {
            let q = v["query"]["query"].as_str().or(v["query"].as_str())?;
            let inner = q.strip_prefix("label_values(")?.strip_suffix(')')?;
            let (expr, _label) = inner.rsplit_once(',')?;
            Some((v["name"].as_str()?.to_owned(), expr.trim().to_owned()))
        })
        .collect()
}

/// A dashboard query as Prometheus would receive it: Grafana's interval variables become a
/// duration, every other variable (they only appear inside regex matchers) a regex.
fn as_prometheus_sees_it(expr: &str) -> String {
    let mut out = expr
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    while let Some(start) = out.find('$') {
        let rest = &out[start + 1..];
        let len = if let Some(braced) = rest.strip_prefix('{') {
            braced.find('}').map_or(rest.len(), |e| e + 2)
        } else {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len())
        };
        out.replace_range(start..start + 1 + len, ".+");
    }
    out
}

/// The metric names a PromQL expression selects: identifiers that are not functions,
/// aggregations, keywords, label names (inside `{}` or a grouping's parentheses), strings,
/// numbers or durations.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "atan2"];
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let c: Vec<char> = expr.chars().collect();
    let ident = |ch: char| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':';
    // Index just past the `close` matching the opener at `i`, skipping quoted strings.
    let skip = |mut i: usize, close: char| {
        i += 1;
        while i < c.len() && c[i] != close {
            if matches!(c[i], '"' | '\'' | '`') {
                let q = c[i];
                i += 1;
                while i < c.len() && c[i] != q {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        i + 1
    };
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '"' | '\'' | '`' => i = skip(i, c[i]),
            '{' => i = skip(i, '}'),
            '[' => i = skip(i, ']'),
            '#' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            ch if ch.is_ascii_digit()
                || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                while i < c.len() && (ident(c[i]) || c[i] == '.') {
                    i += 1;
                }
            }
            ch if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' => {
                let start = i;
                while i < c.len() && ident(c[i]) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                let mut next = i;
                while next < c.len() && c[next].is_whitespace() {
                    next += 1;
                }
                let call = c.get(next) == Some(&'(');
                if GROUPING.contains(&word.as_str()) {
                    if call {
                        i = skip(next, ')');
                    }
                } else if !call
                    && !AGGREGATIONS.contains(&word.as_str())
                    && !KEYWORDS.contains(&word.as_str())
                {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The string literal that opens the argument list of each `mac` call in `text`, where the
/// macro's name is not the tail of a longer one (`counter!(` is not `describe_counter!(`).
fn first_literals(text: &str, mac: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(mac) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == '_') {
            continue;
        }
        let rest = text[at + mac.len()..].trim_start();
        if let Some(lit) = rest.strip_prefix('"')
            && let Some(end) = lit.find('"')
        {
            out.push(lit[..end].to_owned());
        }
    }
    out
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The metrics the code exports, read from its source (the library code under crates/ and
/// services/): name → kind, for every name a `describe_*!` call gives HELP to. Panics if
/// something is recorded without HELP or described but never recorded.
fn exported_metrics() -> BTreeMap<String, &'static str> {
    let mut files = Vec::new();
    for top in ["crates", "services"] {
        for member in std::fs::read_dir(root().join(top)).unwrap().flatten() {
            let src = member.path().join("src");
            if src.is_dir() {
                rust_sources(&src, &mut files);
            }
        }
    }
    let mut described = BTreeMap::new();
    let mut recorded = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for kind in ["counter", "gauge", "histogram"] {
            for name in first_literals(&text, &format!("describe_{kind}!(")) {
                described.insert(name, kind);
            }
            recorded.extend(first_literals(&text, &format!("{kind}!(")));
        }
    }
    assert!(
        described.len() >= 15 && described.contains_key("http_requests_total"),
        "reading the describe_* calls found only {described:?}"
    );
    let undescribed = recorded.iter().filter(|n| !described.contains_key(*n));
    let unrecorded = described.keys().filter(|n| !recorded.contains(*n));
    for (what, names) in [
        (
            "recorded without HELP (describe it beside the code that records it, in a function registered with hub_metrics::describe)",
            undescribed.collect::<Vec<_>>(),
        ),
        ("described but never recorded", unrecorded.collect()),
    ] {
        assert!(names.is_empty(), "{what}: {names:?}");
    }
    described
}

/// The names a query may select: exported metrics (a histogram as its `_bucket`, `_sum`
/// and `_count` series), the rules' recorded series, and Prometheus's own `up`.
fn selectable() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = ["up".to_owned()].into();
    for (name, kind) in exported_metrics() {
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        } else {
            names.insert(name);
        }
    }
    names.extend(
        rules()
            .into_iter()
            .filter(|(_, _, r)| r["record"].is_string())
            .map(|(n, ..)| n),
    );
    names
}

#[test]
fn the_metric_name_reader_finds_exactly_the_selected_series() {
    let expr = r#"sum by (job, le) (rate(http_request_duration_seconds_bucket{route!~"/x|y", job=~"$service"}[5m] offset 1m))
        / on (job, instance) group_left (pool) instance:hub_http_requests:rate5m > 0.5e1
        and histogram_quantile(0.99, foo_seconds_bucket) or up == bool 0 unless time() - process_start_time_seconds"#;
    let want: BTreeSet<String> = [
        "http_request_duration_seconds_bucket",
        "instance:hub_http_requests:rate5m",
        "foo_seconds_bucket",
        "up",
        "process_start_time_seconds",
    ]
    .map(String::from)
    .into();
    assert_eq!(metric_names(expr), want);
    assert_eq!(
        as_prometheus_sees_it(r#"rate(x{job=~"$service", i=~"${instance}"}[$__rate_interval])"#),
        r#"rate(x{job=~".+", i=~".+"}[5m])"#
    );
}

#[test]
fn the_prometheus_config_and_alert_rules_pass_promtool() {
    let dir = root().join(PROMETHEUS_DIR);
    let out = promtool(&dir, &["check", "config", "prometheus.yml"]);
    assert!(out.contains("1 rule files found"), "{out}");
    promtool(&dir, &["check", "rules", "alerts.yml"]);

    // The dashboard and the alerts tell services apart by `job`: one job per service,
    // named as the service (its target's host).
    let config = yaml(&format!("{PROMETHEUS_DIR}/prometheus.yml"));
    for job in config["scrape_configs"].as_sequence().into_iter().flatten() {
        let name = job["job_name"].as_str().unwrap_or_default();
        for group in job["static_configs"].as_sequence().into_iter().flatten() {
            for target in group["targets"].as_sequence().into_iter().flatten() {
                let host = target.as_str().unwrap_or_default().split(':').next();
                assert_eq!(
                    host,
                    Some(name),
                    "prometheus.yml: job {name} scrapes {target:?}"
                );
            }
        }
    }
}

#[test]
fn every_alert_says_how_long_how_bad_where_and_what_to_do() {
    let mut alerts = BTreeSet::new();
    for (name, _, rule) in rules()
        .into_iter()
        .filter(|(_, _, r)| r["alert"].is_string())
    {
        assert!(rule["for"].is_string(), "{name}: no `for:`");
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description", "runbook"] {
            let text = rule["annotations"][key].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "{name}: no {key} annotation");
        }
        let summary = rule["annotations"]["summary"].as_str().unwrap();
        assert!(
            summary.contains("$labels.job"),
            "{name}: the summary names no service"
        );
        let runbook = rule["annotations"]["runbook"].as_str().unwrap();
        let anchor = format!("docs/OPERATIONS.md#{}", name.to_lowercase());
        assert!(
            runbook.starts_with(&anchor),
            "{name}: the runbook line does not start with {anchor}"
        );
        assert!(
            read("docs/OPERATIONS.md").contains(&format!("### {name}")),
            "docs/OPERATIONS.md has no section ### {name}"
        );
        alerts.insert(name);
    }
    for needed in [
        "HubServiceDown",
        "HubHighServerErrorRatio",
        "HubHighLatencyP99",
        "HubOutboxBacklog",
        "HubOutboxLag",
        "HubDeadLetters",
        "HubConsumerStalled",
        "HubDbPoolSaturated",
    ] {
        assert!(alerts.contains(needed), "alerts.yml has no {needed}");
    }
}

/// The rules' unit tests (alerts.test.yml): the error ratio fires on server errors and not
/// on SOAP 1.1 Client faults (HTTP 500 by protocol), the stalled consumer fires, and more.
#[test]
fn the_alert_rules_unit_tests_pass() {
    let tests = read(&format!("{PROMETHEUS_DIR}/alerts.test.yml"));
    for alert in ["HubHighServerErrorRatio", "HubConsumerStalled"] {
        assert!(
            tests.contains(&format!("alertname: {alert}")),
            "alerts.test.yml does not test {alert}"
        );
    }
    let out = promtool(
        &root().join(PROMETHEUS_DIR),
        &["test", "rules", "alerts.test.yml"],
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_dashboard_query_is_valid_promql() {
    let dash = dashboard();
    assert!(
        dash["schemaVersion"].as_u64().unwrap_or(0) >= 39,
        "{DASHBOARD}: schemaVersion below 39"
    );
    let service = dash["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "service")
        .expect("a $service template variable");
    assert!(
        service["query"]["query"]
            .as_str()
            .is_some_and(|q| q.ends_with(", job)")),
        "$service lists the values of the job label: {service}"
    );
    let mut queries = panel_queries(&dash);
    assert!(queries.len() >= 20, "only {} panel queries", queries.len());
    for (title, expr) in &queries {
        assert!(
            !expr.trim().is_empty(),
            "panel {title:?}: a target without expr"
        );
    }
    queries.extend(variable_queries(&dash));
    // As recording rules, so that `promtool check rules` parses every one of them.
    let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, expr)) in queries.iter().enumerate() {
        let expr = serde_json::to_string(&as_prometheus_sees_it(expr)).unwrap();
        file.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {expr}\n"
        ));
    }
    let dir = std::env::temp_dir().join(format!("hub-dashboard-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard.rules.yml"), file).unwrap();
    let (ok, out) = run_promtool(&dir, &["check", "rules", "dashboard.rules.yml"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        ok,
        "{DASHBOARD}: a query is not valid PromQL:\n{out}\n{queries:#?}"
    );
}

#[test]
fn every_metric_the_rules_and_the_dashboard_use_is_exported() {
    let known = selectable();
    let dash = dashboard();
    let mut unknown = Vec::new();
    let mut used = BTreeSet::new();
    let all = rules()
        .into_iter()
        .map(|(name, expr, _)| (format!("alerts.yml {name}"), expr))
        .chain(
            panel_queries(&dash)
                .into_iter()
                .chain(variable_queries(&dash))
                .map(|(title, expr)| (format!("{DASHBOARD} {title:?}"), expr)),
        );
    for (place, expr) in all {
        for name in metric_names(&expr) {
            if !known.contains(&name) {
                unknown.push(format!("{place}: {name}"));
            }
            used.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics no service exports:\n{}",
        unknown.join("\n")
    );
    // The dashboard covers every area the operators asked for.
    let dash_names: BTreeSet<String> = panel_queries(&dash)
        .iter()
        .flat_map(|(_, e)| metric_names(e))
        .collect();
    let missing: Vec<_> = [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_flight",
        "soap_faults_total",
        "outbox_pending",
        "outbox_oldest_pending_seconds",
        "consumer_queue_depth",
        "consumer_dead_letter_depth",
        "consumer_redeliveries_total",
        "db_pool_connections",
        "db_pool_max_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "hub_build_info",
    ]
    .into_iter()
    .filter(|n| !dash_names.contains(*n))
    .collect();
    assert!(
        missing.is_empty(),
        "{DASHBOARD}: no panel shows {missing:?}"
    );
    assert!(used.len() > 15, "{used:?}");
}

#[test]
fn compose_loads_the_rules_and_the_dashboard() {
    let doc = compose();
    let services = &doc["services"];
    let mounts = |svc: &str| -> Vec<(String, String)> {
        services[svc]["volumes"]
            .as_sequence()
            .unwrap_or_else(|| panic!("docker-compose.yml: {svc} mounts nothing"))
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|v| {
                let mut parts = v.split(':');
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            })
            .collect()
    };
    for svc in ["prometheus", "grafana"] {
        let entry = &services[svc];
        assert_eq!(
            entry["profiles"][0].as_str(),
            Some("observability"),
            "{svc}: profile"
        );
        let image = entry["image"].as_str().unwrap_or_default();
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
        assert!(
            tag.chars().any(|c| c.is_ascii_digit()) && tag != "latest",
            "{svc}: image pinned to a version, got {image}"
        );
        for (host, _) in mounts(svc) {
            assert!(
                root().join(&host).exists(),
                "docker-compose.yml: {svc} mounts {host}, which does not exist"
            );
        }
    }
    // prometheus.yml names its rule files relative to itself: they must be mounted there.
    let prom = mounts("prometheus");
    let config_at = prom
        .iter()
        .find(|(h, _)| h.ends_with("prometheus/prometheus.yml"))
        .map(|(_, c)| c.clone())
        .expect("prometheus mounts deploy/prometheus/prometheus.yml");
    let config_dir = Path::new(&config_at).parent().unwrap();
    let config = yaml(&format!("{PROMETHEUS_DIR}/prometheus.yml"));
    for rule_file in config["rule_files"].as_sequence().into_iter().flatten() {
        let rule_file = rule_file.as_str().unwrap();
        let want = config_dir.join(rule_file);
        assert!(
            prom.iter().any(|(_, c)| Path::new(c) == want),
            "prometheus: {rule_file} is not mounted at {}",
            want.display()
        );
    }
    // Grafana: the provisioning folder, and the dashboard where the provider looks.
    let graf = mounts("grafana");
    assert!(
        graf.iter()
            .any(|(h, c)| h == "./deploy/grafana/provisioning" && c == "/etc/grafana/provisioning"),
        "grafana: provisioning not mounted: {graf:?}"
    );
    let provider = yaml("deploy/grafana/provisioning/dashboards/hub.yml");
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .expect("a dashboard provider with a path");
    assert!(
        graf.iter().any(|(h, c)| h.ends_with("hub-dashboard.json")
            && Path::new(c).parent() == Some(Path::new(path))),
        "grafana: hub-dashboard.json is not mounted under the provider's path {path}"
    );
}

/// Names read from the code are the names /metrics shows, each with the HELP text its
/// crate gives, and the gauges the alerts need (the DLQ depth, the pool limit) are
/// exported from the start.
#[tokio::test]
async fn the_services_export_what_the_code_describes() {
    let system = hub_checks::system::start().await;
    let http = &system.http;
    // One SOAP Client fault, so soap_faults_total has a series.
    let fault = system.register("<not-an-envelope/>").await;
    assert_eq!(fault.status(), 500, "a SOAP 1.1 Client fault is HTTP 500");
    // The services run in this one process, so they share one recorder.
    let url = format!("http://{}/metrics", system.auth);
    let text = hub_testkit::eventually(Duration::from_secs(20), async || {
        let text = http
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let missing: Vec<_> = [
            "consumer_dead_letter_depth{",
            "db_pool_max_connections{",
            "outbox_oldest_pending_seconds",
            "soap_faults_total{code=\"Client\"}",
        ]
        .into_iter()
        .filter(|family| !text.lines().any(|l| l.starts_with(family)))
        .collect();
        if missing.is_empty() {
            Ok(text)
        } else {
            Err(format!("/metrics lacks {missing:?}"))
        }
    })
    .await;
    let exported = exported_metrics();
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert!(families.len() >= 15, "{text}");
    for family in families {
        assert!(
            exported.contains_key(family),
            "/metrics shows {family}, which the code's describe_* calls do not name:\n{text}"
        );
        // Each crate registers its descriptions where it starts recording: they reach the
        // recorder before the first scrape that shows the metric.
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {family} "))),
            "/metrics shows {family} without HELP:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("db_pool_max_connections{") && l.ends_with(" 10")),
        "the pool limit (DB_MAX_CONNECTIONS default 10):\n{text}"
    );
}
