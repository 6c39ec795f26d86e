//! The notifications service against real servers: RabbitMQ and PostgreSQL from
//! scripts/backing.sh, and a real SMTP server (scripts/smtp_catcher.py, aiosmtpd) that each
//! test starts on a port of its own and that writes every mail it accepts to a file.
//!
//! Every test also captures the logs of everything in its process (this binary's tests
//! each run in a process of their own under nextest) and checks that no address, code,
//! link or subject of its mail appears in them.

use std::{
    io::Write,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use chrono::Utc;
use futures_util::future::join_all;
use hub_events::catalogue::{
    EmailChanged, EmailVerificationRequested, Event, PasswordChanged, PasswordResetRequested,
    UserRegistered, VerificationPurpose, envelope,
};
use hub_testkit::{Spawned, create_database, eventually, local_source, queue_name};
use lapin::{BasicProperties, options::BasicPublishOptions};
use notifications::Notifications;
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

// --- logs --------------------------------------------------------------------------------

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per process, a subscriber that keeps every log line at debug and above,
/// from every crate.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buf.clone());
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .try_init()
            .expect("the only subscriber of this process");
        buf
    })
    .clone()
}

fn captured() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// No `secret` anywhere in the logs, which do show the mail work.
fn assert_logs_hold_none_of(secrets: &[&str]) {
    let text = captured();
    assert!(
        text.contains("mail sent"),
        "the capture works: the service's own lines are there"
    );
    for secret in secrets {
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "a log line holds {secret:?}"
        );
    }
}

// --- the SMTP server ---------------------------------------------------------------------

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// scripts/smtp_catcher.py on `port`, writing to a folder of its own.
struct Catcher {
    child: Child,
    dir: PathBuf,
}

impl Catcher {
    async fn start(port: u16, dir: &Path) -> Self {
        Self::start_with(port, dir, &[]).await
    }

    /// With the catcher's own options (`--tls-cert`, `--auth-user`, ...).
    async fn start_with(port: u16, dir: &Path, options: &[&str]) -> Self {
        let python = std::env::var("HUB_SMTP_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp_catcher.py");
        let child = Command::new(python)
            .arg(script)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--dir"])
            .arg(dir)
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("the SMTP catcher starts (python3-aiosmtpd: scripts/backing.sh install)");
        eventually(Duration::from_secs(20), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        Self {
            child,
            dir: dir.to_owned(),
        }
    }

    /// The mails `to` received, oldest first.
    fn mails(&self, to: &str) -> Vec<String> {
        mails_in(&self.dir, to)
    }

    /// The one mail `to` received; its text part holds `text`.
    fn one_mail_holding(&self, to: &str, text: &str) {
        let mails = self.mails(to);
        assert_eq!(mails.len(), 1);
        assert!(parts(&mails[0]).0.contains(text));
    }

    /// How often the server refused a mail to `to` (`--reject`, `--defer`).
    fn refusals(&self, to: &str) -> usize {
        std::fs::read_to_string(self.dir.join(to.to_lowercase()).join(".refused"))
            .map_or(0, |s| s.lines().count())
    }

    /// Every mail received, whoever it was for.
    fn all_mails(&self) -> usize {
        let Ok(boxes) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        boxes
            .filter_map(Result::ok)
            .filter_map(|b| std::fs::read_dir(b.path()).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .count()
    }

    /// Kills the server (SIGKILL: connections drop, nothing is flushed); its mail stays.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed certificate for `localhost` (cert.pem, key.pem in `dir`), made with
/// openssl at test time; the service trusts it through `SMTP_TLS_CA_FILE`.
fn test_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    (cert, key)
}

/// A catcher on a port of its own, mailing to `folder`/mail, that speaks TLS with a
/// certificate for localhost made in `folder` and requires AUTH as `hub` with `password`
/// (written to `folder`/password), with `options` of its own first (`--implicit-tls`).
/// Answers the port, the catcher, and the certificate's and the password file's paths.
async fn tls_catcher(
    folder: &Folder,
    password: &str,
    options: &[&str],
) -> (u16, Catcher, PathBuf, PathBuf) {
    let (cert, key) = test_certificate(&folder.0);
    let password_file = folder.0.join("password");
    std::fs::write(&password_file, password).unwrap();
    let port = free_port();
    let mut all = options.to_vec();
    all.extend([
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--auth-user",
        "hub",
        "--auth-password-file",
        password_file.to_str().unwrap(),
    ]);
    let smtp = Catcher::start_with(port, &folder.0.join("mail"), &all).await;
    (port, smtp, cert, password_file)
}

/// A server that accepts TCP connections and then says nothing, ever (no greeting): a
/// stalled SMTP server. Records how long each client stayed before it hung up.
struct Staller {
    held: Arc<Mutex<Vec<Duration>>>,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Staller {
    async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let stop = tokio_util::sync::CancellationToken::new();
        let (record, cancelled) = (held.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut clients = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    () = cancelled.cancelled() => break,
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        let record = record.clone();
                        clients.spawn(async move {
                            let since = tokio::time::Instant::now();
                            // Reads whatever comes until the client hangs up.
                            let mut buf = [0u8; 1024];
                            loop {
                                if socket.readable().await.is_err() {
                                    break;
                                }
                                match socket.try_read(&mut buf) {
                                    Ok(0) => break,
                                    Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => break,
                                    _ => {}
                                }
                            }
                            record.lock().unwrap().push(since.elapsed());
                        });
                    }
                }
            }
            clients.shutdown().await;
        });
        Self { held, stop, task }
    }

    /// How long each client that hung up had waited.
    fn held(&self) -> Vec<Duration> {
        self.held.lock().unwrap().clone()
    }

    /// Closes the port and every connection; returns once the port is free.
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

