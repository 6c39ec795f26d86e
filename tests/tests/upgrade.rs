//! Rolling upgrade under load, from the previous release to this checkout, and the
//! rollback (docs/RELIABILITY.md, "Rolling upgrade"; the rules in docs/ARCHITECTURE.md,
//! "Upgrades"). On the cluster stack (scripts/cluster.sh: HAProxy in front of two
//! instances of every service, Patroni PostgreSQL, a MongoDB replica set, a RabbitMQ
//! cluster), under the chaos run's mixed load (`hub_checks::load`):
//!
//! 1. every service runs on two instances of the previous release, which migrates the
//!    run's own database to its schema;
//! 2. one instance at a time, service after service (the consumers of events first, the
//!    producers, auth and user-soap, last), an old instance gets SIGTERM (it drains), exits
//!    0, and this checkout's binary starts on its port (and migrates the schema further,
//!    expand only); HAProxy sees it up before the next one goes;
//! 3. the same back, in the reverse order: every instance again the previous release's,
//!    on the expanded schema (the previous release ignores the migrations it does not
//!    know);
//! 4. against the servers: every acknowledged registration is a row and has its event in
//!    the queue, every acknowledged login's event was recorded once by a session
//!    consumer (old or new, whichever took it), every acknowledged session write is stored,
//!    every acknowledged upload is served, nothing was dead-lettered; a request fails only
//!    inside a drain window (SIGTERM until the replacement is up, plus `GRACE`).
//!
//! "The previous release" is the newest release of deploy/RELEASES.toml whose commit is a
//! proper ancestor of HEAD (`UPGRADE_FROM=vX.Y.Z` names another). Its debug binaries are
//! built once from its commit (a detached worktree under
//! `~/.cache/hub-ci/releases/<commit>`, `HUB_RELEASE_CACHE` for another root), sharing
//! this build's target directory so the dependencies are reused, and kept there.
//! `UPGRADE_BUILD_ONLY=1` builds (or finds) them and stops before the cluster.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use hub_checks::load::{
    ClusterGuard, Instances, Ledger, OFFSETS, Sample, client, cluster, cluster_env, proxy_up,
};
use hub_testkit::{eventually, service_binary};
use mongodb::bson::{Bson, Document, doc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{Connection as _, PgConnection};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// After a replacement is up, errors still count as its drain's for this long.
const GRACE: Duration = Duration::from_secs(2);
/// Load between two swaps, and before and after each rollout.
const CALM: Duration = Duration::from_secs(2);
/// How long an instance may take to drain and exit after SIGTERM.
const DRAIN: Duration = Duration::from_secs(30);
/// The services that publish events; the others (consumers among them) roll out first.
const PRODUCERS: [&str; 2] = ["auth", "user-soap"];

#[derive(Deserialize)]
struct Releases {
    release: Vec<Release>,
}

#[derive(Deserialize)]
struct Release {
    version: String,
    commit: String,
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git")
}

/// The release to upgrade from: `UPGRADE_FROM`, else the newest listed release whose
/// commit is a proper ancestor of HEAD.
fn previous_release() -> Release {
    let root = hub_checks::root();
    let text = hub_checks::read("deploy/RELEASES.toml");
    let releases: Releases =
        toml::from_str(&text).unwrap_or_else(|e| panic!("deploy/RELEASES.toml: {e}"));
    let head = String::from_utf8(git(&root, &["rev-parse", "HEAD"]).stdout).unwrap();
    let head = head.trim();
    if let Ok(version) = std::env::var("UPGRADE_FROM") {
        return releases
            .release
            .into_iter()
            .find(|r| r.version == version)
            .unwrap_or_else(|| panic!("UPGRADE_FROM={version}: not in deploy/RELEASES.toml"));
    }
    for r in releases.release.into_iter().rev() {
        if r.commit == head {
            continue;
        }
        let out = git(&root, &["merge-base", "--is-ancestor", &r.commit, "HEAD"]);
        match out.status.code() {
            Some(0) => return r,
            Some(1) => {}
            _ => panic!(
                "{} ({}) is not in this clone ({}): fetch it, e.g. `git fetch --unshallow` or `git fetch origin {}`",
                r.version,
                r.commit,
                String::from_utf8_lossy(&out.stderr).trim(),
                r.commit
            ),
        }
    }
    panic!("deploy/RELEASES.toml lists no release that is a proper ancestor of HEAD ({head})");
}

/// Copies `from` to `to` through a temporary name, so `to` is never half written.
fn copy_over(from: &Path, to: &Path) {
    let tmp = to.with_extension("upgrade-tmp");
    std::fs::copy(from, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    std::fs::rename(&tmp, to).unwrap();
}

/// The previous release's service binaries, by service name: built from its commit into
/// the cache unless they are there already. Its services are those of its own
/// services.toml.
fn release_binaries(release: &Release) -> HashMap<String, String> {
    let cache = std::env::var_os("HUB_RELEASE_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/hub-ci/releases"),
        PathBuf::from,
    );
    let dir = cache.join(&release.commit);
    let src = dir.join("src");
    let bin = dir.join("bin");
    let root = hub_checks::root();
    if !src.join("services.toml").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let _ = git(&root, &["worktree", "prune"]);
        let out = git(
            &root,
            &[
                "worktree",
                "add",
                "--detach",
                src.to_str().unwrap(),
                &release.commit,
            ],
        );
        assert!(
            out.status.success(),
            "git worktree add {}: {}",
            release.commit,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let registry = std::fs::read_to_string(src.join("services.toml")).unwrap();
    let names: Vec<String> = hub_checks::registry::parse(&registry)
        .unwrap_or_else(|e| panic!("{}'s services.toml: {e}", release.version))
        .into_iter()
        .map(|s| s.name)
        .collect();
    let paths: HashMap<String, String> = names
        .iter()
        .map(|n| (n.clone(), bin.join(n).to_string_lossy().into_owned()))
        .collect();
    if paths.values().all(|p| Path::new(p).exists()) {
        eprintln!(
            "upgrade: {} ({}) binaries cached in {}",
            release.version,
            &release.commit[..7],
            bin.display()
        );
        return paths;
    }
    // This build's binaries: target/debug/<name>. Building the release in the same
    // target directory reuses the dependencies, but cargo links the release's binaries
    // to the same paths (the services, hub-db's `migrate`, ...), so every executable
    // there is set aside and put back afterwards.
    let debug = PathBuf::from(service_binary("auth"))
        .parent()
        .unwrap()
        .to_path_buf();
    let target = debug.parent().unwrap().to_path_buf();
    let ours: Vec<String> = std::fs::read_dir(&debug)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            use std::os::unix::fs::PermissionsExt as _;
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains('.'))
        .collect();
    let aside = dir.join(format!("head-{}", std::process::id()));
    std::fs::create_dir_all(&aside).unwrap();
    for n in &ours {
        copy_over(&debug.join(n), &aside.join(n));
    }
    eprintln!(
        "upgrade: building {} ({}) in {} (debug, target dir {}) ...",
        release.version,
        &release.commit[..7],
        src.display(),
        target.display()
    );
    let t = Instant::now();
    let status = Command::new("cargo")
        .current_dir(&src)
        .args(["build", "--locked", "--workspace", "--bins"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo");
    let took = t.elapsed();
    std::fs::create_dir_all(&bin).unwrap();
    let built = status.success();
    if built {
        for n in &names {
            copy_over(&debug.join(n), &bin.join(n));
        }
    }
    for n in &ours {
        copy_over(&aside.join(n), &debug.join(n));
    }
    let _ = std::fs::remove_dir_all(&aside);
    assert!(built, "cargo build of {} failed", release.version);
    eprintln!(
        "upgrade: built {} in {:.0} s; binaries in {}",
        release.version,
        took.as_secs_f64(),
        bin.display()
    );
    paths
}

/// One instance replaced: when its SIGTERM went and when HAProxy saw the next one up.
struct Swap {
    name: String,
    start: Duration,
    restored: Duration,
    drained: Duration,
}

/// SIGTERM to instance `i` of `set`, a clean exit once it drained, then `bin` on its port.
async fn swap(
    set: &mut Instances,
    i: usize,
    bin: &str,
    label: &str,
    http: &reqwest::Client,
    stats: &str,
    t0: Instant,
) -> Swap {
    let start = t0.elapsed();
    set.procs[i].signal("TERM");
    let code = set.procs[i].wait_exit(DRAIN).await;
    let drained = t0.elapsed() - start;
    assert_eq!(
        code,
        Some(0),
        "{}-{} did not exit cleanly after SIGTERM: {}",
        set.name,
        i + 1,
        set.procs[i].log()
    );
    let fresh = set.start_with(i, bin).await;
    let old = std::mem::replace(&mut set.procs[i], fresh);
    set.dead_logs.push(old.log());
    drop(old);
    proxy_up(http, stats, &set.name, &format!("{}-{}", set.name, i + 1)).await;
    let restored = t0.elapsed();
    tokio::time::sleep(CALM).await;
    Swap {
        name: format!("{} {}-{}", label, set.name, i + 1),
        start,
        restored,
        drained,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_upgrade_and_rollback_under_load_lose_nothing() {
    let run_started = Instant::now();
    let release = previous_release();
    eprintln!(
        "upgrade: from {} ({}) to HEAD",
        release.version,
        &release.commit[..7]
    );
    let t = Instant::now();
    let old_bins = release_binaries(&release);
    let build_took = t.elapsed();
    if std::env::var_os("UPGRADE_BUILD_ONLY").is_some() {
        return;
    }
    let clients: usize = std::env::var("CHAOS_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);

    // The cluster, as the chaos run starts it.
    cluster(&["install"]);
    let was_up = Command::new("bash")
        .arg(hub_checks::root().join("scripts/cluster.sh"))
        .arg("status")
        .output()
        .expect("cluster.sh status")
        .status
        .success();
    let _guard = ClusterGuard {
        stop: !was_up && std::env::var("CHAOS_KEEP_CLUSTER").is_err(),
    };
    cluster(&["up"]);
    let env = cluster_env();
    let stats = env["CLUSTER_HAPROXY_STATS"].clone();

    let admin_url = &env["DATABASE_URL"];
    let db = format!("test_upgrade_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let db_url = format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0);
    let auth_queue = hub_testkit::queue_name("upgrade-auth");
    let user_queue = hub_testkit::queue_name("upgrade-user");
    let mongo_db = hub_testkit::mongo_database("upgrade");
    let bucket = hub_testkit::bucket_name("upgrade");
    let secret = format!("upgrade-secret-{}", Uuid::new_v4().simple());
    let mut common: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("CLUSTER_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in [
        ("DATABASE_URL", db_url.as_str()),
        ("MONGODB_DATABASE", &mongo_db),
        ("SECRET_KEY", &secret),
        ("AWS_BUCKET_NAME", &bucket),
        ("PASSWORD_PBKDF2_ITERATIONS", "20000"),
        // Cheap Argon2id too (the default writer after v0.3.0), as every other test runs it.
        ("PASSWORD_ARGON2_MEMORY_KIB", "1024"),
        ("PASSWORD_ARGON2_ITERATIONS", "1"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("REGISTER_MAX_PER_ADDRESS", "1000000000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000"),
        ("OUTBOX_POLL_MS", "200"),
        ("RUST_LOG", "warn"),
    ] {
        common.retain(|(key, _)| key != k);
        common.push((k.to_owned(), v.to_owned()));
    }

    // Two instances of every service, the previous release's where it has the service.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut services: Vec<Instances> = Vec::new();
    for svc in hub_checks::services() {
        for off in OFFSETS {
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", svc.port + off)).is_ok(),
                "port {} (an instance of {}) is taken: is `scripts/cluster.sh services up` running?",
                svc.port + off,
                svc.name
            );
        }
        let mut env = common.clone();
        match svc.name.as_str() {
            "user-soap" => env.push(("RABBITMQ_QUEUE".into(), user_queue.clone())),
            "auth" | "session" => env.push(("RABBITMQ_QUEUE".into(), auth_queue.clone())),
            _ => {}
        }
        let mut set = Instances {
            name: svc.name.clone(),
            port: svc.port,
            health: svc.health.clone(),
            env,
            procs: Vec::new(),
            dead_logs: Vec::new(),
        };
        let old = old_bins
            .get(&svc.name)
            .cloned()
            .unwrap_or_else(|| service_binary(&svc.name));
        for i in 0..OFFSETS.len() {
            let p = set.start_with(i, &old).await;
            set.procs.push(p);
        }
        for i in 1..=OFFSETS.len() {
            proxy_up(&http, &stats, &svc.name, &format!("{}-{i}", svc.name)).await;
        }
        services.push(set);
    }
    eprintln!(
        "upgrade: {} instances of {} ready after {:.1} s",
        services.len() * OFFSETS.len(),
        release.version,
        run_started.elapsed().as_secs_f64()
    );

    // The load, then the rollout and the rollback, one instance at a time.
    let ledger = Arc::new(Ledger::default());
    let t0 = Instant::now();
    let stop = CancellationToken::new();
    let load: Vec<_> = (0..clients)
        .map(|c| {
            tokio::spawn(client(
                c,
                http.clone(),
                Arc::clone(&ledger),
                t0,
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(CALM * 2).await;
    let mut marks = vec![("old (previous release)", Duration::ZERO)];
    let mut swaps = Vec::new();
    // Consumers before producers (docs/ARCHITECTURE.md, "Upgrades"): no old consumer is
    // left when the first new producer writes; the rollback in the reverse order.
    services.sort_by_key(|s| PRODUCERS.contains(&s.name.as_str()));
    marks.push(("rolling upgrade", t0.elapsed()));
    for set in &mut services {
        let new = service_binary(&set.name);
        for i in 0..OFFSETS.len() {
            swaps.push(swap(set, i, &new, "upgrade", &http, &stats, t0).await);
        }
    }
    marks.push(("new (this checkout)", t0.elapsed()));
    tokio::time::sleep(CALM * 2).await;
    marks.push(("rollback", t0.elapsed()));
    for set in services.iter_mut().rev() {
        let Some(old) = old_bins.get(&set.name).cloned() else {
            continue;
        };
        for i in 0..OFFSETS.len() {
            swaps.push(swap(set, i, &old, "rollback", &http, &stats, t0).await);
        }
    }
    marks.push(("old again", t0.elapsed()));
    tokio::time::sleep(CALM * 2).await;
    stop.cancel();
    for c in load {
        c.await.unwrap();
    }
    let load_end = t0.elapsed();

    // ---- verification against the servers --------------------------------------------
    let samples = std::mem::take(&mut *ledger.samples.lock().unwrap());
    let registered = ledger.registered.lock().unwrap().clone();
    let logins = ledger.logins.lock().unwrap().clone();
    let session_writes = ledger.session_writes.lock().unwrap().clone();
    let uploads = ledger.uploads.lock().unwrap().clone();

    let mut conn = PgConnection::connect(&db_url).await.unwrap();
    let users: HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>(r#"SELECT id::text, username FROM "user""#)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let missing_users = registered
        .iter()
        .filter(|(name, id)| users.get(id) != Some(name))
        .count();
    hub_testkit::wait_outbox_drained(&db_url, Duration::from_secs(120)).await;
    let outbox: Vec<(String, String, String)> =
        sqlx::query_as("SELECT message_id::text, event, body FROM outbox")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let published = hub_testkit::take_messages_from(&env["AMQP_URL"], &user_queue).await;
    let delivered: HashSet<String> = published
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    let event_data = |event: &str, key: &str| -> Vec<(String, String)> {
        outbox
            .iter()
            .filter(|(_, e, _)| e == event)
            .map(|(mid, _, body)| {
                let v: Value = serde_json::from_str(body).unwrap();
                (mid.clone(), v["data"][key].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let registered_events = event_data("UserRegistered", "id");
    let lost_registered_events = registered_events
        .iter()
        .filter(|(mid, _)| !delivered.contains(mid))
        .count();
    let registered_ids: HashSet<&String> = registered_events.iter().map(|(_, id)| id).collect();
    let registered_without_event = registered
        .iter()
        .filter(|(_, id)| !registered_ids.contains(id))
        .count();
    let login_events = event_data("UserLoggedIn", "user_id");
    let login_ids: HashSet<&String> = login_events.iter().map(|(_, id)| id).collect();
    let logins_without_event = logins.iter().filter(|u| !login_ids.contains(u)).count();

    let mongo = mongodb::Client::with_uri_str(&env["MONGODB_URI"])
        .await
        .unwrap();
    let sessions = mongo.database(&mongo_db).collection::<Document>("sessions");
    let times = |d: &Document, mid: &str| -> usize {
        d.get_array("loginEventIds")
            .map(|ids| ids.iter().filter(|b| b.as_str() == Some(mid)).count())
            .unwrap_or(0)
    };
    let docs = eventually(Duration::from_secs(120), async || {
        let mut docs = HashMap::new();
        let mut cursor = sessions.find(doc! {}).await.unwrap();
        while cursor.advance().await.unwrap() {
            let d = cursor.deserialize_current().unwrap();
            docs.insert(d.get_str("userId").unwrap_or_default().to_owned(), d);
        }
        let pending = login_events
            .iter()
            .filter(|(mid, user)| docs.get(user).is_none_or(|d| times(d, mid) == 0))
            .count();
        if pending == 0 {
            Ok(docs)
        } else {
            Err(format!(
                "{pending} of {} login events not recorded",
                login_events.len()
            ))
        }
    })
    .await;
    let recorded_twice = login_events
        .iter()
        .filter(|(mid, user)| times(&docs[user], mid) > 1)
        .count();
    let dead_letters =
        hub_testkit::take_messages_from(&env["AMQP_URL"], &format!("{auth_queue}.dlq")).await;
    let lost_session_writes = session_writes
        .iter()
        .filter(|(user, mark)| {
            docs.get(user)
                .and_then(|d| d.get_document("data").ok())
                .and_then(|data| data.get("mark"))
                != Some(&Bson::String(mark.clone()))
        })
        .count();
    let mut lost_uploads = 0;
    for url in &uploads {
        if !http.get(url).send().await.is_ok_and(|r| r.status() == 200) {
            lost_uploads += 1;
        }
    }

    // ---- figures -----------------------------------------------------------------------
    let in_window = |s: &Sample| {
        swaps
            .iter()
            .any(|w| s.end >= w.start && s.end <= w.restored + GRACE)
    };
    let outside: Vec<&Sample> = samples.iter().filter(|s| !s.ok && !in_window(s)).collect();
    let mut report = vec![format!(
        "from {} ({}) to HEAD and back: {clients} clients, {:.0} s of load, {} requests, {} swaps; previous release's binaries ready in {:.1} s",
        release.version,
        &release.commit[..7],
        load_end.as_secs_f64(),
        samples.len(),
        swaps.len(),
        build_took.as_secs_f64()
    )];
    report.push("requests by status per phase:".into());
    for (k, (name, from)) in marks.iter().enumerate() {
        let to = marks.get(k + 1).map_or(load_end, |m| m.1);
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for s in samples.iter().filter(|s| s.start >= *from && s.start < to) {
            *by.entry(s.outcome.clone()).or_default() += 1;
        }
        let by: Vec<String> = by.iter().map(|(o, n)| format!("{o}: {n}")).collect();
        report.push(format!(
            "  {name:<24} {:>6.1}-{:<6.1} {}",
            from.as_secs_f64(),
            to.as_secs_f64(),
            by.join(", ")
        ));
    }
    report.push(format!(
        "  {:<30} {:>13} {:>9} {:>8} {:>7}",
        "drain window", "s", "drain s", "requests", "errors"
    ));
    for w in &swaps {
        let until = w.restored + GRACE;
        let during = samples
            .iter()
            .filter(|s| s.start >= w.start && s.start < until)
            .count();
        let errors = samples
            .iter()
            .filter(|s| !s.ok && s.end >= w.start && s.end <= until)
            .count();
        report.push(format!(
            "  {:<30} {:>6.1}-{:<6.1} {:>9.2} {:>8} {:>7}",
            w.name,
            w.start.as_secs_f64(),
            until.as_secs_f64(),
            w.drained.as_secs_f64(),
            during,
            errors
        ));
    }
    let mut by_outcome: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.ok) {
        *by_outcome
            .entry((s.endpoint, s.outcome.as_str()))
            .or_default() += 1;
    }
    for ((endpoint, outcome), n) in &by_outcome {
        report.push(format!("  errors: {endpoint} {outcome}: {n}"));
    }
    report.push(format!(
        "registrations acknowledged {}, missing {missing_users}; UserRegistered events {}, not in the queue {lost_registered_events}, acknowledged without an event {registered_without_event}",
        registered.len(),
        registered_events.len(),
    ));
    report.push(format!(
        "logins acknowledged {}, UserLoggedIn events {}, recorded {}, twice {recorded_twice}, without an event {logins_without_event}, dead letters {}",
        logins.len(),
        login_events.len(),
        login_events.len() - recorded_twice,
        dead_letters.len()
    ));
    report.push(format!(
        "session writes acknowledged {}, missing {lost_session_writes}; uploads acknowledged {}, missing {lost_uploads}; errors outside every drain window {}",
        session_writes.len(),
        uploads.len(),
        outside.len()
    ));
    report.push(format!(
        "whole run {:.0} s; reproduce: eval \"$(scripts/backing.sh env)\"; flock /work/targets/cluster.lock cargo nextest run --workspace -E 'binary(upgrade)' --no-capture",
        run_started.elapsed().as_secs_f64()
    ));
    for line in &report {
        eprintln!("upgrade: {line}");
    }
    let state = PathBuf::from(&env["CLUSTER_STATE_DIR"]);
    let _ = std::fs::write(state.join("upgrade-report.txt"), report.join("\n") + "\n");

    // ---- promises ----------------------------------------------------------------------
    assert_eq!(missing_users, 0, "acknowledged registrations lost");
    assert_eq!(
        lost_registered_events + registered_without_event,
        0,
        "registration events lost"
    );
    assert_eq!(
        logins_without_event, 0,
        "an acknowledged login has no event"
    );
    assert_eq!(recorded_twice, 0, "a login event applied twice");
    assert!(dead_letters.is_empty(), "dead letters: {dead_letters:?}");
    assert_eq!(lost_session_writes, 0, "acknowledged session writes lost");
    assert_eq!(lost_uploads, 0, "acknowledged uploads lost");
    assert!(
        outside.is_empty(),
        "errors outside every drain window: {:?}",
        outside
            .iter()
            .map(|s| format!(
                "{} at {:.2} s: {}",
                s.endpoint,
                s.end.as_secs_f64(),
                s.outcome
            ))
            .collect::<Vec<_>>()
    );
    assert!(
        !registered.is_empty() && !session_writes.is_empty() && !uploads.is_empty(),
        "the load acknowledged nothing"
    );

    drop(services);
    hub_testkit::take_messages_from(&env["AMQP_URL"], &auth_queue).await;
    let _ = mongo.database(&mongo_db).drop().await;
    drop(conn);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
}
