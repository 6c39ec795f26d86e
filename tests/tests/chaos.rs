//! Chaos run on the cluster stack (scripts/cluster.sh; docs/SCALING.md): two instances
//! of every service behind HAProxy on the historical ports, against a Patroni-managed
//! PostgreSQL pair, a three-member MongoDB replica set and a three-node RabbitMQ cluster
//! with quorum queues. Under mixed load (register, log in, look up, write a session, read
//! the last connection, upload an avatar) through the proxy, it breaks one thing at a
//! time and restores it: SIGKILL of one instance of each service, a SIGKILL of the
//! MongoDB primary, a stopped RabbitMQ node (the one leading the login events' queue), a
//! Patroni failover of the PostgreSQL primary. Then it checks against the servers:
//! every acknowledged registration is in PostgreSQL, every event reached RabbitMQ and
//! was recorded once after deduplication (duplicates counted), every acknowledged session
//! write is in MongoDB, every acknowledged upload is in S3, and no instance but the
//! killed ones was restarted. Errors are allowed only inside a fault's window (from the
//! fault until it is restored, plus `GRACE`); it prints the figures per fault.
//!
//! It installs and starts the cluster itself (`scripts/cluster.sh install`, `up`), and
//! stops it afterwards if it was not running before (`CHAOS_KEEP_CLUSTER=1` keeps it).
//! It binds the historical ports (HAProxy) and stops cluster members, so scripts/test.sh
//! runs it alone, after the parallel tests. `CHAOS_CLIENTS` (default 6) sets the load.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use hub_checks::load::{
    ClusterGuard, Instances, Ledger, OFFSETS, Sample, client, cluster, cluster_async, cluster_env,
    p99, proxy_up,
};
use hub_checks::root;
use hub_testkit::{ServiceProcess, eventually};
use mongodb::bson::{Bson, Document, doc};
use serde_json::Value;
use sqlx::{Connection as _, PgConnection};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// After a fault is restored, errors still count as the fault's for this long (requests
/// that were already failing, a proxy check that has not yet passed twice).
const GRACE: Duration = Duration::from_secs(2);
/// Load with nothing broken between two faults.
const CALM: Duration = Duration::from_secs(3);
/// Load while a service runs on one instance / a cluster member is down.
const HOLD: Duration = Duration::from_secs(3);
/// What the session consumer logs (at debug) when it skips an event it already applied.
const DUPLICATE_LOG: &str = "login event already applied";