impl Drop for Catcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mails_in(dir: &Path, to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(to.to_lowercase())) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// A folder for one test's mail, removed at the end.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("notifications-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A folder and a port of the test's own, and the SMTP catcher (with `options`) on them.
async fn catcher(options: &[&str]) -> (Folder, u16, Catcher) {
    let folder = Folder::new();
    let port = free_port();
    let smtp = Catcher::start_with(port, &folder.0, options).await;
    (folder, port, smtp)
}

// --- the service and its queues ------------------------------------------------------------

struct Setup {
    db: String,
    users: String,
    accounts: String,
}

impl Setup {
    async fn new() -> Self {
        logs();
        Self {
            db: create_database("notify").await,
            users: queue_name("user-events"),
            accounts: queue_name("account-events"),
        }
    }

    async fn spawn(&self, smtp_port: u16, extra: &[(&str, &str)]) -> Spawned {
        let port = smtp_port.to_string();
        let queues = format!("{},{}", self.users, self.accounts);
        let amqp = hub_testkit::amqp_url();
        hub_testkit::spawn::<Notifications>(local_source(
            &[
                ("DATABASE_URL", self.db.as_str()),
                ("AMQP_URL", amqp.as_str()),
                ("NOTIFICATIONS_QUEUES", queues.as_str()),
                ("SMTP_HOST", "127.0.0.1"),
                ("SMTP_PORT", port.as_str()),
                ("SMTP_TLS", "none"),
                ("SMTP_FROM", "Hub <hub@example.test>"),
                ("SMTP_TIMEOUT_MS", "2000"),
                ("NOTIFY_CLAIM_LEASE_SECS", "5"),
                ("CONSUMER_RETRY_BASE_MS", "50"),
                ("CONSUMER_RETRY_MAX_MS", "300"),
                ("CONSUMER_DEFER_MS", "300"),
            ],
            extra,
        ))
        .await
    }

