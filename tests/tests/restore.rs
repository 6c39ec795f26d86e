//! The restore drill (issue 25, item 3; docs/OPERATIONS.md, "Backup and restore"): stores of
//! its own (scripts/backup.sh drill-up: a PostgreSQL cluster with WAL archiving, a mongod, a
//! RabbitMQ vhost, a moto bucket), the services in-process on them, load, a backup under
//! that load, more load and some account deletions, the loss of every store, the restore
//! to the backup's point, and then what must hold:
//!
//! * every user, session and image acknowledged before the earliest store's point is there
//!   (the stores have no common instant: each has its own point, in the backup's manifest);
//!   nothing is half there: no session and no image whose user is missing;
//! * logins whose events the relay had published but session had not consumed when the
//!   broker was lost (session is stopped from before the backup to the loss) get their
//!   sessions: the restore makes the outbox rows since the earliest point pending again;
//! * the consumers deduplicate the events they had already applied: a session's
//!   `updatedAt` does not move, and no welcome mail of a user registered before the point is
//!   sent twice;
//! * accounts deleted after the backup are deleted again (the deletion log, read from the
//!   WAL archive), with their sessions and images.
//!
//! It prints the recovery point (acknowledged work lost, by store) and the recovery time
//! (restore start to every service healthy). Serial (scripts/test.sh): it loads the machine
//! with a PostgreSQL cluster and a mongod of its own for about a minute.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::{HashMap, HashSet},
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use hub_testkit::{Go as _, Spawned, eventually, spawn};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};

const REGISTER: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><s:Body><u:RegisterUser><u:username>{u}</u:username><u:password>right-password</u:password><u:first_name>A</u:first_name><u:last_name>B</u:last_name><u:dni>{u}</u:dni><u:email>{u}@example.com</u:email><u:city>C</u:city></u:RegisterUser></s:Body></s:Envelope>"#;

/// scripts/backup.sh of this checkout, found from this test's own crate directory (this
/// binary's `CARGO_MANIFEST_DIR`, not the library's: a build directory shared by several
/// checkouts may hold another checkout's build of the library).
fn backup_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/backup.sh")
}

/// `bash scripts/backup.sh <args>` on a blocking thread; its output, or a panic with it.
async fn backup_sh(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("bash")
            .arg(backup_script())
            .args(&args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "backup.sh {args:?}: {text}{err}");
        print!("{text}");
        text
    })
    .await
    .unwrap()
}

/// The drill's stores; `drill-down` when dropped, whatever happened.
struct Drill {
    dir: String,
}

impl Drop for Drill {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(backup_script())
            .args(["drill-down", &self.dir])
            .status();
    }
}

impl Drill {
    async fn run(&self, command: &str) -> String {
        backup_sh(vec![command.into(), self.dir.clone()]).await
    }

    /// `backup.sh env DIR`, as NAME → value.
    async fn env(&self) -> HashMap<String, String> {
        self.run("env")
            .await
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace('\\', "")))
            .collect()
    }

    /// The backup's manifest: each store's point.
    fn manifest(&self) -> HashMap<String, String> {
        std::fs::read_to_string(format!("{}/backups/manifest", self.dir))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

fn point(manifest: &HashMap<String, String>, key: &str) -> DateTime<Utc> {
    manifest[key].parse().unwrap()
}

/// The services on the drill's stores but session (stopped and started on its own);
/// dropping it stops them.
struct Stack {
    auth: Spawned,
    soap: Spawned,
    images: Spawned,
    _notifications: Spawned,
}

fn settings(env: &HashMap<String, String>, secret: &str) -> Vec<(String, String)> {
    let shared = |k: &str| (k.to_owned(), hub_testkit::env(k));
    let mut all: Vec<(String, String)> = hub_checks::IN_PROCESS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    all.extend([
        shared("S3_ENDPOINT"),
        shared("AWS_ACCESS_KEY_ID"),
        shared("AWS_SECRET_ACCESS_KEY"),
        shared("SMTP_HOST"),
        shared("SMTP_PORT"),
    ]);
    for (k, v) in [
        ("MONGODB_DATABASE", "hub"),
        ("SECRET_KEY", secret),
        ("AWS_REGION", "us-east-1"),
        ("SMTP_TLS", "none"),
        ("SMTP_FROM", "Hub <hub@example.test>"),
        ("NOTIFICATIONS_QUEUES", "user-events"),
        ("REGISTER_MAX_PER_ADDRESS", "1000000"),
        ("LOGIN_MAX_FAILURES_PER_USER", "1000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000"),
        ("CONSUMER_RETRY_MAX_MS", "300"),
    ] {
        all.push((k.to_owned(), v.to_owned()));
    }
    all
}

fn source(
    settings: &[(String, String)],
    extra: &[(&str, &str)],
) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    hub_testkit::config_source(&pairs, extra)
}