/// A fault: when it was injected and when it was restored.
struct Phase {
    name: String,
    start: Duration,
    restored: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_on_every_tier_under_load_lose_no_acknowledged_write_or_event() {
    let clients: usize = std::env::var("CHAOS_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let run_started = Instant::now();

    // The cluster: installed (a no-op once done) and started by the run itself.
    let t = Instant::now();
    cluster(&["install"]);
    let install_took = t.elapsed();
    let was_up = Command::new("bash")
        .arg(root().join("scripts/cluster.sh"))
        .arg("status")
        .output()
        .expect("cluster.sh status")
        .status
        .success();
    let _guard = ClusterGuard {
        stop: !was_up && std::env::var("CHAOS_KEEP_CLUSTER").is_err(),
    };
    let t = Instant::now();
    cluster(&["up"]);
    let up_took = t.elapsed();
    let env = cluster_env();
    let stats = env["CLUSTER_HAPROXY_STATS"].clone();

    // This run's own database, queues, MongoDB database and bucket on the cluster.
    let admin_url = &env["DATABASE_URL"];
    let db = format!("test_chaos_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let db_url = format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0);
    let auth_queue = hub_testkit::queue_name("chaos-auth");
    let user_queue = hub_testkit::queue_name("chaos-user");
    let mongo_db = hub_testkit::mongo_database("chaos");
    let bucket = hub_testkit::bucket_name("chaos");
    let secret = format!("chaos-secret-{}", Uuid::new_v4().simple());
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
        // Every client comes from 127.0.0.1 through the proxy.
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("REGISTER_MAX_PER_ADDRESS", "1000000000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000"),
        ("OUTBOX_POLL_MS", "200"),
        ("RUST_LOG", "warn,session::events=debug"),
    ] {
        common.retain(|(key, _)| key != k);
        common.push((k.to_owned(), v.to_owned()));
    }

    // Two instances of each service on the proxy's backend ports.
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
        let queue = match svc.name.as_str() {
            "user-soap" => Some(&user_queue),
            "auth" | "session" => Some(&auth_queue),
            _ => None,
        };
        let mut env = common.clone();
        if let Some(q) = queue {
            env.push(("RABBITMQ_QUEUE".into(), q.clone()));
        }
        let mut set = Instances {
            name: svc.name.clone(),
            port: svc.port,
            health: svc.health.clone(),
            env,
            procs: Vec::new(),
            dead_logs: Vec::new(),
        };
        for i in 0..OFFSETS.len() {
            let p = set.start_one(i).await;
            set.procs.push(p);
        }
        for i in 1..=OFFSETS.len() {
            proxy_up(&http, &stats, &svc.name, &format!("{}-{i}", svc.name)).await;
        }
        services.push(set);
    }
    eprintln!(
        "chaos: cluster install {:.1} s, up {:.1} s; 12 instances ready after {:.1} s",
        install_took.as_secs_f64(),
        up_took.as_secs_f64(),
        run_started.elapsed().as_secs_f64()
    );

    // The load, through the proxy, for the whole run.
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
    let mut phases: Vec<Phase> = Vec::new();
    tokio::time::sleep(CALM * 2).await; // baseline
    let baseline_end = t0.elapsed();

    // 1. One instance of each service, SIGKILLed, then started again.
    for set in &mut services {
        let start = t0.elapsed();
        set.procs[0].signal("KILL");
        set.procs[0].wait_exit(Duration::from_secs(10)).await;
        tokio::time::sleep(HOLD).await;
        let fresh = set.start_one(0).await;
        let dead = std::mem::replace(&mut set.procs[0], fresh);
        set.dead_logs.push(dead.log());
        drop(dead);
        proxy_up(&http, &stats, &set.name, &format!("{}-1", set.name)).await;
        let restored = t0.elapsed();
        tokio::time::sleep(CALM).await;
        phases.push(Phase {
            name: format!("SIGKILL {}-1", set.name),
            start,
            restored,
        });
    }

    // 2. The MongoDB primary, SIGKILLed; `up` restarts it and it rejoins as a secondary.
    // 3. The RabbitMQ node leading the login events' queue, stopped; `up` restarts it.
    // 4. PostgreSQL: Patroni fails the primary over; `up` waits for the old one to follow.
    let faults = [
        (
            "MongoDB primary SIGKILL",
            vec!["mongo-kill-primary".to_owned()],
        ),
        (
            "RabbitMQ node stop",
            vec!["rabbit-stop".to_owned(), auth_queue.clone()],
        ),
        ("PostgreSQL failover", vec!["pg-failover".to_owned()]),
    ];
    for (name, args) in faults {
        let start = t0.elapsed();
        let said = cluster_async(args).await;
        if name.starts_with("RabbitMQ") {
            assert!(
                said.contains("leader of the quorum queue"),
                "the login events' queue is not a quorum queue: {said}"
            );
        }
        tokio::time::sleep(HOLD).await;
        cluster_async(vec!["up".to_owned()]).await;
        let restored = t0.elapsed();
        tokio::time::sleep(CALM).await;
        phases.push(Phase {
            name: name.into(),
            start,
            restored,
        });
    }
    stop.cancel();
    for c in load {
        c.await.unwrap();
    }
    let load_secs = t0.elapsed().as_secs_f64();

    // ---- verification against the servers --------------------------------------------
    let samples = std::mem::take(&mut *ledger.samples.lock().unwrap());
    let registered = ledger.registered.lock().unwrap().clone();
    let logins = ledger.logins.lock().unwrap().clone();
    let session_writes = ledger.session_writes.lock().unwrap().clone();
    let uploads = ledger.uploads.lock().unwrap().clone();

    // Registrations: every acknowledged one is a row.
    let mut conn = PgConnection::connect(&db_url).await.unwrap();
    let users: HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>(r#"SELECT id::text, username FROM "user""#)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let missing_users: Vec<_> = registered
        .iter()
        .filter(|(name, id)| users.get(id) != Some(name))
        .collect();

    // Events: every outbox row confirmed by the broker ...
    hub_testkit::wait_outbox_drained(&db_url, Duration::from_secs(120)).await;
    let outbox: Vec<(String, String, String)> =
        sqlx::query_as("SELECT message_id::text, event, body FROM outbox")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    // ... the registrations' events all in their queue, duplicates counted ...
    let published = hub_testkit::take_messages_from(&env["AMQP_URL"], &user_queue).await;
    let mut deliveries: HashMap<String, usize> = HashMap::new();
    for m in &published {
        *deliveries
            .entry(m.message_id.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let registered_events: Vec<&(String, String, String)> = outbox
        .iter()
        .filter(|(_, event, _)| event == "UserRegistered")
        .collect();
    let lost_registered: Vec<_> = registered_events
        .iter()
        .filter(|(id, _, _)| !deliveries.contains_key(id))
        .collect();
    let registered_duplicates = published.len() - deliveries.len();
    let event_user_ids: HashSet<String> = registered_events
        .iter()
        .filter_map(|(_, _, body)| {
            let v: Value = serde_json::from_str(body).ok()?;
            Some(v["data"]["id"].as_str()?.to_owned())
        })
        .collect();
    let acknowledged_without_event: Vec<_> = registered
        .iter()
        .filter(|(_, id)| !event_user_ids.contains(id))
        .collect();

    // ... and every login recorded by the session consumer, once.
    let login_events: Vec<(String, String)> = outbox
        .iter()
        .filter(|(_, event, _)| event == "UserLoggedIn")
        .map(|(mid, _, body)| {
            let v: Value = serde_json::from_str(body).unwrap();
            (
                mid.clone(),
                v["data"]["user_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mongo = mongodb::Client::with_uri_str(&env["MONGODB_URI"])
        .await
        .unwrap();
    let sessions = mongo.database(&mongo_db).collection::<Document>("sessions");
    let read_sessions = async || -> HashMap<String, Document> {
        let mut out = HashMap::new();
        let mut cursor = sessions.find(doc! {}).await.unwrap();
        while cursor.advance().await.unwrap() {
            let d = cursor.deserialize_current().unwrap();
            out.insert(d.get_str("userId").unwrap_or_default().to_owned(), d);
        }
        out
    };
    let recorded_times = |d: &Document, mid: &str| -> usize {
        d.get_array("loginEventIds")
            .map(|ids| ids.iter().filter(|b| b.as_str() == Some(mid)).count())
            .unwrap_or(0)
    };
    let docs = eventually(Duration::from_secs(120), async || {
        let docs = read_sessions().await;
        let pending = login_events
            .iter()
            .filter(|(mid, user)| docs.get(user).is_none_or(|d| recorded_times(d, mid) == 0))
            .count();
        if pending == 0 {
            Ok(docs)
        } else {
            Err(format!(
                "{pending} of {} login events not recorded yet",
                login_events.len()
            ))
        }
    })
    .await;
    let recorded_twice = login_events
        .iter()
        .filter(|(mid, user)| recorded_times(&docs[user], mid) > 1)
        .count();
    let login_users: HashSet<&String> = login_events.iter().map(|(_, u)| u).collect();
    let logins_without_event = logins.iter().filter(|u| !login_users.contains(u)).count();
    let mut login_duplicates = 0;
    for set in services.iter().filter(|s| s.name == "session") {
        for log in set
            .dead_logs
            .iter()
            .cloned()
            .chain(set.procs.iter().map(ServiceProcess::log))
        {
            login_duplicates += log.matches(DUPLICATE_LOG).count();
        }
    }

    // Nothing was dead-lettered (a dead letter is an event not applied).
    let dead_letters =
        hub_testkit::take_messages_from(&env["AMQP_URL"], &format!("{auth_queue}.dlq")).await;

    // Session writes: the acknowledged value is the stored one.
    let lost_session_writes: Vec<_> = session_writes
        .iter()
        .filter(|(user, mark)| {
            docs.get(user)
                .and_then(|d| d.get_document("data").ok())
                .and_then(|data| data.get("mark"))
                != Some(&Bson::String(mark.clone()))
        })
        .collect();

    // Uploads: every acknowledged avatar can be fetched.
    let mut lost_uploads = Vec::new();
    for url in &uploads {
        let status = http.get(url).send().await.map(|r| r.status().as_u16());
        if !matches!(status, Ok(200)) {
            lost_uploads.push((url.clone(), status.map_err(|e| e.to_string())));
        }
    }

    // No instance but the killed ones restarted: every process the run started is still
    // the one serving (none exited), and each answers ready.
    let mut restarted = Vec::new();
    for set in &services {
        for (i, p) in set.procs.iter().enumerate() {
            let alive = std::fs::read_to_string(format!("/proc/{}/stat", p.pid()))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false);
            if !alive {
                restarted.push(format!("{}-{}", set.name, i + 1));
            }
            let url = format!("{}/readyz", p.base);
            eventually(Duration::from_secs(30), async || {
                http.get(&url).send().await.is_ok_and(|r| r.status() == 200)
            })
            .await;
        }
    }

    // ---- figures -----------------------------------------------------------------------
    let in_window = |at: Duration| {
        phases
            .iter()
            .find(|p| at >= p.start && at <= p.restored + GRACE)
    };
    let outside: Vec<&Sample> = samples
        .iter()
        .filter(|s| !s.ok && in_window(s.end).is_none())
        .collect();
    let mut report = Vec::new();
    report.push(format!(
        "{clients} clients, {load_secs:.0} s of load, {} requests; cluster install {:.1} s, up {:.1} s",
        samples.len(),
        install_took.as_secs_f64(),
        up_took.as_secs_f64()
    ));
    report.push(format!(
        "{:<26} {:>14} {:>8} {:>7} {:>12} {:>8} {:>8}",
        "fault", "window s", "requests", "errors", "error span s", "p99 ms", "max ms"
    ));
    let row = |name: &str, from: Duration, to: Duration, window: String| {
        let during: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.start >= from && s.start < to)
            .collect();
        let errors: Vec<&Sample> = samples
            .iter()
            .filter(|s| !s.ok && s.end >= from && s.end < to)
            .collect();
        let span = match (errors.first(), errors.last()) {
            (Some(a), Some(b)) => (b.end.saturating_sub(a.end)).as_secs_f64(),
            _ => 0.0,
        };
        let took: Vec<Duration> = during.iter().map(|s| s.end - s.start).collect();
        let max = took.iter().max().copied().unwrap_or_default();
        format!(
            "{name:<26} {window:>14} {:>8} {:>7} {:>12.2} {:>8} {:>8}",
            during.len(),
            errors.len(),
            span,
            p99(took).as_millis(),
            max.as_millis()
        )
    };
    report.push(row(
        "baseline (nothing broken)",
        Duration::ZERO,
        baseline_end,
        "-".into(),
    ));
    for p in &phases {
        let window = format!(
            "{:.1}-{:.1}",
            p.start.as_secs_f64(),
            (p.restored + GRACE).as_secs_f64()
        );
        report.push(row(&p.name, p.start, p.restored + GRACE, window));
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
        "registrations acknowledged {}, missing {}; UserRegistered events {} (each in the queue: {} missing), deliveries {} ({} duplicates), acknowledged without an event {}",
        registered.len(),
        missing_users.len(),
        registered_events.len(),
        lost_registered.len(),
        published.len(),
        registered_duplicates,
        acknowledged_without_event.len()
    ));
    report.push(format!(
        "logins acknowledged {}, UserLoggedIn events {}, recorded once {}, recorded twice {}, duplicate deliveries skipped by the consumer {}, dead letters {}, acknowledged without an event {}",
        logins.len(),
        login_events.len(),
        login_events.len() - recorded_twice,
        recorded_twice,
        login_duplicates,
        dead_letters.len(),
        logins_without_event
    ));
    report.push(format!(
        "session writes acknowledged {}, missing {}; uploads acknowledged {}, missing {}; errors outside every window {}; instances restarted besides the killed ones: {restarted:?}",
        session_writes.len(),
        lost_session_writes.len(),
        uploads.len(),
        lost_uploads.len(),
        outside.len()
    ));
    report.push(format!(
        "whole run {:.0} s; reproduce: eval \"$(scripts/backing.sh env)\"; cargo nextest run -p hub-checks -E 'binary(chaos)' --no-capture",
        run_started.elapsed().as_secs_f64()
    ));
    for line in &report {
        eprintln!("chaos: {line}");
    }
    let state = PathBuf::from(&env["CLUSTER_STATE_DIR"]);
    let _ = std::fs::write(state.join("chaos-report.txt"), report.join("\n") + "\n");

    // ---- promises ----------------------------------------------------------------------
    assert!(
        missing_users.is_empty(),
        "acknowledged registrations lost: {missing_users:?}"
    );
    assert!(
        lost_registered.is_empty() && acknowledged_without_event.is_empty(),
        "registration events lost: {lost_registered:?} / {acknowledged_without_event:?}"
    );
    assert_eq!(recorded_twice, 0, "a login event applied twice");
    assert_eq!(
        logins_without_event, 0,
        "an acknowledged login has no event"
    );
    assert!(
        lost_session_writes.is_empty(),
        "acknowledged session writes lost: {lost_session_writes:?}"
    );
    assert!(
        lost_uploads.is_empty(),
        "acknowledged uploads lost: {lost_uploads:?}"
    );
    assert!(restarted.is_empty(), "instances restarted: {restarted:?}");
    assert!(dead_letters.is_empty(), "dead letters: {dead_letters:?}");
    assert!(
        outside.is_empty(),
        "errors outside every fault window: {:?}",
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

    // Clean up: quorum queues are Raft groups on every node, so none is left behind.
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
