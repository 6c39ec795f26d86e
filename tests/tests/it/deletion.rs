//! Issue 23, item 7, across services: an account deleted through auth leaves nothing of
//! the user in any store — PostgreSQL (every table, the outbox's payloads included),
//! MongoDB (session), S3 (images), the queues and their dead-letter queues — also when
//! the consumers that apply `UserDeleted` are killed midway (their backing server cut
//! while they hold the event, then stopped: the event is redelivered to their
//! replacements and applied), and when logins race the deletion on two auth instances
//! with two session instances consuming. And the export: one JSON document with what
//! every store holds of the user (auth reading session and images as the user), or a
//! 503 naming the store that could not be read.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use hub_runtime::service::Settings;
use hub_testkit::{Go as _, Spawned, TcpRelay, eventually, spawn};
use mongodb::bson::doc;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection as _;

/// A real PNG (images decodes every upload).
fn png() -> Vec<u8> {
    hub_testkit::TINY_PNG.to_vec()
}

const WITHIN: Duration = Duration::from_secs(30);

/// One test's shared resources: database, the two queues, MongoDB database, bucket, secret.
struct Stack {
    db_url: String,
    auth_queue: String,
    images_queue: String,
    mongo_db: String,
    bucket: String,
    secret: String,
}

impl Stack {
    async fn new() -> Self {
        Self {
            db_url: hub_testkit::create_database("deletion").await,
            auth_queue: hub_testkit::queue_name("del-auth"),
            images_queue: hub_testkit::queue_name("del-images"),
            mongo_db: hub_testkit::mongo_database("deletion"),
            bucket: hub_testkit::bucket_name("deletion"),
            secret: format!("secret-{}", uuid::Uuid::new_v4()),
        }
    }