async fn start(settings: &[(String, String)]) -> Stack {
    Stack {
        auth: spawn::<auth::Auth>(source(settings, &[])).await,
        soap: spawn::<user_soap::UserSoap>(source(settings, &[])).await,
        images: spawn::<images::Images>(source(settings, &[("CONSUMER_QUEUE", "images-events")]))
            .await,
        _notifications: spawn::<notifications::Notifications>(source(settings, &[])).await,
    }
}

async fn start_session(settings: &[(String, String)]) -> Spawned {
    spawn::<session::Session>(source(settings, &[])).await
}

/// What the load did, each write with the time it was acknowledged.
#[derive(Default)]
struct Acked {
    /// username → (user id, registration acknowledged at).
    registered: HashMap<String, (String, DateTime<Utc>)>,
    /// username → (login acknowledged at, access token).
    logged_in: HashMap<String, (DateTime<Utc>, String)>,
    /// username → upload of `<id>.png` acknowledged at.
    uploaded: HashMap<String, DateTime<Utc>>,
}

impl Acked {
    /// (username, user id) of the users whose `step` was acknowledged before `t`.
    fn before(
        &self,
        step: &HashMap<String, impl Copy + Into<DateTime<Utc>>>,
        t: DateTime<Utc>,
    ) -> Vec<(String, String)> {
        step.iter()
            .filter(|(_, at)| (**at).into() < t)
            .map(|(u, _)| (u.clone(), self.registered[u].0.clone()))
            .collect()
    }
}

/// One user's life: register, log in, upload its image; each step recorded once answered.
async fn one_user(stack: &Stack, user: String, acked: &Mutex<Acked>) {
    let resp = stack
        .soap
        .post("/register")
        .header("content-type", "text/xml; charset=utf-8")
        .body(REGISTER.replace("{u}", &user))
        .go()
        .await;
    let body = resp.text().await.unwrap();
    let id = hub_checks::between(&body, "<us:id>", "</us:id>")
        .unwrap_or_else(|| panic!("registration of {user}: {body}"))
        .to_owned();
    let at = Utc::now();
    acked
        .lock()
        .unwrap()
        .registered
        .insert(user.clone(), (id.clone(), at));
    let resp = stack
        .auth
        .post("/login")
        .json(&json!({"username": user, "password": "right-password"}))
        .go()
        .await;
    assert_eq!(resp.status(), 200, "login of {user}");
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = Utc::now();
    acked
        .lock()
        .unwrap()
        .logged_in
        .insert(user.clone(), (at, token.clone()));
    let part = reqwest::multipart::Part::bytes(hub_testkit::TINY_PNG.to_vec())
        .file_name(format!("{id}.png"));
    let resp = stack
        .images
        .post("/upload_image")
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .go()
        .await;
    assert!(
        resp.status().is_success(),
        "upload of {user}: {}",
        resp.status()
    );
    acked.lock().unwrap().uploaded.insert(user, Utc::now());
}

/// Users one after another on `clients` tasks until `stop`.
fn keep_loading(
    stack: Arc<Stack>,
    prefix: &str,
    acked: Arc<Mutex<Acked>>,
    stop: tokio_util::sync::CancellationToken,
    clients: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let (stack, prefix, acked, stop) = (
                stack.clone(),
                prefix.to_owned(),
                acked.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut n = c;
                while !stop.is_cancelled() {
                    one_user(&stack, format!("{prefix}{n}"), &acked).await;
                    n += clients;
                }
            })
        })
        .collect()
}

async fn pg(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap()
}

