//! Every event names the service that produced it. auth and user-soap share one
//! database, so either service's relay may publish the other's outbox rows: the message's
//! `app_id` comes from the row (its `producer`), not from the relay that sent it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use hub_testkit::{Go as _, config_source};
use sqlx::{Connection as _, PgConnection};

const REGISTER: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><soapenv:Body><u:RegisterUser><u:username>{u}</u:username><u:password>s3cret pw</u:password><u:first_name>Ana</u:first_name><u:last_name>Ruiz</u:last_name><u:dni>{u}</u:dni><u:email>{u}@example.com</u:email><u:city>Madrid</u:city></u:RegisterUser></soapenv:Body></soapenv:Envelope>"#;

#[tokio::test]
async fn a_registration_relayed_by_auths_relay_goes_out_labelled_user_soap() {
    let db_url = hub_testkit::create_database("producer").await;
    let queue = hub_testkit::queue_name("user-events");
    // The registration's verification mail event goes to a queue of its own.
    let account_queue = format!("{queue}.account");
    let own = [
        ("DATABASE_URL", db_url.as_str()),
        ("RABBITMQ_QUEUE", queue.as_str()),
        ("RABBITMQ_ACCOUNT_QUEUE", account_queue.as_str()),
        ("OUTBOX_PUBLISH_TIMEOUT_MS", "2000"),
    ];
    let common = [&hub_checks::IN_PROCESS[..], &own].concat();
    // user-soap's own relay cannot reach a broker (nothing listens on port 1), so the
    // row can only leave through auth's.
    let mut soap = hub_testkit::spawn::<user_soap::UserSoap>(config_source(
        &common,
        &[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
    ))
    .await;
    let user = format!("prod{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let resp = soap
        .post("/register")
        .header("content-type", "text/xml; charset=utf-8")
        .body(REGISTER.replace("{u}", &user))
        .go()
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // A row from before the outbox recorded producers: the relay's own name, as then.
    let mut conn = PgConnection::connect(&db_url).await.unwrap();
    sqlx::query(
        "INSERT INTO outbox (message_id, queue, event, body) VALUES ($1, $2, 'TestEvent', $3)",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(&queue)
    .bind(r#"{"event":"TestEvent","data":{"msg":"Esto es una prueba"},"timestamp":"2025-07-05T23:40:01.000000+00:00"}"#)
    .execute(&mut conn)
    .await
    .unwrap();
    let producers: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT producer FROM outbox WHERE published_at IS NULL AND queue = $1 ORDER BY id",
    )
    .bind(&queue)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(producers, [Some("user-soap".to_owned()), None]);

    let mut auth = hub_testkit::spawn::<auth::Auth>(config_source(
        &common,
        &[
            ("AMQP_URL", &hub_testkit::amqp_url()),
            ("SECRET_KEY", "producer-test-secret"),
        ],
    ))
    .await;
    hub_testkit::wait_outbox_drained(&db_url, Duration::from_secs(15)).await;
    let messages = hub_testkit::take_messages(&queue).await;
    let got: Vec<(&str, Option<&str>)> = messages
        .iter()
        .map(|m| (m.event(), m.app_id.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("UserRegistered", Some("user-soap")),
            ("TestEvent", Some("auth")),
        ]
    );
    assert_eq!(messages[0].body["data"]["username"], user.as_str());
    let mails = hub_testkit::take_messages(&account_queue).await;
    let got: Vec<(&str, Option<&str>)> = mails
        .iter()
        .map(|m| (m.event(), m.app_id.as_deref()))
        .collect();
    assert_eq!(got, [("EmailVerificationRequested", Some("user-soap"))]);
    auth.stop().await.unwrap();
    soap.stop().await.unwrap();
}