    /// Sent rows in `notification`.
    async fn sent(&self) -> i64 {
        let mut conn = PgConnection::connect(&self.db).await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM notification WHERE sent_at IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
    /// Waits, `within` at the most, for `n` sent rows in `notification`.
    async fn until_sent(&self, n: i64, within: Duration) {
        eventually(within, async || {
            let sent = self.sent().await;
            (sent == n)
                .then_some(())
                .ok_or(format!("{sent} of {n} sent"))
        })
        .await;
    }
}

/// Publishes `event` to `queue` with `message_id`, as the relay does.
async fn publish<E: Event>(queue: &str, message_id: &str, event: &E) {
    let body = envelope(event, Utc::now()).unwrap();
    publish_raw(queue, message_id, body.as_bytes()).await;
}

/// Publishes `event` to `queue` under a message id of its own.
async fn publish_new<E: Event>(queue: &str, event: &E) {
    publish(queue, &Uuid::new_v4().to_string(), event).await;
}

async fn publish_raw(queue: &str, message_id: &str, body: &[u8]) {
    let (conn, ch) = hub_testkit::queue_channel(queue).await;
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default()
            .with_message_id(message_id.into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = conn.close(0, "done".into()).await;
}

/// `consumer_messages_total` of `queue` for `outcome`, in this process (both instances).
async fn consumed(app: &Spawned, queue: &str, outcome: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("consumer_messages_total{"))
        .filter(|l| l.contains(&format!("queue=\"{queue}\"")))
        .filter(|l| l.contains(&format!("outcome=\"{outcome}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn address(tag: &str) -> String {
    format!("{tag}-{}@example.test", Uuid::new_v4().simple())
}

fn registered(email: &str) -> UserRegistered {
    UserRegistered {
        id: Uuid::new_v4(),
        username: format!("user{}", &Uuid::new_v4().simple().to_string()[..8]),
        first_name: "Ana".into(),
        last_name: "Lopez".into(),
        dni: "12345678".into(),
        email: email.into(),
        city: "Lima".into(),
    }
}

fn reset(email: &str, code: &str, link: Option<String>) -> PasswordResetRequested {
    PasswordResetRequested {
        user_id: Uuid::new_v4(),
        username: "ana".into(),
        email: email.into(),
        code: code.into(),
        link,
        expires_in_minutes: 20,
    }
}

/// The header `name` of a mail (first occurrence, unfolded).
fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let head = mail.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The decoded text and HTML parts of a `multipart/alternative` mail.
fn parts(mail: &str) -> (String, String) {
    let boundary = mail
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a multipart mail");
    let (mut text, mut html) = (None, None);
    for part in mail.split(&format!("--{boundary}")).skip(1) {
        let Some((head, body)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let body = if head.contains("Content-Transfer-Encoding: quoted-printable") {
            quoted_printable(body)
        } else {
            body.to_owned()
        };
        if head.contains("Content-Type: text/plain; charset=utf-8") {
            text = Some(body);
        } else if head.contains("Content-Type: text/html; charset=utf-8") {
            html = Some(body);
        }
    }
    (text.expect("a text part"), html.expect("an HTML part"))
}

/// RFC 2045 quoted-printable, enough for these mails (ASCII).
fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

// --- tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_mails_once_to_its_address_with_a_text_and_an_html_part() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&[]).await;
    let mut app = setup.spawn(port, &[]).await;

    let code = format!("C{}", &Uuid::new_v4().simple().to_string()[..10]);
    let link = format!("https://front.example.test/reset?code={code}");
    let (welcome, reset_to, verify, change, changed, old) = (
        address("welcome"),
        address("reset"),
        address("verify"),
        address("change"),
        address("changed"),
        address("old"),
    );
    let user = Uuid::new_v4();
    publish_new(&setup.users, &registered(&welcome)).await;
    publish_new(
        &setup.accounts,
        &reset(&reset_to, &code, Some(link.clone())),
    )
    .await;
    for (to, purpose) in [
        (&verify, VerificationPurpose::Registration),
        (&change, VerificationPurpose::EmailChange),
    ] {
        let event = EmailVerificationRequested {
            user_id: user,
            username: "ana".into(),
            email: to.clone(),
            code: code.clone(),
            link: None,
            expires_in_minutes: 30,
            purpose,
        };
        publish_new(&setup.accounts, &event).await;
    }
    let event = PasswordChanged {
        user_id: user,
        username: "ana".into(),
        email: changed.clone(),
    };
    publish_new(&setup.accounts, &event).await;
    let event = EmailChanged {
        user_id: user,
        username: "ana".into(),
        old_email: old.clone(),
        new_email: "new-address@example.test".into(),
    };
    publish_new(&setup.accounts, &event).await;

    let expected = [
        (&welcome, "Welcome, Ana"),
        (&reset_to, "Your password reset code"),
        (&verify, "Confirm your email address"),
        (&change, "Confirm your new email address"),
        (&changed, "Your password was changed"),
        (&old, "Your email address was changed"),
    ];
    setup.until_sent(6, Duration::from_secs(30)).await;
    for (to, subject) in expected {
        let mails = smtp.mails(to);
        assert_eq!(mails.len(), 1, "{to}: one mail");
        let mail = &mails[0];
        assert_eq!(header(mail, "To"), Some(to.as_str()), "{mail}");
        assert_eq!(header(mail, "Subject"), Some(subject));
        assert_eq!(header(mail, "From"), Some("Hub <hub@example.test>"));
        assert!(
            header(mail, "Content-Type").is_some_and(|c| c.starts_with("multipart/alternative")),
            "{mail}"
        );
        let (text, html) = parts(mail);
        assert!(text.contains("Hello ") && !text.contains("<p>"), "{text}");
        assert!(
            html.contains("<html lang=\"en\">") && html.contains("<p>Hello "),
            "{html}"
        );
        assert!(header(mail, "Message-ID").is_some());
    }
    // The code in both parts of the reset mail, the link in the text and the href.
    let (text, html) = parts(&smtp.mails(&reset_to)[0]);
    assert!(text.contains(&format!("    {code}\r\n")), "{text}");
    assert!(
        text.contains(&format!("Or open this link: {link}")),
        "{text}"
    );
    assert!(html.contains(&format!(">{code}</p>")), "{html}");
    assert!(html.contains(&format!("<a href=\"{link}\">")), "{html}");
    let (text, html) = parts(&smtp.mails(&verify)[0]);
    assert!(text.contains(&code) && html.contains(&code));
    assert!(
        !text.contains("https://") && !html.contains("href"),
        "no link, no line"
    );
    assert!(
        parts(&smtp.mails(&old)[0])
            .0
            .contains("new-address@example.test")
    );

    let mut secrets: Vec<&str> = expected
        .iter()
        .flat_map(|(to, s)| [to.as_str(), *s])
        .collect();
    secrets.extend([code.as_str(), link.as_str()]);
    assert_logs_hold_none_of(&secrets);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_mailed_once_even_by_two_instances_at_once() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&[]).await;
    let (mut a, mut b) = tokio::join!(setup.spawn(port, &[]), setup.spawn(port, &[]));

    // Eight events, each published five times with its message_id, all at once.
    let events: Vec<(String, String)> = (0..8)
        .map(|i| (Uuid::new_v4().to_string(), address(&format!("dup{i}"))))
        .collect();
    let users = setup.users.as_str();
    let mut publishes = Vec::new();
    for (id, to) in &events {
        for _ in 0..5 {
            publishes.push(async move {
                publish(users, id, &registered(to)).await;
            });
        }
    }
    join_all(publishes).await;

    // All 40 deliveries handled: 8 mailed, 32 skipped as duplicates.
    eventually(Duration::from_secs(60), async || {
        let processed = consumed(&a, &setup.users, "processed").await;
        let skipped = consumed(&a, &setup.users, "skipped").await;
        (processed + skipped == 40.0)
            .then_some(())
            .ok_or(format!("{processed} processed, {skipped} skipped of 40"))
    })
    .await;
    for (_, to) in &events {
        assert_eq!(smtp.mails(to).len(), 1, "{to}: exactly one mail");
    }
    assert_eq!(consumed(&a, &setup.users, "processed").await, 8.0);
    assert_eq!(setup.sent().await, 8);
    let to: Vec<&str> = events.iter().map(|(_, to)| to.as_str()).collect();
    assert_logs_hold_none_of(&to);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_delays_mail_and_loses_none() {
    let setup = Setup::new().await;
    let folder = Folder::new();
    // Nothing listens here yet: every connection is refused.
    let port = free_port();
    let mut app = setup.spawn(port, &[]).await;
    let code = format!("K{}", &Uuid::new_v4().simple().to_string()[..10]);
    let to: Vec<String> = (0..5).map(|i| address(&format!("outage{i}"))).collect();
    for t in &to {
        publish_new(&setup.accounts, &reset(t, &code, None)).await;
    }
    // Tried, failed, retried; nothing dead-lettered, nothing marked sent.
    eventually(Duration::from_secs(30), async || {
        consumed(&app, &setup.accounts, "retried").await >= 3.0
    })
    .await;
    assert_eq!(consumed(&app, &setup.accounts, "dead_lettered").await, 0.0);
    assert_eq!(setup.sent().await, 0);
    assert!(captured().contains("SMTP server unavailable (connection failed)"));

    // The server comes: every mail arrives, once.
    let smtp = Catcher::start(port, &folder.0).await;
    setup.until_sent(5, Duration::from_secs(30)).await;
    for t in &to {
        assert_eq!(smtp.mails(t).len(), 1, "{t}");
        assert!(parts(&smtp.mails(t)[0]).0.contains(&code));
    }
    assert_eq!(consumed(&app, &setup.accounts, "dead_lettered").await, 0.0);
    let mut secrets: Vec<&str> = to.iter().map(String::as_str).collect();
    secrets.push(&code);
    assert_logs_hold_none_of(&secrets);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_recipient_limit_holds_across_two_instances_and_defers_without_dropping() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&[]).await;
    const LIMIT: usize = 3;
    const WINDOW: f64 = 2.0;
    let limits = [("NOTIFY_RATE_LIMIT", "3"), ("NOTIFY_RATE_WINDOW_SECS", "2")];
    let (mut a, mut b) = tokio::join!(setup.spawn(port, &limits), setup.spawn(port, &limits));

    // Ten events for one address (in another spelling each time), and two for another,
    // all published at once.
    let to = address("flood");
    let other = address("other");
    let mut publishes = Vec::new();
    for i in 0..10 {
        let spelled = if i % 2 == 0 {
            to.clone()
        } else {
            to.to_uppercase()
        };
        publishes.push((setup.accounts.clone(), spelled));
    }
    publishes.push((setup.accounts.clone(), other.clone()));
    publishes.push((setup.accounts.clone(), other.clone()));
    join_all(publishes.iter().map(|(queue, t)| async move {
        let event = PasswordChanged {
            user_id: Uuid::new_v4(),
            username: "ana".into(),
            email: t.clone(),
        };
        publish_new(queue, &event).await;
    }))
    .await;

    // All twelve arrive: deferred, never dropped.
    setup.until_sent(12, Duration::from_secs(60)).await;
    assert_eq!(smtp.mails(&to).len(), 10);
    assert_eq!(smtp.mails(&other).len(), 2);

    // No window of 2 s holds more than 3 claims for the flooded address.
    let mut conn = PgConnection::connect(&setup.db).await.unwrap();
    let claimed: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM claimed_at)::float8 FROM notification WHERE recipient = $1 ORDER BY claimed_at",
    )
    .bind(to.to_lowercase())
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(claimed.len(), 10);
    for w in claimed.windows(LIMIT + 1) {
        assert!(
            w[LIMIT] - w[0] >= WINDOW,
            "{} claims within {:.3} s: {claimed:?}",
            LIMIT + 1,
            w[LIMIT] - w[0]
        );
    }
    // The other address was not held up by the flood's window.
    let deferred = consumed(&a, &setup.accounts, "deferred").await;
    assert!(deferred >= 1.0, "the flood was deferred at least once");
    assert_logs_hold_none_of(&[&to, &other]);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_off_the_catalogue_is_dead_lettered_at_once_and_never_logged() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&[]).await;
    let mut app = setup.spawn(port, &[]).await;
    let to = address("poison");
    let secret = format!("S{}", Uuid::new_v4().simple());
    // The code as a number: not the catalogue's PasswordResetRequested.
    let body = serde_json::json!({
        "event": "PasswordResetRequested",
        "data": {"user_id": Uuid::new_v4(), "username": "ana", "email": to, "code": 123_456_789, "link": secret, "expires_in_minutes": 20},
        "timestamp": "2026-12-07T10:00:00.000000+00:00"
    });
    publish_raw(&setup.accounts, "poison-1", body.to_string().as_bytes()).await;
    // And a good one after it, which still goes.
    let fine = address("fine");
    publish_new(&setup.accounts, &reset(&fine, "C0DE", None)).await;

