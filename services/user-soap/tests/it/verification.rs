//! Email verification at registration: both doors (SOAP and JSON) store a code, hashed,
//! and write the `EmailVerificationRequested` that mails it to the account-events queue,
//! in the registration's transaction; the replies are unchanged (see the snapshots).

use std::time::Duration;

use hub_testkit::Go as _;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::app::{SoapApp as _, SoapHelpers as _, TestApp, pairs, tag, user_fields};

async fn digests_of(app: &TestApp, email: &str) -> Vec<(Vec<u8>, String)> {
    sqlx::query_as(
        r#"SELECT c.code_digest, c.purpose FROM email_confirmation c JOIN "user" u ON u.id = c.user_id
           WHERE u.email = $1 AND c.email = $1 AND c.expires_at > now() + interval '23 hours'"#,
    )
    .bind(email)
    .fetch_all(&mut app.db().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn both_doors_mail_a_verification_code_in_the_registrations_transaction() {
    let app = TestApp::spawn().await;
    let (soap, json) = (user_fields(&tag()), user_fields(&tag()));

    let (status, _, _) = app.register11(&pairs(&soap)).await;
    assert_eq!(status, 200);
    let body: Map<String, Value> = json
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let resp = app.req(Method::POST, "/api/users").json(&body).go().await;
    assert_eq!(resp.status(), 201);
    // A duplicate asks for no mail.
    let (status, _, _) = app.register11(&pairs(&soap)).await;
    assert_eq!(status, 409);

    app.wait_outbox_drained(Duration::from_secs(20)).await;
    let mails = hub_testkit::take_messages(&format!("{}.account", app.queue)).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    for (fields, mail) in [(&soap, &mails[0]), (&json, &mails[1])] {
        let email = &fields[5].1;
        assert_eq!(mail.event(), "EmailVerificationRequested");
        assert_eq!(mail.app_id.as_deref(), Some("user-soap"));
        let data = &mail.body["data"];
        assert_eq!(
            (&data["email"], &data["purpose"]),
            (&Value::from(email.as_str()), &Value::from("registration"))
        );
        assert_eq!(data["username"], fields[0].1.as_str());
        assert_eq!(data["expires_in_minutes"], 24 * 60);
        let code = data["code"].as_str().unwrap();
        assert_eq!(code.len(), 27, "160 bits, base64url");
        // Stored only as its digest.
        let stored = digests_of(&app, email).await;
        assert_eq!(
            stored,
            [(
                hub_identity::confirmation::digest(code),
                "registration".to_owned()
            )]
        );
    }
    // UserRegistered still goes, alone, to the user events' queue.
    let events: Vec<String> = app
        .take_messages()
        .await
        .iter()
        .map(|m| m.event().to_owned())
        .collect();
    assert_eq!(
        events,
        ["UserRegistered", "UserRegistered", "UserRegistrationFailed"]
    );
}
