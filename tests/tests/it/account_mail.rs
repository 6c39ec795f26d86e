//! Email verification and email change end to end, mail included: register over SOAP
//! (user-soap writes the verification event), notifications mails the code through the
//! real SMTP catcher of scripts/backing.sh, the code from the mail verifies the address
//! at auth, whose login waited for it (`REQUIRE_VERIFIED_EMAIL`); then an email change
//! mails a code to the new address and, once confirmed, a notice to the old one.

use std::{path::PathBuf, time::Duration};

use hub_testkit::{Go as _, Spawned, eventually, json_body};
use reqwest::Method;
use serde_json::{Value, json};

const REGISTER: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://example.com/user"><soapenv:Body><u:RegisterUser><u:username>{u}</u:username><u:password>s3cret pw</u:password><u:first_name>Ana</u:first_name><u:last_name>Ruiz</u:last_name><u:dni>{u}</u:dni><u:email>{u}@example.com</u:email><u:city>Madrid</u:city></u:RegisterUser></soapenv:Body></soapenv:Envelope>"#;

/// The mails `to` received from the backing catcher, oldest first.
fn mails(to: &str) -> Vec<String> {
    let dir = PathBuf::from(hub_testkit::env("HUB_MAIL_DIR")).join(to.to_lowercase());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    paths.sort();
    // Quoted-printable soft line breaks undone (the parts are ASCII).
    paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .replace("=\r\n", "")
                .replace("=3D", "=")
        })
        .collect()
}

/// Waits for the `n`th mail to `to` and returns it.
async fn nth_mail(to: &str, n: usize) -> String {
    eventually(Duration::from_secs(30), async || {
        mails(to).into_iter().nth(n - 1).ok_or("not arrived yet")
    })
    .await
}

/// The code in a mail's text part: the templates write it alone on a line indented by
/// four spaces (27 base64url characters).
fn code_in(mail: &str) -> String {
    mail.lines()
        .filter_map(|line| line.strip_prefix("    "))
        .map(str::trim)
        .find(|word| {
            word.len() == 27
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .expect("a code in the mail")
        .to_owned()
}

async fn notifications(sys: &hub_checks::system::System) -> Spawned {
    let amqp = hub_testkit::amqp_url();
    let (host, port) = (hub_testkit::env("SMTP_HOST"), hub_testkit::env("SMTP_PORT"));
    hub_testkit::spawn::<notifications::Notifications>(hub_testkit::config_source(
        &hub_checks::IN_PROCESS,
        &[
            ("DATABASE_URL", sys.db_url.as_str()),
            ("AMQP_URL", amqp.as_str()),
            ("NOTIFICATIONS_QUEUES", sys.account_queue.as_str()),
            ("SMTP_HOST", host.as_str()),
            ("SMTP_PORT", port.as_str()),
            ("SMTP_TLS", "none"),
            ("SMTP_FROM", "Hub <hub@example.test>"),
        ],
    ))
    .await
}

#[tokio::test]
async fn the_codes_arrive_by_mail_verify_the_address_and_change_it_with_a_notice_to_the_old_one() {
    let sys = hub_checks::system::start_with(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let _mailer = notifications(&sys).await;
    let user = format!("mail{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (old, new) = (
        format!("{user}@example.com"),
        format!("{user}.new@example.com"),
    );

    let resp = sys.register(REGISTER.replace("{u}", &user)).await;
    assert_eq!(resp.status(), 200);
    let (status, body) = json_body(sys.login(&user, "s3cret pw").await).await;
    assert_eq!(
        (status, body),
        (403, json!({ "message": "Email not verified" }))
    );

    let mail = nth_mail(&old, 1).await;
    assert!(mail.contains("Confirm your email address"), "{mail}");
    let code = code_in(&mail);
    let verify = |code: String| {
        let sys = &sys;
        async move {
            json_body(
                sys.req(Method::POST, sys.auth, "/api/account/email/verify")
                    .json(&json!({ "code": code }))
                    .go()
                    .await,
            )
            .await
        }
    };
    let (status, body) = verify(code.clone()).await;
    assert_eq!(
        (status, &body["confirmed"]),
        (200, &json!("registration")),
        "{body}"
    );
    let (status, tokens) = json_body(sys.login(&user, "s3cret pw").await).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["token"].as_str().unwrap().to_owned();

    let (status, body) = json_body(
        sys.req(Method::POST, sys.auth, "/api/account/email")
            .bearer_auth(&token)
            .json(&json!({ "new_email": new, "password": "s3cret pw" }))
            .go()
            .await,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let mail = nth_mail(&new, 1).await;
    let code = code_in(&mail);
    let (status, body) = verify(code).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "email": new, "email_verified": true, "confirmed": "email_change" })
        )
    );
    let notice = nth_mail(&old, 2).await;
    assert!(
        notice.contains(&new),
        "the notice names the new address: {notice}"
    );
    // Each mail arrived once, to its own address.
    assert_eq!((mails(&old).len(), mails(&new).len()), (2, 1));
    let (status, account) = json_body(
        sys.req(Method::GET, sys.auth, "/api/account")
            .bearer_auth(&token)
            .go()
            .await,
    )
    .await;
    assert_eq!((status, &account["email"]), (200, &Value::from(new)));
}