    setup.until_sent(1, Duration::from_secs(30)).await;
    assert_eq!(consumed(&app, &setup.accounts, "dead_lettered").await, 1.0);
    let dlq = hub_testkit::take_messages(&format!("{}.dlq", setup.accounts)).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].message_id.as_deref(), Some("poison-1"));
    assert!(smtp.mails(&to).is_empty());
    assert_eq!(smtp.mails(&fine).len(), 1);
    assert_logs_hold_none_of(&[&to, &secret, "123456789", &fine, "C0DE"]);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_authentication_deliver_and_the_password_comes_from_a_file() {
    let setup = Setup::new().await;
    let folder = Folder::new();
    // A certificate for localhost, trusted through SMTP_TLS_CA_FILE; the relay requires
    // STARTTLS, then AUTH as `hub`. The file's password ends with a newline.
    let secret = format!("pw-{}", Uuid::new_v4().simple());
    let (port, smtp, cert, password) = tls_catcher(&folder, &format!("{secret}\n"), &[]).await;
    let (cert, password) = (cert.to_str().unwrap(), password.to_str().unwrap());
    let mut app = setup
        .spawn(
            port,
            &[
                ("SMTP_HOST", "localhost"),
                ("SMTP_TLS", "starttls"),
                ("SMTP_TLS_CA_FILE", cert),
                ("SMTP_USERNAME", "hub"),
                ("SMTP_PASSWORD_FILE", password),
            ],
        )
        .await;
    let to = address("tls");
    publish_new(&setup.accounts, &reset(&to, "T0KEN", None)).await;
    setup.until_sent(1, Duration::from_secs(30)).await;
    smtp.one_mail_holding(&to, "T0KEN");
    assert_logs_hold_none_of(&[&to, "T0KEN", &secret]);
    app.stop().await.unwrap();
}