    fn source(&self, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let (amqp, mongo, s3) = (
            hub_testkit::amqp_url(),
            hub_testkit::mongodb_uri(),
            hub_testkit::env("S3_ENDPOINT"),
        );
        let (key, secret) = (
            hub_testkit::env("AWS_ACCESS_KEY_ID"),
            hub_testkit::env("AWS_SECRET_ACCESS_KEY"),
        );
        let own = [
            ("DATABASE_URL", self.db_url.as_str()),
            ("AMQP_URL", amqp.as_str()),
            ("SECRET_KEY", self.secret.as_str()),
            ("MONGODB_URI", mongo.as_str()),
            ("MONGODB_DATABASE", self.mongo_db.as_str()),
            ("S3_ENDPOINT", s3.as_str()),
            ("AWS_ACCESS_KEY_ID", key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
            ("AWS_BUCKET_NAME", self.bucket.as_str()),
            ("RABBITMQ_QUEUE", self.auth_queue.as_str()),
            ("IMAGES_QUEUE", self.images_queue.as_str()),
            ("LOGIN_MAX_FAILURES_PER_USER", "1000"),
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000"),
            ("DB_MAX_CONNECTIONS", "30"),
            ("DB_ACQUIRE_TIMEOUT_MS", "10000"),
            ("CONSUMER_PREFETCH", "1"),
            ("CONSUMER_RETRY_MAX_MS", "300"),
        ];
        let own: Vec<(&str, &str)> = own.iter().chain(extra).copied().collect();
        hub_testkit::config_source(&hub_checks::IN_PROCESS, &own)
    }

    async fn auth(&self) -> Spawned {
        spawn::<auth::Auth>(self.source(&[])).await
    }

    /// auth reading sessions and images (the export) at these services.
    async fn auth_reading(&self, session: &Spawned, images: &Spawned) -> Spawned {
        let extra = [
            ("SESSION_URL", session.base.as_str()),
            ("IMAGES_URL", images.base.as_str()),
        ];
        spawn::<auth::Auth>(self.source(&extra)).await
    }

    /// session, on MongoDB at `mongo` (a relay's address) if given.
    async fn session(&self, mongo: Option<&str>) -> Spawned {
        match mongo {
            Some(uri) => spawn::<session::Session>(self.source(&[("MONGODB_URI", uri)])).await,
            None => spawn::<session::Session>(self.source(&[])).await,
        }
    }

    /// images consuming its own queue, on S3 at `s3` (a relay's address) if given.
    async fn images(&self, s3: Option<&str>) -> Spawned {
        let queue = [("CONSUMER_QUEUE", self.images_queue.as_str())];
        match s3 {
            Some(url) => {
                let extra = [queue[0], ("S3_ENDPOINT", url)];
                spawn::<images::Images>(self.source(&extra)).await
            }
            None => spawn::<images::Images>(self.source(&queue)).await,
        }
    }

    fn bucket_store(&self) -> images::store::Store {
        let settings = Settings::<images::Config>::from_source(&self.source(&[]), 0).unwrap();
        images::store::Store::new(&settings.service.s3)
    }

    async fn sessions_of(&self, user: &str) -> u64 {
        let client = mongodb::Client::with_uri_str(hub_testkit::mongodb_uri())
            .await
            .unwrap();
        client
            .database(&self.mongo_db)
            .collection::<mongodb::bson::Document>("sessions")
            .count_documents(doc! { "userId": user })
            .await
            .unwrap()
    }

    /// Stores a PNG under each of `keys`, straight into the bucket (replacing any).
    async fn put_pngs(&self, keys: &[String]) {
        let store = self.bucket_store();
        for key in keys {
            store
                .put(
                    key,
                    "image/png",
                    png().into(),
                    images::access::Write::Replace,
                )
                .await
                .unwrap();
        }
    }

    async fn keys_of(&self, user: &str) -> Vec<String> {
        let keys = self.bucket_store().list_keys().await.unwrap();
        keys.into_iter().filter(|k| k.starts_with(user)).collect()
    }

    /// A user registered as user-soap writes one, with a legacy password hash.
    async fn user(&self, name: &str) -> (String, [String; 3]) {
        let email = format!("{name}@example.com");
        let hash = hub_identity::password::legacy_hash("right-password");
        let id = hub_testkit::seed_user_with(&self.db_url, name, &email, &hash).await;
        let dni: String = sqlx::query_scalar(r#"SELECT dni FROM "user" WHERE id = $1"#)
            .bind(id)
            .fetch_one(&mut sqlx::PgConnection::connect(&self.db_url).await.unwrap())
            .await
            .unwrap();
        (id.to_string(), [name.to_owned(), email, dni])
    }

    /// Nothing of the user in any message of the queues and their dead-letter queues
    /// (taken, so call once nothing consumes them any more).
    async fn assert_queues_clean(&self, needles: &[&str]) {
        for queue in [&self.auth_queue, &self.images_queue] {
            for q in [queue.clone(), format!("{queue}.dlq")] {
                for m in hub_testkit::take_messages(&q).await {
                    let text = m.body.to_string().to_lowercase();
                    for n in needles {
                        assert!(!text.contains(&n.to_lowercase()), "{q} holds {n}: {text}");
                    }
                }
            }
        }
    }
}

async fn login(auth: &Spawned, user: &str) -> (u16, Value) {
    let resp = auth
        .post("/login")
        .json(&json!({"username": user, "password": "right-password"}))
        .go()
        .await;
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn delete(auth: &Spawned, token: &str) -> u16 {
    auth.req(Method::DELETE, "/api/account")
        .bearer_auth(token)
        .json(&json!({"password": "right-password"}))
        .go()
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_deletion_reaches_every_store_even_when_its_consumers_are_killed_midway() {
    let stack = Stack::new().await;
    let name = format!("del{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    // auth migrates the fresh database; then the user.
    let (auth_a, auth_b) = (stack.auth().await, stack.auth().await);
    let (id, [username, email, dni]) = stack.user(&name).await;
    let (mongo_relay, mongo_through) = TcpRelay::for_url(&hub_testkit::mongodb_uri()).await;
    let mongo_direct = format!(
        "{}/?directConnection=true",
        mongo_through.split("/?").next().unwrap()
    );
    let (s3_relay, s3_through) = TcpRelay::for_url(&hub_testkit::env("S3_ENDPOINT")).await;
    let mut session_1 = stack.session(Some(&mongo_direct)).await;
    let mut images_1 = stack.images(Some(&s3_through)).await;

    // The user's traces: a login (session document through UserLoggedIn), images under
    // both key shapes, and someone else's image that must stay.
    let (status, body) = login(&auth_a, &username).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    eventually(WITHIN, async || stack.sessions_of(&id).await == 1).await;
    stack
        .put_pngs(&[
            format!("{id}.png"),
            format!("{id}/v1/small.png"),
            "someone-else.png".into(),
        ])
        .await;
    assert_eq!(stack.keys_of(&id).await.len(), 2);

    // Both consumers lose their backing server, then the account is deleted: each gets
    // its UserDeleted and cannot apply it.
    mongo_relay.cut().await;
    s3_relay.cut().await;
    assert_eq!(delete(&auth_b, &token).await, 200);
    hub_testkit::wait_outbox_drained(&stack.db_url, WITHIN).await;
    for queue in [&stack.auth_queue, &stack.images_queue] {
        eventually(WITHIN, async || {
            hub_testkit::ready_messages(queue).await == 0
        })
        .await;
    }
    assert_eq!(
        stack.sessions_of(&id).await,
        1,
        "session holds its event, unapplied"
    );
    assert_eq!(
        stack.keys_of(&id).await.len(),
        2,
        "images holds its event, unapplied"
    );

    // Killed midway: their replacements (two of each) get the event again and apply it.
    session_1.stop().await.unwrap();
    images_1.stop().await.unwrap();
    let mut replacements = [
        stack.session(None).await,
        stack.session(None).await,
        stack.images(None).await,
        stack.images(None).await,
    ];
    eventually(WITHIN, async || stack.sessions_of(&id).await == 0).await;
    eventually(WITHIN, async || stack.keys_of(&id).await.is_empty()).await;
    assert!(
        stack
            .bucket_store()
            .list_keys()
            .await
            .unwrap()
            .contains(&"someone-else.png".to_owned()),
        "only the user's objects go"
    );

    // PostgreSQL: nothing but the id in the deletion log and the UserDeleted events.
    let needles = [id.as_str(), username.as_str(), email.as_str(), dni.as_str()];
    let hits = hub_testkit::pg_leftovers(&stack.db_url, &id, &needles).await;
    assert!(hits.is_empty(), "left behind: {hits:#?}");
    // The queues and their dead-letter queues, once every consumer has stopped.
    for queue in [&stack.auth_queue, &stack.images_queue] {
        eventually(WITHIN, async || {
            hub_testkit::ready_messages(queue).await == 0
        })
        .await;
    }
    for s in &mut replacements {
        s.stop().await.unwrap();
    }
    stack.assert_queues_clean(&needles).await;
}

#[tokio::test]
async fn a_deletion_racing_logins_on_two_instances_leaves_no_session_token_or_image() {
    let stack = Stack::new().await;
    let name = format!("race{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let auths = [stack.auth().await, stack.auth().await];
    let (id, [username, email, dni]) = stack.user(&name).await;
    let mut sessions = [stack.session(None).await, stack.session(None).await];
    let mut images = [stack.images(None).await, stack.images(None).await];
    let (status, body) = login(&auths[0], &username).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let upload = reqwest::multipart::Part::bytes(png()).file_name(format!("{id}.png"));
    let resp = images[0]
        .post("/upload_image")
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", upload))
        .go()
        .await;
    assert_eq!(resp.status(), 200);

    // 30 logins spread over both auth instances, and the deletion, at once.
    let mut racing = Vec::new();
    for i in 0..30 {
        let (base, username) = (auths[i % 2].base.clone(), username.clone());
        racing.push(tokio::spawn(async move {
            let resp = hub_checks::system::client()
                .post(format!("{base}/login"))
                .json(&json!({"username": username, "password": "right-password"}))
                .go()
                .await;
            (resp.status().as_u16(), resp.text().await.unwrap())
        }));
    }
    let (base, bearer) = (auths[1].base.clone(), token.clone());
    racing.push(tokio::spawn(async move {
        let resp = hub_checks::system::client()
            .delete(format!("{base}/api/account"))
            .bearer_auth(bearer)
            .json(&json!({"password": "right-password"}))
            .go()
            .await;
        (1000 + resp.status().as_u16(), resp.text().await.unwrap())
    }));
    let mut answers = Vec::new();
    for task in racing {
        answers.push(task.await.unwrap());
    }
    assert_eq!(
        answers.last().unwrap().0,
        1200,
        "the deletion: {:?}",
        answers.last()
    );
    for (status, body) in &answers[..30] {
        assert!(
            *status == 200 || (*status == 401 && body.contains("Invalid credentials")),
            "a login answered {status}: {body}"
        );
    }

    // Every event is published and consumed; the consumers (prefetch 1) finish the one in
    // hand when stopped, so once stopped with empty queues, all was applied.
    hub_testkit::wait_outbox_drained(&stack.db_url, WITHIN).await;
    for queue in [&stack.auth_queue, &stack.images_queue] {
        eventually(WITHIN, async || {
            hub_testkit::ready_messages(queue).await == 0
        })
        .await;
    }
    for s in sessions.iter_mut().chain(images.iter_mut()) {
        s.stop().await.unwrap();
    }
    for queue in [&stack.auth_queue, &stack.images_queue] {
        assert_eq!(
            hub_testkit::ready_messages(queue).await,
            0,
            "{queue}: nothing requeued"
        );
    }
    assert_eq!(stack.sessions_of(&id).await, 0, "no session left");
    assert!(stack.keys_of(&id).await.is_empty(), "no image left");
    let needles = [id.as_str(), username.as_str(), email.as_str(), dni.as_str()];
    let hits: Vec<_> = hub_testkit::pg_leftovers(&stack.db_url, &id, &needles)
        .await
        .into_iter()
        // A login of the name after the deletion is counted by the digest of the login
        // string, as for any name that matches no account; never by the account.
        .filter(|(table, row)| table != "login_throttle" || row.contains(&id))
        .collect();
    assert!(hits.is_empty(), "left behind: {hits:#?}");
    stack
        .assert_queues_clean(&[username.as_str(), email.as_str(), dni.as_str()])
        .await;
}

/// `GET path` on auth with `token`: status and JSON body.
async fn get_json(auth: &Spawned, path: &str, token: &str) -> (u16, Value) {
    let resp = auth.req(Method::GET, path).bearer_auth(token).go().await;
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A new administrator (granted by the operator's command) and its token.
async fn admin_token(stack: &Stack, auth: &Spawned) -> String {
    let name = format!("adm{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    stack.user(&name).await;
    let env = std::collections::HashMap::from([("DATABASE_URL".to_owned(), stack.db_url.clone())]);
    let env = move |k: &str| env.get(k).cloned();
    auth::admin::users(&["grant-admin".to_owned(), name.clone()], &env)
        .await
        .unwrap();
    let (status, body) = login(auth, &name).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// Uploads `<id>.png` to images with `token`.
async fn upload_own(images: &Spawned, id: &str, token: &str) {
    let part = reqwest::multipart::Part::bytes(png()).file_name(format!("{id}.png"));
    let resp = images
        .post("/upload_image")
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .go()
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

/// The keys of an export's `images`.
fn exported_keys(export: &Value) -> Vec<String> {
    export["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no images list: {export}"))
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_export_holds_the_users_rows_session_and_images_for_the_user_and_an_admin() {
    let stack = Stack::new().await;
    // auth migrates the fresh database first.
    let first = stack.auth().await;
    let (session, images) = (stack.session(None).await, stack.images(None).await);
    let auth = stack.auth_reading(&session, &images).await;
    drop(first);
    let name = format!("exp{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (id, [username, email, _dni]) = stack.user(&name).await;
    let (status, body) = login(&auth, &username).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    // The login's UserLoggedIn creates the session; then the user writes to it.
    eventually(WITHIN, async || stack.sessions_of(&id).await == 1).await;
    let resp = session
        .post("/api/sessions")
        .bearer_auth(&token)
        .json(&json!({"data": {"theme": "dark", "text": "hola"}}))
        .go()
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    upload_own(&images, &id, &token).await;
    // Someone else's objects, also one whose name starts with the id, stay out.
    stack
        .put_pngs(&["someone-else.png".to_owned(), format!("{id}x.png")])
        .await;

    let check = |export: &Value| {
        assert_eq!(export["user"]["email"], email.as_str(), "{export}");
        assert!(export["user"].get("password").is_none(), "{export}");
        assert_eq!(export["logins"].as_array().unwrap().len(), 1, "{export}");
        for key in ["login_throttle", "events", "mails"] {
            assert!(export[key].is_array(), "{key}: {export}");
        }
        let sessions = &export["sessions"];
        assert_eq!(sessions["userId"], id.as_str(), "{export}");
        assert_eq!(sessions["data"]["theme"], "dark", "{export}");
        assert!(sessions["lastLoginAt"].is_string(), "{export}");
        let keys = exported_keys(export);
        assert!(keys.contains(&format!("{id}.png")), "{keys:?}");
        assert!(
            keys.iter().any(|k| k.starts_with(&format!("{id}/"))),
            "its versions and variants: {keys:?}"
        );
        assert!(
            keys.iter()
                .all(|k| k.starts_with(&format!("{id}.")) || k.starts_with(&format!("{id}/"))),
            "only the user's: {keys:?}"
        );
        for o in export["images"].as_array().unwrap() {
            assert!(o["size"].as_u64().unwrap() > 0, "{o}");
            assert!(o["last_modified"].is_string(), "{o}");
            assert!(o["url"].as_str().unwrap().contains(&stack.bucket), "{o}");
        }
    };
    let (status, mine) = get_json(&auth, "/api/account/export", &token).await;
    assert_eq!(status, 200, "{mine}");
    check(&mine);

    // An administrator's export of the user: the same document.
    let admin = admin_token(&stack, &auth).await;
    let (status, theirs) = get_json(&auth, &format!("/api/admin/users/{id}/export"), &admin).await;
    assert_eq!(status, 200, "{theirs}");
    check(&theirs);
    assert_eq!(theirs["sessions"], mine["sessions"]);
    assert_eq!(theirs["images"], mine["images"]);

    // A user who never logged in nor uploaded: no session (null), no images.
    let (quiet, _) = stack.user(&format!("q{name}")).await;
    let (status, export) =
        get_json(&auth, &format!("/api/admin/users/{quiet}/export"), &admin).await;
    assert_eq!(status, 200, "{export}");
    assert!(export["sessions"].is_null(), "{export}");
    assert_eq!(export["images"], json!([]), "{export}");
    assert_eq!(export["user"]["id"], quiet.as_str(), "{export}");

    // Deactivated, its tokens are refused by session and images: 409, not a partial export.
    let path = format!("/api/admin/users/{quiet}/deactivate");
    let resp = auth.post(&path).bearer_auth(&admin).go().await;
    assert_eq!(resp.status(), 200);
    let (status, body) = get_json(&auth, &format!("/api/admin/users/{quiet}/export"), &admin).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    // Reactivated (which revokes every token issued until now): at once exportable again.
    let path = format!("/api/admin/users/{quiet}/reactivate");
    let resp = auth.post(&path).bearer_auth(&admin).go().await;
    assert_eq!(resp.status(), 200);
    let (status, export) =
        get_json(&auth, &format!("/api/admin/users/{quiet}/export"), &admin).await;
    assert_eq!(status, 200, "{export}");
    assert!(export["user"]["tokens_valid_after"].is_string(), "{export}");
}

#[tokio::test]
async fn an_export_whose_session_or_images_cannot_be_read_answers_503_naming_it_and_nothing_else() {
    let stack = Stack::new().await;
    let first = stack.auth().await;
    let (mut session, mut images) = (stack.session(None).await, stack.images(None).await);
    let auth = stack.auth_reading(&session, &images).await;
    drop(first);
    let name = format!("exq{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (id, [username, ..]) = stack.user(&name).await;
    let (status, body) = login(&auth, &username).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    upload_own(&images, &id, &token).await;
    let (status, export) = get_json(&auth, "/api/account/export", &token).await;
    assert_eq!(status, 200, "{export}");

    // images stopped: 503 naming images, and only the error (no partial document).
    images.stop().await.unwrap();
    let (status, body) = get_json(&auth, "/api/account/export", &token).await;
    assert_eq!(status, 503, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Export unavailable: images could not be read"),
        "{body}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "nothing partial: {body}"
    );

    // session stopped too: the answer names sessions.
    session.stop().await.unwrap();
    let admin = admin_token(&stack, &auth).await;
    let (status, body) = get_json(&auth, &format!("/api/admin/users/{id}/export"), &admin).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Export unavailable: sessions could not be read"),
        "{body}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "nothing partial: {body}"
    );
}