/// The ids of every user row.
async fn user_ids(db_url: &str) -> HashSet<String> {
    sqlx::query_scalar::<_, String>(r#"SELECT id::text FROM "user""#)
        .fetch_all(&mut pg(db_url).await)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// userId → updatedAt of every session document.
async fn sessions(mongo: &mongodb::Database) -> HashMap<String, mongodb::bson::DateTime> {
    let mut cursor = mongo
        .collection::<mongodb::bson::Document>("sessions")
        .find(mongodb::bson::doc! {})
        .await
        .unwrap();
    let mut all = HashMap::new();
    while cursor.advance().await.unwrap() {
        let d = cursor.deserialize_current().unwrap();
        if let (Ok(user), Ok(at)) = (d.get_str("userId"), d.get_datetime("updatedAt")) {
            all.insert(user.to_owned(), *at);
        }
    }
    all
}

/// The ids of the users that have an `<id>.png` in the bucket, through images' listing.
async fn imaged(stack: &Stack) -> HashSet<String> {
    let listing: Value = stack.images.get("/list_images").await.json().await.unwrap();
    listing["urls"]
        .as_array()
        .unwrap_or_else(|| panic!("listing: {listing}"))
        .iter()
        .filter_map(|u| u.as_str()?.rsplit('/').next()?.strip_suffix(".png"))
        .map(str::to_owned)
        .collect()
}

fn welcome_mails(user: &str) -> usize {
    let dir = std::path::PathBuf::from(hub_testkit::env("HUB_MAIL_DIR"))
        .join(format!("{user}@example.com"));
    std::fs::read_dir(dir).map_or(0, |e| {
        e.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .count()
    })
}

/// `what` for every item of `items` within `secs`, else a panic naming the ones missing.
async fn all_within<T: std::fmt::Debug>(
    secs: u64,
    what: &str,
    items: &[T],
    check: impl AsyncFn(&[T]) -> Vec<usize>,
) {
    eventually(Duration::from_secs(secs), async || {
        let failing = check(items).await;
        if failing.is_empty() {
            Ok(())
        } else {
            let some: Vec<&T> = failing.iter().take(5).map(|&i| &items[i]).collect();
            Err(format!(
                "{} of {} not {what}, e.g. {some:?}",
                failing.len(),
                items.len()
            ))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restore_to_the_backups_point_keeps_what_was_acknowledged_and_deletes_again_what_was_deleted()
 {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let drill = Drill {
        dir: format!("/var/tmp/hub-restore-{tag}"),
    };
    drill.run("drill-up").await;
    let env = drill.env().await;
    let config = settings(&env, &format!("secret-{tag}"));
    let db_url = env["DATABASE_URL"].clone();
    let mongo = mongodb::Client::with_uri_str(&env["MONGODB_URI"])
        .await
        .unwrap()
        .database("hub");

    // 1. Load with every service running, until 12 users are through.
    let stack = Arc::new(start(&config).await);
    let session = start_session(&config).await;
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = tokio_util::sync::CancellationToken::new();
    let prefix = format!("rs{tag}u");
    let load = keep_loading(stack.clone(), &prefix, acked.clone(), stop.clone(), 3);
    eventually(Duration::from_secs(120), async || {
        let n = acked.lock().unwrap().uploaded.len();
        if n >= 12 {
            Ok(())
        } else {
            Err(format!("{n} users so far"))
        }
    })
    .await;
    // Every login so far has its session and every registration its welcome mail, then
    // session stops: the logins from here to the loss are published by the relay and
    // consumed by nobody, as behind a lagging consumer.
    let first: Vec<(String, String)> = {
        let a = acked.lock().unwrap();
        a.before(
            &a.logged_in
                .iter()
                .map(|(u, (t, _))| (u.clone(), *t))
                .collect(),
            Utc::now(),
        )
    };
    all_within(60, "in a session", &first, async |users| {
        let s = sessions(&mongo).await;
        (0..users.len())
            .filter(|&i| !s.contains_key(&users[i].1))
            .collect()
    })
    .await;
    all_within(60, "mailed once", &first, async |users| {
        (0..users.len())
            .filter(|&i| welcome_mails(&users[i].0) != 1)
            .collect()
    })
    .await;
    drop(session);
    let sessions_before = sessions(&mongo).await;

    // 2. The backup, under load.
    drill.run("backup").await;
    let manifest = drill.manifest();
    let (earliest, pg_point) = (point(&manifest, "EARLIEST"), point(&manifest, "PG_POINT"));
    let (mongo_point, s3_point) = (
        point(&manifest, "MONGO_POINT"),
        point(&manifest, "S3_POINT"),
    );

    // 3. More load, and three accounts of the first users deleted after the backup.
    let after_backup = acked.lock().unwrap().uploaded.len();
    eventually(Duration::from_secs(120), async || {
        let n = acked.lock().unwrap().uploaded.len();
        if n >= after_backup + 6 {
            Ok(())
        } else {
            Err(format!("{} users since the backup", n - after_backup))
        }
    })
    .await;
    let doomed: Vec<(String, String)> = first[..3].to_vec();
    for (user, _) in &doomed {
        let token = acked.lock().unwrap().logged_in[user].1.clone();
        let resp = stack
            .auth
            .req(Method::DELETE, "/api/account")
            .bearer_auth(&token)
            .json(&json!({"password": "right-password"}))
            .go()
            .await;
        assert_eq!(resp.status(), 200, "deletion of {user}");
    }
    stop.cancel();
    for task in load {
        task.await.unwrap();
    }
    // The deletions are in the WAL archive (archive_timeout of the drill: 2 s).
    let mut db = pg(&db_url).await;
    let wal: String = sqlx::query_scalar("SELECT pg_walfile_name(pg_current_wal_lsn())")
        .fetch_one(&mut db)
        .await
        .unwrap();
    eventually(Duration::from_secs(60), async || {
        let archived: Option<String> =
            sqlx::query_scalar("SELECT last_archived_wal FROM pg_stat_archiver")
                .fetch_one(&mut pg(&db_url).await)
                .await
                .unwrap();
        match archived {
            Some(a) if a >= wal => Ok(()),
            other => Err(format!("archived {other:?}, deletions in {wal}")),
        }
    })
    .await;
    drop(db);
    let mails_at_loss: HashMap<String, usize> = acked
        .lock()
        .unwrap()
        .registered
        .keys()
        .map(|u| (u.clone(), welcome_mails(u)))
        .collect();

    // 4. Everything is lost: the services, then every store.
    drop(
        Arc::try_unwrap(stack)
            .ok()
            .expect("the load tasks are done"),
    );
    let lost_at = Utc::now();
    drill.run("lose").await;

    // 5. The restore, then the deletion log replayed before the services serve.
    let t0 = Instant::now();
    drill.run("restore").await;
    let log = format!("{}/restore/deletions", drill.dir);
    let replayed = auth::admin::users(
        &["replay-deletions".into(), log.clone()],
        &source(&config, &[]),
    )
    .await
    .unwrap();
    println!("replay-deletions: {replayed}");
    let stack = start(&config).await;
    let session = start_session(&config).await;
    let healthy = [
        &stack.auth,
        &stack.soap,
        &stack.images,
        &stack._notifications,
        &session,
    ];
    eventually(Duration::from_secs(60), async || {
        for s in healthy {
            let status = s.get("/health").await.status();
            if status != 200 {
                return Err(format!("{} answers {status}", s.base));
            }
        }
        Ok(())
    })
    .await;
    let recovery_time = t0.elapsed();

    // 6. What must hold.
    let logged: HashSet<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    for (user, id) in &doomed {
        assert!(logged.contains(id), "{user}'s deletion is not in the log");
    }
    let gone: HashSet<String> = doomed.iter().map(|(_, id)| id.clone()).collect();
    let (registered, logged_in, uploaded) = {
        let a = acked.lock().unwrap();
        let keep = |v: Vec<(String, String)>| -> Vec<(String, String)> {
            v.into_iter().filter(|(_, id)| !gone.contains(id)).collect()
        };
        (
            keep(
                a.before(
                    &a.registered
                        .iter()
                        .map(|(u, (_, t))| (u.clone(), *t))
                        .collect(),
                    earliest,
                ),
            ),
            keep(
                a.before(
                    &a.logged_in
                        .iter()
                        .map(|(u, (t, _))| (u.clone(), *t))
                        .collect(),
                    pg_point,
                ),
            ),
            keep(a.before(&a.uploaded, earliest)),
        )
    };
    let users = user_ids(&db_url).await;
    let missing: Vec<_> = registered
        .iter()
        .filter(|(_, id)| !users.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "registered before the point, missing after the restore: {missing:?}"
    );
    // Sessions: those consumed before the backup, and those whose login events were
    // published but not consumed (republished by the restore's outbox step), i.e. every
    // login before PostgreSQL's point whose user is there.
    let logged_in: Vec<(String, String)> = logged_in
        .into_iter()
        .filter(|(_, id)| users.contains(id))
        .collect();
    all_within(90, "in a session", &logged_in, async |users| {
        let s = sessions(&mongo).await;
        (0..users.len())
            .filter(|&i| !s.contains_key(&users[i].1))
            .collect()
    })
    .await;
    all_within(60, "imaged", &uploaded, async |users| {
        let keys = imaged(&stack).await;
        (0..users.len())
            .filter(|&i| !keys.contains(&users[i].1))
            .collect()
    })
    .await;
    // The deleted accounts are deleted again, everywhere; nothing is half there.
    let deleted: Vec<(String, String)> = doomed.clone();
    all_within(60, "gone from every store", &deleted, async |users| {
        let (s, keys, ids) = (
            sessions(&mongo).await,
            imaged(&stack).await,
            user_ids(&db_url).await,
        );
        (0..users.len())
            .filter(|&i| {
                let id = &users[i].1;
                s.contains_key(id) || keys.contains(id) || ids.contains(id)
            })
            .collect()
    })
    .await;
    let users = user_ids(&db_url).await;
    let orphan_sessions: Vec<String> = sessions(&mongo)
        .await
        .into_keys()
        .filter(|id| !users.contains(id))
        .collect();
    let orphan_images: Vec<String> = imaged(&stack)
        .await
        .into_iter()
        .filter(|id| !users.contains(id))
        .collect();
    assert!(
        orphan_sessions.is_empty(),
        "sessions without a user: {orphan_sessions:?}"
    );
    assert!(
        orphan_images.is_empty(),
        "images without a user: {orphan_images:?}"
    );
    // The consumers deduplicated what they had seen: the first users' sessions (applied
    // before the backup, their events republished) are unchanged ...
    for (user, id) in first.iter().filter(|(_, id)| !gone.contains(id)) {
        assert_eq!(
            sessions(&mongo).await.get(id),
            sessions_before.get(id),
            "{user}'s session changed: its login was applied twice"
        );
    }
    // ... and every user registered before the point has exactly one welcome mail, once
    // the users registered before PostgreSQL's point and not mailed at the loss have theirs
    // (the queue is consumed in order, so the republished older events were handled first).
    let owed: Vec<(String, String)> = {
        let a = acked.lock().unwrap();
        a.registered
            .iter()
            .filter(|(u, (id, t))| *t < pg_point && users.contains(id) && mails_at_loss[*u] == 0)
            .map(|(u, (id, _))| (u.clone(), id.clone()))
            .collect()
    };
    all_within(90, "mailed after the restore", &owed, async |users| {
        (0..users.len())
            .filter(|&i| welcome_mails(&users[i].0) == 0)
            .collect()
    })
    .await;
    let twice: Vec<&(String, String)> = registered
        .iter()
        .filter(|(u, _)| welcome_mails(u) != 1)
        .collect();
    assert!(
        twice.is_empty(),
        "registered before the point, not mailed exactly once: {twice:?}"
    );
    let resent = mails_at_loss
        .iter()
        .filter(|(u, n)| **n > 0 && welcome_mails(u) > **n)
        .count();

    // 7. The figures.
    let final_sessions = sessions(&mongo).await;
    let final_images = imaged(&stack).await;
    let a = acked.lock().unwrap();
    let lost =
        |step: Vec<(String, DateTime<Utc>)>, since: DateTime<Utc>, there: &dyn Fn(&str) -> bool| {
            let after: Vec<_> = step.into_iter().filter(|(_, t)| *t >= since).collect();
            let n = after.len();
            let gone = after
                .iter()
                .filter(|(u, _)| !there(&a.registered[u].0))
                .count();
            (n, gone)
        };
    let (pg_n, pg_lost) = lost(
        a.registered
            .iter()
            .map(|(u, (_, t))| (u.clone(), *t))
            .collect(),
        pg_point,
        &|id| users.contains(id),
    );
    let (mongo_n, mongo_lost) = lost(
        a.logged_in
            .iter()
            .map(|(u, (t, _))| (u.clone(), *t))
            .collect(),
        mongo_point,
        &|id| final_sessions.contains_key(id),
    );
    let (s3_n, s3_lost) = lost(
        a.uploaded.iter().map(|(u, t)| (u.clone(), *t)).collect(),
        s3_point,
        &|id| final_images.contains(id),
    );
    let secs = |from: DateTime<Utc>| (lost_at - from).num_milliseconds() as f64 / 1000.0;
    println!(
        "recovery point (the loss came {:.1} s after the earliest point):\n  \
         postgresql: point {pg_point}, {:.1} s before the loss; {pg_lost} of {pg_n} registrations acknowledged after it lost\n  \
         mongodb: point {mongo_point}, {:.1} s before the loss; {mongo_n} logins acknowledged after it: {} sessions rebuilt from the republished outbox, {mongo_lost} lost (acknowledged after PostgreSQL's point, so their events were lost too)\n  \
         s3: point {s3_point}, {:.1} s before the loss; {s3_lost} of {s3_n} uploads acknowledged after it lost\n  \
         deletion log: {} deletions, all {} made after the backup replayed ({replayed})\n  \
         welcome mails sent again after the restore: {resent} (users mailed after PostgreSQL's point)\n\
         recovery time: {:.1} s from `backup.sh restore` to every service healthy",
        secs(earliest),
        secs(pg_point),
        secs(mongo_point),
        mongo_n - mongo_lost,
        secs(s3_point),
        logged.len(),
        doomed.len(),
        recovery_time.as_secs_f64(),
    );
}