/// A catcher that speaks TLS from the first byte (SMTPS) and requires AUTH, with a
/// certificate made for the test; and `SMTP_TLS=tls` mails through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_with_authentication_delivers() {
    let setup = Setup::new().await;
    let folder = Folder::new();
    let secret = format!("pw-{}", Uuid::new_v4().simple());
    let (port, smtp, cert, password) = tls_catcher(&folder, &secret, &["--implicit-tls"]).await;
    let tls = |password: &Path| {
        [
            ("SMTP_HOST", "localhost".to_owned()),
            ("SMTP_TLS", "tls".to_owned()),
            ("SMTP_TLS_CA_FILE", cert.to_str().unwrap().to_owned()),
            ("SMTP_USERNAME", "hub".to_owned()),
            ("SMTP_PASSWORD_FILE", password.to_str().unwrap().to_owned()),
            ("SMTP_TIMEOUT_MS", "8000".to_owned()),
            ("NOTIFY_CLAIM_LEASE_SECS", "10".to_owned()),
        ]
    };
    let to = address("smtps");
    publish_new(&setup.accounts, &reset(&to, "TLS0CODE", None)).await;
    let vars = tls(&password);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut app = setup.spawn(port, &vars).await;
    setup.until_sent(1, Duration::from_secs(30)).await;
    smtp.one_mail_holding(&to, "TLS0CODE");
    assert_logs_hold_none_of(&[&to, "TLS0CODE", &secret]);
    app.stop().await.unwrap();
}

/// A 5xx for one recipient: tried CONSUMER_MAX_ATTEMPTS times, then dead-lettered with
/// its message_id; the mail around it arrives, once each. The server's reply, which
/// quotes the address, is never logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_dead_lettered_after_the_retries_and_the_rest_arrives() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&["--reject", "refused-"]).await;
    let mut app = setup.spawn(port, &[("CONSUMER_MAX_ATTEMPTS", "3")]).await;
    let (before, refused, after) = (address("before"), address("refused"), address("after"));
    let refused_id = Uuid::new_v4().to_string();
    for (to, id) in [
        (&before, Uuid::new_v4().to_string()),
        (&refused, refused_id.clone()),
        (&after, Uuid::new_v4().to_string()),
    ] {
        publish(&setup.accounts, &id, &reset(to, "REFUSE0CODE", None)).await;
    }
    eventually(Duration::from_secs(30), async || {
        consumed(&app, &setup.accounts, "dead_lettered").await == 1.0 && setup.sent().await == 2
    })
    .await;
    assert_eq!(smtp.mails(&before).len(), 1);
    assert_eq!(smtp.mails(&after).len(), 1);
    assert!(smtp.mails(&refused).is_empty());
    assert_eq!(
        smtp.refusals(&refused),
        3,
        "tried CONSUMER_MAX_ATTEMPTS times"
    );
    let dlq = hub_testkit::take_messages(&format!("{}.dlq", setup.accounts)).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].message_id.as_deref(), Some(refused_id.as_str()));
    assert_eq!(dlq[0].body["data"]["email"], refused.as_str());
    assert!(captured().contains("SMTP refused the mail (permanent error)"));
    assert_logs_hold_none_of(&[
        &before,
        &refused,
        &after,
        "REFUSE0CODE",
        "mailbox unavailable",
    ]);
    app.stop().await.unwrap();
}

/// A 4xx for one recipient (greylisting: "try again later", twice): parked, tried again,
/// delivered once, never dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_refusal_is_tried_again_and_delivered_once() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&["--defer", "grey-", "--defer-times", "2"]).await;
    let mut app = setup.spawn(port, &[("CONSUMER_MAX_ATTEMPTS", "1")]).await;
    let grey = address("grey");
    publish_new(&setup.accounts, &reset(&grey, "GREY0CODE", None)).await;
    setup.until_sent(1, Duration::from_secs(30)).await;
    smtp.one_mail_holding(&grey, "GREY0CODE");
    assert_eq!(smtp.refusals(&grey), 2);
    // Deferred twice, even with CONSUMER_MAX_ATTEMPTS=1: a 4xx is not a failure.
    assert_eq!(consumed(&app, &setup.accounts, "deferred").await, 2.0);
    assert_eq!(consumed(&app, &setup.accounts, "dead_lettered").await, 0.0);
    assert_eq!(consumed(&app, &setup.accounts, "processed").await, 1.0);
    assert!(captured().contains("SMTP deferred the mail (transient error)"));
    assert_logs_hold_none_of(&[&grey, "GREY0CODE", "greylisted"]);
    app.stop().await.unwrap();
}

/// A server that accepts the connection and then says nothing: each send gives up after
/// SMTP_TIMEOUT_MS, the event is retried (never dead-lettered), and once a real server
/// answers on that port the mail arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_times_the_send_out_and_the_mail_goes_once_it_answers() {
    let setup = Setup::new().await;
    let folder = Folder::new();
    let port = free_port();
    let staller = Staller::start(port).await;
    const TIMEOUT: Duration = Duration::from_millis(1000);
    let mut app = setup
        .spawn(
            port,
            &[("SMTP_TIMEOUT_MS", "1000"), ("CONSUMER_MAX_ATTEMPTS", "1")],
        )
        .await;
    let to = address("stalled");
    publish_new(&setup.accounts, &reset(&to, "STALL0CODE", None)).await;
    // Two sends that each hung up after the timeout, not before, nor much after.
    let held = eventually(Duration::from_secs(30), async || {
        let held = staller.held();
        (held.len() >= 2).then_some(held)
    })
    .await;
    for h in &held {
        assert!(
            *h >= TIMEOUT - Duration::from_millis(50) && *h < TIMEOUT + Duration::from_millis(1500),
            "a send waited {h:?}, SMTP_TIMEOUT_MS is {TIMEOUT:?}"
        );
    }
    assert!(captured().contains("SMTP server unavailable (timed out)"));
    assert_eq!(setup.sent().await, 0);
    assert_eq!(consumed(&app, &setup.accounts, "dead_lettered").await, 0.0);

    staller.stop().await;
    let smtp = Catcher::start(port, &folder.0).await;
    setup.until_sent(1, Duration::from_secs(30)).await;
    smtp.one_mail_holding(&to, "STALL0CODE");
    assert_eq!(consumed(&app, &setup.accounts, "dead_lettered").await, 0.0);
    assert_logs_hold_none_of(&[&to, "STALL0CODE"]);
    app.stop().await.unwrap();
}

/// Head of line: one consumer taking one message at a time (prefetch 1), and at the head
/// of its queue mail that cannot go now: an address over its rate limit (one mail an
/// hour) and an address the server greylists for good. The mail queued behind them, for
/// twenty other addresses, arrives at once; the held-back mail is parked, neither sent
/// nor dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_that_must_wait_holds_up_no_other_recipient() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&["--defer", "grey-", "--defer-times", "1000000"]).await;
    let mut app = setup
        .spawn(
            port,
            &[
                ("NOTIFY_RATE_LIMIT", "1"),
                ("NOTIFY_RATE_WINDOW_SECS", "3600"),
                ("CONSUMER_PREFETCH", "1"),
                ("CONSUMER_DEFER_MS", "1000"),
            ],
        )
        .await;
    let flood = address("flood");
    let grey = address("grey");
    let changed = |to: &str| PasswordChanged {
        user_id: Uuid::new_v4(),
        username: "ana".into(),
        email: to.to_owned(),
    };
    // In this order, one by one: the flood's first mail goes, its next five must wait an
    // hour; the greylisted one waits for ever.
    for _ in 0..6 {
        publish_new(&setup.accounts, &changed(&flood)).await;
    }
    publish_new(&setup.accounts, &changed(&grey)).await;
    let others: Vec<String> = (0..20).map(|i| address(&format!("behind{i}"))).collect();
    for to in &others {
        publish_new(&setup.accounts, &changed(to)).await;
    }
    setup.until_sent(21, Duration::from_secs(30)).await;
    for to in &others {
        assert_eq!(smtp.mails(to).len(), 1, "{to}");
    }
    assert_eq!(smtp.mails(&flood).len(), 1);
    assert!(smtp.mails(&grey).is_empty());
    assert!(smtp.refusals(&grey) >= 1);
    // Parked, and parked again while they may not go: never dead-lettered, never dropped.
    eventually(Duration::from_secs(10), async || {
        consumed(&app, &setup.accounts, "deferred").await >= 12.0
    })
    .await;
    assert_eq!(consumed(&app, &setup.accounts, "dead_lettered").await, 0.0);
    assert_eq!(setup.sent().await, 21);
    assert_eq!(smtp.mails(&flood).len(), 1);
    let mut secrets: Vec<&str> = others.iter().map(String::as_str).collect();
    secrets.extend([flood.as_str(), grey.as_str()]);
    assert_logs_hold_none_of(&secrets);
    app.stop().await.unwrap();
}

/// Many different events at once, consumed by two instances: every mail arrives once, to
/// its own address, with its own code, and nothing goes anywhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_at_once_across_two_instances_each_mail_once_to_its_address() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&[]).await;
    let (mut a, mut b) = tokio::join!(setup.spawn(port, &[]), setup.spawn(port, &[]));
    const N: usize = 60;
    let mail: Vec<(String, String)> = (0..N)
        .map(|i| {
            (
                address(&format!("many{i}")),
                format!("M{i}x{}", &Uuid::new_v4().simple().to_string()[..10]),
            )
        })
        .collect();
    let accounts = setup.accounts.as_str();
    join_all(mail.iter().map(|(to, code)| async move {
        publish_new(accounts, &reset(to, code, None)).await;
    }))
    .await;
    setup.until_sent(N as i64, Duration::from_secs(60)).await;
    for (to, code) in &mail {
        let mails = smtp.mails(to);
        assert_eq!(mails.len(), 1, "{to}: one mail");
        assert_eq!(header(&mails[0], "To"), Some(to.as_str()));
        assert!(
            parts(&mails[0]).0.contains(&format!("    {code}\r\n")),
            "{to}: its own code"
        );
    }
    assert_eq!(smtp.all_mails(), N, "no mail to any other address");
    let processed = consumed(&a, &setup.accounts, "processed").await;
    assert_eq!(processed, N as f64, "both instances together");
    let mut secrets: Vec<&str> = mail.iter().map(|(to, _)| to.as_str()).collect();
    secrets.extend(mail.iter().map(|(_, code)| code.as_str()));
    assert_logs_hold_none_of(&secrets);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// The SMTP server stops while two instances run (its pooled connections die with it),
/// mail is published during the outage, and the server starts again on the same port:
/// every mail arrives once, none is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_stopped_and_started_again_loses_no_mail_across_two_instances() {
    let setup = Setup::new().await;
    let (folder, port, smtp) = catcher(&[]).await;
    let (mut a, mut b) = tokio::join!(setup.spawn(port, &[]), setup.spawn(port, &[]));
    let first = address("first");
    publish_new(&setup.accounts, &reset(&first, "FIRST0CODE", None)).await;
    setup.until_sent(1, Duration::from_secs(30)).await;
    assert_eq!(smtp.mails(&first).len(), 1);
    smtp.kill();

    let to: Vec<String> = (0..12).map(|i| address(&format!("down{i}"))).collect();
    let accounts = setup.accounts.as_str();
    join_all(to.iter().map(|t| async move {
        publish_new(accounts, &reset(t, "DOWN0CODE", None)).await;
    }))
    .await;
    eventually(Duration::from_secs(30), async || {
        consumed(&a, &setup.accounts, "retried").await >= 4.0
    })
    .await;
    assert_eq!(setup.sent().await, 1);

    let smtp = Catcher::start(port, &folder.0).await;
    setup.until_sent(13, Duration::from_secs(60)).await;
    for t in to.iter().chain([&first]) {
        assert_eq!(smtp.mails(t).len(), 1, "{t}");
    }
    assert_eq!(smtp.all_mails(), 13);
    assert_eq!(consumed(&a, &setup.accounts, "dead_lettered").await, 0.0);
    let mut secrets: Vec<&str> = to.iter().map(String::as_str).collect();
    secrets.extend([first.as_str(), "FIRST0CODE", "DOWN0CODE"]);
    assert_logs_hold_none_of(&secrets);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// The service's logs, captured at debug level from every crate while it sends, refuses
/// and defers mail, hold no line of any mail's text or HTML part, no code, no link, no
/// subject, no address, and none of the server's replies (which quote the address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mail_body_code_or_link_in_any_log() {
    let setup = Setup::new().await;
    let (_folder, port, smtp) = catcher(&[
        "--reject",
        "refused-",
        "--defer",
        "grey-",
        "--defer-times",
        "1",
    ])
    .await;
    let mut app = setup.spawn(port, &[("CONSUMER_MAX_ATTEMPTS", "2")]).await;
    let code = format!("L{}", &Uuid::new_v4().simple().to_string()[..12]);
    let link = format!("https://front.example.test/reset?code={code}&u=logcheck");
    let (sent, grey, refused) = (address("sent"), address("grey"), address("refused"));
    for to in [&sent, &grey, &refused] {
        publish_new(&setup.accounts, &reset(to, &code, Some(link.clone()))).await;
    }
    let welcome = address("welcomelog");
    let mut user = registered(&welcome);
    user.first_name = format!("Firstname{}", &Uuid::new_v4().simple().to_string()[..8]);
    publish_new(&setup.users, &user).await;
    eventually(Duration::from_secs(30), async || {
        setup.sent().await == 3 && consumed(&app, &setup.accounts, "dead_lettered").await == 1.0
    })
    .await;

    // Every line of every mail as received, decoded: the bodies.
    let mut lines: Vec<String> = Vec::new();
    for to in [&sent, &grey, &welcome] {
        let mails = smtp.mails(to);
        assert_eq!(mails.len(), 1, "{to}");
        let (text, html) = parts(&mails[0]);
        for line in text.lines().chain(html.lines()) {
            let line = line.trim();
            // Lines long enough to be the mail's own words, not markup like "</p>".
            if line.len() >= 12 {
                lines.push(line.to_owned());
            }
        }
        lines.push(header(&mails[0], "Subject").unwrap().to_owned());
    }
    assert!(lines.len() > 10, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(&code)) && lines.iter().any(|l| l.contains(&link)));
    let mut secrets: Vec<&str> = lines.iter().map(String::as_str).collect();
    secrets.extend([
        code.as_str(),
        link.as_str(),
        sent.as_str(),
        grey.as_str(),
        refused.as_str(),
        welcome.as_str(),
        user.first_name.as_str(),
        "mailbox unavailable",
        "greylisted",
    ]);
    assert_logs_hold_none_of(&secrets);
    // The logs did see the whole story.
    let logs = captured();
    for kind in [
        "SMTP deferred the mail (transient error)",
        "SMTP refused the mail (permanent error)",
        "dead-lettering",
    ] {
        assert!(logs.contains(kind), "{kind}");
    }
    app.stop().await.unwrap();
}
