//! user-soap's SOAP contract against real PostgreSQL and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::app::{
    SoapApp as _, SoapHelpers as _, TEXT_XML, THREE_PER_FORWARDED_ADDRESS, TestApp, assert_has,
    extract_id, legacy_envelope, pairs, parts, soap12_envelope, tag, two_instances, user_fields,
};
use hub_testkit::Go as _;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_front_end_envelope_registers_and_gets_the_original_reply_bytes() {
    let app = TestApp::spawn().await;
    let t = tag();
    let fields = user_fields(&t);
    let resp = app
        .request("text/xml", legacy_envelope(&pairs(&fields)))
        .header("x-request-id", "reg-1")
        .go()
        .await;
    let (status, ct, body) = parts(resp).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "text/xml; charset=utf-8");
    let id = extract_id(&body).expect("the legacy regex finds the id");
    assert_eq!(
        body,
        format!(
            "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/' xmlns:us='http://example.com/userservice'>\n      <soapenv:Header/>\n      <soapenv:Body>\n        <us:registerUserResponse>\n          <us:message>User registered successfully</us:message>\n          <us:id>{id}</us:id>\n        </us:registerUserResponse>\n      </soapenv:Body>\n    </soapenv:Envelope>"
        )
    );

    let (username, password, city): (String, String, String) =
        sqlx::query_as(r#"SELECT username, password, city FROM "user" WHERE id = $1::uuid"#)
            .bind(&id)
            .fetch_one(&mut app.db().await)
            .await
            .unwrap();
    assert_eq!(
        (username.as_str(), city.as_str()),
        (format!("user_{t}").as_str(), "Málaga")
    );
    assert!(
        password.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "stored in the current format (the default, Argon2id): {password}"
    );
    let cost = hub_identity::password::Argon2Cost::new(1024, 1, 1).unwrap();
    let verdict = hub_identity::password::Hasher::argon2id(cost, 20_000)
        .unwrap()
        .verify("s3cret pw", Some(&password));
    assert_eq!(
        verdict,
        hub_identity::password::Verification::Valid {
            needs_rehash: false
        }
    );

    let msgs = app.take_messages().await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].event(), "UserRegistered");
    assert_eq!(
        msgs[0].body["data"],
        json!({"id": id, "username": format!("user_{t}"), "first_name": "Ana", "last_name": "Peña",
               "dni": format!("D{t}"), "email": format!("{t}@example.com"), "city": "Málaga"})
    );
    assert!(
        msgs[0].body["timestamp"].as_str().unwrap().ends_with('Z'),
        "the Ruby original's style"
    );
    assert_eq!(msgs[0].correlation_id.as_deref(), Some("reg-1"));
}

#[tokio::test]
async fn soap12_requests_are_answered_in_soap12() {
    let app = TestApp::spawn().await;
    let fields = user_fields(&tag());
    let resp = app
        .send(
            "application/soap+xml; charset=utf-8",
            soap12_envelope(&pairs(&fields)),
        )
        .await;
    let (status, ct, body) = parts(resp).await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/soap+xml; charset=utf-8")
    );
    assert!(
        body.starts_with(
            "<soapenv:Envelope xmlns:soapenv='http://www.w3.org/2003/05/soap-envelope'"
        ),
        "{body}"
    );
    assert!(extract_id(&body).is_some());
}

#[tokio::test]
async fn a_taken_username_dni_or_email_gets_the_original_409_and_a_failed_event() {
    let app = TestApp::spawn().await;
    let first = user_fields(&tag());
    assert_eq!(app.register11(&pairs(&first)).await.0, 200);
    for field in ["username", "dni", "email"] {
        let mut again = user_fields(&tag());
        let keep = first.iter().find(|(k, _)| k == field).unwrap().1.clone();
        again.iter_mut().find(|(k, _)| k == field).unwrap().1 = keep;
        let (status, ct, body) = app.register11(&pairs(&again)).await;
        assert_eq!((status, ct.as_str()), (409, TEXT_XML), "{field}");
        assert!(
            body.contains("<us:message>Duplicate user information detected (username, dni, or email).</us:message>"),
            "{field}: {body}"
        );
        assert!(extract_id(&body).is_none());
    }
    assert_eq!(app.users().await, 1);
    let msgs = app.take_messages().await;
    let failed: Vec<_> = msgs
        .iter()
        .filter(|m| m.event() == "UserRegistrationFailed")
        .collect();
    assert_eq!(failed.len(), 3);
    assert_eq!(failed[0].body["data"]["error"], "Duplicate entry detected");
    assert_eq!(
        failed[0].body["data"]["details"],
        "username is already registered"
    );
    assert!(
        failed
            .iter()
            .all(|m| m.body["data"].get("password").is_none())
    );
}

#[tokio::test]
async fn invalid_fields_get_a_client_fault_naming_the_field_and_store_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("city", None, "Invalid city: is required"),
        (
            "username",
            Some("   "),
            "Invalid username: must not be empty",
        ),
        (
            "dni",
            Some("123456789012345678901"),
            "Invalid dni: must be at most 20 characters",
        ),
        (
            "email",
            Some("not-an-email"),
            "Invalid email: is not an email address",
        ),
        // The password policy (hub_identity::policy), declared in docs/COMPATIBILITY.md.
        (
            "password",
            Some("1234567"),
            "Invalid password: must be at least 8 characters",
        ),
    ];
    for (field, value, reason) in cases {
        let mut fields = user_fields(&tag());
        match value {
            Some(v) => fields.iter_mut().find(|(k, _)| k == field).unwrap().1 = v.into(),
            None => fields.retain(|(k, _)| k != field),
        }
        let (status, ct, body) = app.register11(&pairs(&fields)).await;
        assert_eq!((status, ct.as_str()), (500, TEXT_XML), "{field}");
        assert_has(&body, "<faultcode>soapenv:Client</faultcode>");
        assert_has(
            &body,
            &format!("<faultstring xml:lang=\"en\">{reason}</faultstring>"),
        );
        assert_has(&body, &format!("<us:field>{field}</us:field>"));

        let resp = app
            .send("application/soap+xml", soap12_envelope(&pairs(&fields)))
            .await;
        let (status, _, body) = parts(resp).await;
        assert_eq!(status, 400, "SOAP 1.2 Sender faults are 400");
        assert!(body.contains("<env:Value>env:Sender</env:Value>"), "{body}");
    }
    assert_eq!(app.users().await, 0);
}

#[tokio::test]
async fn markup_quotes_and_non_ascii_round_trip_exactly() {
    let app = TestApp::spawn().await;
    let t = tag();
    let username = format!("<&>\"'{t}");
    let fields = [
        ("username", "&lt;&amp;&gt;&quot;&apos;".to_owned() + &t),
        (
            "password",
            "p<&>\"'ss"
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
        ),
        ("first_name", "José".into()),
        ("last_name", "Peña".into()),
        ("dni", format!("X{}", &t[..8])),
        ("email", format!("{t}@example.com")),
        ("city", "Málaga".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, body) = app.register11(&fields).await;
    assert_eq!(status, 200, "{body}");
    let id = extract_id(&body).unwrap();
    let (u, f, l, c): (String, String, String, String) = sqlx::query_as(
        r#"SELECT username, first_name, last_name, city FROM "user" WHERE id = $1::uuid"#,
    )
    .bind(&id)
    .fetch_one(&mut app.db().await)
    .await
    .unwrap();
    assert_eq!(
        (u.as_str(), f.as_str(), l.as_str(), c.as_str()),
        (username.as_str(), "José", "Peña", "Málaga")
    );
    let msgs = app.take_messages().await;
    assert_eq!(msgs[0].body["data"]["username"], username.as_str());
}

#[tokio::test]
async fn the_wsdl_is_served_with_the_public_address() {
    let app = TestApp::spawn().await;
    for q in ["wsdl", "WSDL"] {
        let (status, ct, body) = parts(app.get(&format!("/register?{q}")).await).await;
        assert_eq!((status, ct.as_str()), (200, "text/xml; charset=utf-8"));
        assert!(body.starts_with("<?xml"));
        assert!(
            body.contains(&format!(
                "<soap:address location=\"http://{}/register\"/>",
                app.addr
            )),
            "{body:.200}"
        );
        assert!(!body.contains("localhost:0"));
    }
    let configured = TestApp::spawn_with(&[("PUBLIC_BASE_URL", "https://soap.example.com")]).await;
    let body = configured.get("/register?wsdl").await.text().await.unwrap();
    assert!(body.contains("location=\"https://soap.example.com/register\""));
}

#[tokio::test]
async fn every_framework_error_is_a_soap_fault() {
    let app = TestApp::spawn_with(&[("MAX_BODY_BYTES", "4096")]).await;
    let fault11 = |status: u16, body: &str, ct: &str| {
        assert_eq!(ct, "text/xml; charset=utf-8", "{status} {body}");
        assert!(body.contains("<soapenv:Fault>"), "{status} {body}");
    };
    let cases = [
        (app.req(Method::GET, "/register"), 405),
        (app.req(Method::PUT, "/register"), 405),
        (app.req(Method::POST, "/nowhere"), 404),
        (app.request("application/json", "{}"), 415),
        (app.request("text/xml", "x".repeat(10_000)), 413),
    ];
    for (request, status) in cases {
        let (s, ct, b) = parts(request.go().await).await;
        assert_eq!(s, status);
        fault11(s, &b, &ct);
    }
    let (s, ct, b) = parts(app.send("application/soap+xml", "x".repeat(10_000)).await).await;
    assert_eq!(
        (s, ct.as_str()),
        (413, "application/soap+xml; charset=utf-8")
    );
    assert!(b.contains("<env:Fault>"));
}

#[tokio::test]
async fn health_keeps_the_original_bodies() {
    let app = TestApp::spawn().await;
    for path in ["/user-soap/health", "/health"] {
        let (status, ct, body) = parts(app.get(path).await).await;
        assert_eq!(
            (status, ct.as_str(), body.as_str()),
            (200, "text/html;charset=utf-8", "Service is healthy")
        );
    }
}

/// A username is never an email (it would answer logins meant for the email's owner):
/// one holding `@` is refused, and a legacy row's email or username blocks the other
/// column, as a duplicate would.
#[tokio::test]
async fn a_username_that_could_be_an_email_is_refused_and_legacy_collisions_are_duplicates() {
    let app = TestApp::spawn().await;
    let mut fields = user_fields(&tag());
    fields[0].1 = format!("{}@example.com", tag());
    let (status, _, body) = app.register11(&pairs(&fields)).await;
    assert_eq!(status, 500, "{body}");
    assert_has(
        &body,
        "<faultstring xml:lang=\"en\">Invalid username: must not contain @</faultstring>",
    );
    assert_has(&body, "<us:field>username</us:field>");

    // Legacy rows, written before the rule: a username holding `@`, an email without.
    let legacy_name = format!("{}@example.com", tag());
    let legacy_mail = format!("plain{}", tag());
    hub_testkit::seed_user_with(
        &app.db_url,
        &legacy_name,
        &format!("{}@x.example", tag()),
        "x",
    )
    .await;
    hub_testkit::seed_user_with(&app.db_url, &format!("u{}", tag()), &legacy_mail, "x").await;
    for (field, value) in [
        ("email", legacy_name.as_str()),
        ("username", legacy_mail.as_str()),
    ] {
        let mut fields = user_fields(&tag());
        fields.iter_mut().find(|(k, _)| k == field).unwrap().1 = value.to_owned();
        let (status, _, body) = app.register11(&pairs(&fields)).await;
        assert_eq!(status, 409, "{field}: {body}");
        assert!(extract_id(&body).is_none(), "{field}: {body}");
    }
    assert_eq!(app.users().await, 2, "only the two legacy rows");
}

/// `(username, email)` of the stored user with this dni.
async fn stored_identity(app: &TestApp, dni: &str) -> (String, String) {
    sqlx::query_as(r#"SELECT username, email FROM "user" WHERE dni = $1"#)
        .bind(dni)
        .fetch_one(&mut app.db().await)
        .await
        .unwrap()
}

/// Case, width and accent composition do not make a new identity; invisible and
/// bidirectional control characters are refused; stored values stay as given.
#[tokio::test]
async fn look_alike_usernames_and_emails_are_duplicates_and_invisible_characters_are_refused() {
    let app = TestApp::spawn().await;
    let t = tag();
    let mut first = user_fields(&t);
    first[0].1 = format!("José{t}"); // é composed
    first[5].1 = format!("Ann.{t}@Example.com");
    assert_eq!(app.register11(&pairs(&first)).await.0, 200);
    assert_eq!(
        stored_identity(&app, &first[4].1).await,
        (first[0].1.clone(), first[5].1.clone()),
        "stored as given"
    );

    let upper = t.to_uppercase();
    for (field, value) in [
        ("username", format!("jose\u{301}{t}")),         // decomposed
        ("username", format!("ＪＯＳＥ\u{301}{upper}")), // fullwidth, upper case
        ("email", format!("ann.{t}@example.com")),
        ("email", format!("ANN.{upper}@EXAMPLE.COM")),
    ] {
        let mut again = user_fields(&tag());
        again.iter_mut().find(|(k, _)| k == field).unwrap().1 = value.clone();
        let (status, _, body) = app.register11(&pairs(&again)).await;
        assert_eq!(status, 409, "{field} {value}: {body}");
    }

    for (field, value) in [
        ("username", format!("jo\u{200B}se{t}")),
        ("username", format!("{t}\u{202E}moc")),
        ("email", format!("x\u{2060}{t}@example.com")),
    ] {
        let mut fields = user_fields(&tag());
        fields.iter_mut().find(|(k, _)| k == field).unwrap().1 = value;
        let (status, _, body) = app.register11(&pairs(&fields)).await;
        assert_eq!(status, 500, "{body}");
        assert_has(
            &body,
            &format!(
                "Invalid {field}: must not contain invisible or bidirectional control characters"
            ),
        );
    }
    assert_eq!(app.users().await, 1);
}

/// Look-alike registrations racing on two instances: the database lets exactly one in.
#[tokio::test]
async fn simultaneous_look_alike_registrations_on_two_instances_store_exactly_one() {
    let (a, b) = two_instances(&[]).await;
    let t = tag();
    let spellings = [
        format!("ana{t}"),
        format!("ANA{t}"),
        format!("Ana{t}"),
        format!("ＡＮＡ{t}"),
        format!("ａｎａ{t}"),
        format!("aNa{t}"),
    ];
    each_spelling_twice_at_once_stores_one(&a, &b, &spellings).await;
}

/// Registers every one of `spellings` twice at once, alternating between instances `a`
/// and `b` (one database): exactly one registration is stored, the others are 409.
async fn each_spelling_twice_at_once_stores_one(a: &TestApp, b: &TestApp, spellings: &[String]) {
    let registrations = spellings
        .iter()
        .chain(spellings)
        .enumerate()
        .map(|(i, name)| {
            let mut fields = user_fields(&tag());
            fields[0].1 = name.clone();
            let app = if i % 2 == 0 { a } else { b };
            async move { app.register11(&pairs(&fields)).await.0 }
        });
    let mut statuses = futures_util::future::join_all(registrations).await;
    statuses.sort_unstable();
    let mut expected = vec![409; spellings.len() * 2 - 1];
    expected.insert(0, 200);
    assert_eq!(statuses, expected);
    assert_eq!(a.users().await, 1);
}

/// The look-alike key (UTS #39 skeleton, case folded) the service stores for `name`.
fn key(name: &str) -> String {
    user_soap::look_alike::username_skeleton(name)
}

/// A username that looks like a taken one under UTS #39 (Cyrillic `һ` for `h`, `1` for
/// `l`, `rn` for `m`) gets exactly the reply of a taken username on every SOAP
/// answer; names that only resemble each other loosely still register.
#[tokio::test]
async fn uts39_look_alike_usernames_get_the_taken_username_reply() {
    let register = async |app: &TestApp, name: &str, how: &str| {
        let mut fields = user_fields(&tag());
        fields[0].1 = name.to_owned();
        let req = match how {
            "1.1" => app.request(TEXT_XML, legacy_envelope(&pairs(&fields))),
            "1.1+SOAPAction" => app
                .request(TEXT_XML, legacy_envelope(&pairs(&fields)))
                .header("soapaction", "\"\""),
            _ => app.request(
                "application/soap+xml; charset=utf-8",
                soap12_envelope(&pairs(&fields)),
            ),
        };
        parts(req.go().await).await
    };
    let app = TestApp::spawn().await;
    let t = tag();
    for name in [
        format!("john_{t}"),
        format!("bob1_{t}"),
        format!("rnary_{t}"),
    ] {
        assert_eq!(register(&app, &name, "1.1").await.0, 200, "{name}");
    }
    let (skeleton, unique): (Option<String>, bool) = sqlx::query_as(
        r#"SELECT username_skeleton, username_skeleton_unique FROM "user" WHERE username = $1"#,
    )
    .bind(format!("john_{t}"))
    .fetch_one(&mut app.db().await)
    .await
    .unwrap();
    assert_eq!(
        skeleton.as_deref(),
        Some(key(&format!("john_{t}")).as_str())
    );
    assert!(unique, "registered rows are in the unique index");

    let look_alikes = [
        format!("jo\u{04BB}n_{t}"), // Cyrillic shha for h
        format!("bobl_{t}"),
        format!("BOBI_{t}"),
        format!("mary_{t}"),
    ];
    for name in &look_alikes {
        let (status, ct, body) = register(&app, name, "1.1").await;
        assert_eq!((status, ct.as_str()), (409, TEXT_XML), "{name}: {body}");
        assert_has(
            &body,
            "<us:message>Duplicate user information detected (username, dni, or email).</us:message>",
        );
        assert!(extract_id(&body).is_none(), "{body}");
        let (status, _, body) = register(&app, name, "1.1+SOAPAction").await;
        assert_eq!(status, 500, "{name}: {body}");
        assert_has(&body, "<faultcode>soapenv:Client</faultcode>");
        assert_has(
            &body,
            "<faultstring xml:lang=\"en\">username is already registered</faultstring>",
        );
        assert_has(&body, "<us:field>username</us:field>");
        let (status, _, body) = register(&app, name, "1.2").await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_has(&body, "<env:Value>env:Sender</env:Value>");
        assert_has(&body, "<us:field>username</us:field>");
    }

    // Different names, however close: `i` is not `l`, `jane` is not `john`.
    for name in [
        format!("bobi_{t}"),
        format!("jane_{t}"),
        format!("johnn_{t}"),
    ] {
        assert_eq!(register(&app, &name, "1.1").await.0, 200, "{name}");
    }
    assert_eq!(app.users().await, 6);
    let failed: Vec<_> = app
        .take_messages()
        .await
        .into_iter()
        .filter(|m| m.event() == "UserRegistrationFailed")
        .collect();
    assert_eq!(failed.len(), look_alikes.len() * 3);
    assert!(
        failed
            .iter()
            .all(|m| m.body["data"]["details"] == "username is already registered")
    );
}

/// Look-alikes under UTS #39 that are different names canonically, racing on two
/// instances: the unique index on the look-alike key lets exactly one in.
#[tokio::test]
async fn simultaneous_uts39_look_alike_registrations_on_two_instances_store_exactly_one() {
    let (a, b) = two_instances(&[]).await;
    let t = tag();
    let spellings = [
        format!("john{t}"),
        format!("jo\u{04BB}n{t}"),               // Cyrillic shha
        format!("\u{0458}ohn{t}"),               // Cyrillic je
        format!("j\u{03BF}hn{t}"),               // Greek omicron
        format!("j\u{043E}hn{t}"),               // Cyrillic o
        format!("\u{0458}\u{043E}\u{04BB}n{t}"), // all three
    ];
    for s in &spellings {
        assert_eq!(key(s), key(&spellings[0]), "{s}");
    }
    each_spelling_twice_at_once_stores_one(&a, &b, &spellings).await;
}

/// Rows written without a look-alike key (before the migration, or by an older writer):
/// a look-alike of one is a duplicate before its key is filled (the registration
/// computes it) and after (by the stored key); filling never fails on legacy rows that
/// look alike among themselves, and a starting instance fills every missing key.
#[tokio::test]
async fn legacy_rows_without_a_key_are_found_as_look_alikes_before_and_after_the_backfill() {
    let app = TestApp::spawn().await;
    let t = tag();
    let register = async |name: String| {
        let mut fields = user_fields(&tag());
        fields[0].1 = name;
        app.register11(&pairs(&fields)).await.0
    };
    hub_testkit::seed_user_with(
        &app.db_url,
        &format!("bobl{t}"),
        &format!("{t}@x.example"),
        "x",
    )
    .await;
    // Legacy rows that look alike among themselves, one of them from the previous
    // release (canonically unique, no key).
    for name in [format!("ann1{t}"), format!("annl{t}")] {
        hub_testkit::seed_user_with(&app.db_url, &name, &format!("{}@x.example", tag()), "x").await;
    }
    let previous = hub_testkit::seed_user_with(
        &app.db_url,
        &format!("ANNI{t}"),
        &format!("{}@x.example", tag()),
        "x",
    )
    .await;
    sqlx::query(r#"UPDATE "user" SET canonical_unique = true WHERE id = $1"#)
        .bind(previous)
        .execute(&mut app.db().await)
        .await
        .unwrap();
    let unfilled = async || -> i64 {
        sqlx::query_scalar(r#"SELECT count(*) FROM "user" WHERE username_skeleton IS NULL"#)
            .fetch_one(&mut app.db().await)
            .await
            .unwrap()
    };
    assert_eq!(unfilled().await, 4);

    // Not filled yet: the registration computes the legacy rows' keys.
    assert_eq!(register(format!("bob1{t}")).await, 409);
    assert_eq!(register(format!("\u{0430}nnl{t}")).await, 409); // Cyrillic a
    assert_eq!(unfilled().await, 4, "the check writes nothing");

    let filled = user_soap::store::users::fill_skeletons(&pool(&app.db_url).await)
        .await
        .unwrap();
    assert_eq!((filled, unfilled().await), (4, 0));
    let rows: Vec<(String, Option<String>, bool)> = sqlx::query_as(
        r#"SELECT username, username_skeleton, username_skeleton_unique FROM "user""#,
    )
    .fetch_all(&mut app.db().await)
    .await
    .unwrap();
    for (username, skeleton, unique) in &rows {
        assert_eq!(
            skeleton.as_deref(),
            Some(key(username).as_str()),
            "{username}"
        );
        assert!(!unique, "{username} stays legacy");
    }
    let again = user_soap::store::users::fill_skeletons(&pool(&app.db_url).await)
        .await
        .unwrap();
    assert_eq!(again, 0, "idempotent");

    // Filled: found by the stored key.
    assert_eq!(register(format!("BOB1{t}")).await, 409);
    assert_eq!(register(format!("\u{0430}nn1{t}")).await, 409);
    assert_eq!(register(format!("bobi{t}")).await, 200);

    // A row an older writer inserts now is filled by the next instance to start, before
    // it serves.
    hub_testkit::seed_user_with(
        &app.db_url,
        &format!("late{t}"),
        &format!("l{t}@x.example"),
        "x",
    )
    .await;
    assert_eq!(unfilled().await, 1);
    let _b = TestApp::spawn_with(&[("DATABASE_URL", app.db_url.as_str())]).await;
    assert_eq!(unfilled().await, 0);
    assert_eq!(register(format!("1ate{t}")).await, 409);
    assert_eq!(app.users().await, 6);
}

/// Many legacy rows, some looking alike pairwise, filled by two starting instances and
/// two more fillers at once: every row gets its key exactly once, nothing fails.
#[tokio::test]
async fn the_backfill_on_several_instances_at_once_fills_every_row_once() {
    let a = TestApp::spawn().await;
    let t = tag();
    sqlx::query(
        r#"INSERT INTO "user" (id, username, password, first_name, last_name, dni, email, city,
                               canonical_unique)
           SELECT gen_random_uuid(),
                  CASE WHEN i % 2 = 0 THEN 'bf1_' ELSE 'bfl_' END || $1 || '_' || (i / 2),
                  'x', 'Ana', 'Peña', 'D' || left($1, 8) || i, $1 || '.' || i || '@x.example',
                  'Málaga', i % 3 = 0
           FROM generate_series(1, 2400) AS i"#,
    )
    .bind(&t)
    .execute(&mut a.db().await)
    .await
    .unwrap();

    let fill = async || {
        user_soap::store::users::fill_skeletons(&pool(&a.db_url).await)
            .await
            .unwrap()
    };
    let beside = [("DATABASE_URL", a.db_url.as_str())];
    let spawn = || TestApp::spawn_with(&beside);
    let (b, c, x, y) = tokio::join!(spawn(), spawn(), fill(), fill());
    assert!(x + y <= 2400, "{x} + {y}");

    let rows: Vec<(String, Option<String>, bool)> = sqlx::query_as(
        r#"SELECT username, username_skeleton, username_skeleton_unique FROM "user""#,
    )
    .fetch_all(&mut a.db().await)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2400);
    for (username, skeleton, unique) in &rows {
        assert_eq!(
            skeleton.as_deref(),
            Some(key(username).as_str()),
            "{username}"
        );
        assert!(!unique, "{username}");
    }
    assert_eq!(
        key(&format!("bf1_{t}_7")),
        key(&format!("bfl_{t}_7")),
        "pairs look alike"
    );
    // And a registration looking like one of them is a duplicate, on any instance.
    for app in [&a, &b, &c] {
        let mut fields = user_fields(&tag());
        fields[0].1 = format!("BFI_{t}_7");
        assert_eq!(app.register11(&pairs(&fields)).await.0, 409);
    }
}

/// Registrations are bounded per client address, on every instance together: the rest
/// get a 429 Client fault with `Retry-After`; another address is unaffected.
#[tokio::test]
async fn registrations_from_one_address_stop_at_its_limit_across_two_instances() {
    let (a, b) = two_instances(&THREE_PER_FORWARDED_ADDRESS).await;
    let register_from = async |app: &TestApp, address: &str| {
        let fields = user_fields(&tag());
        let resp = app
            .request(TEXT_XML, legacy_envelope(&pairs(&fields)))
            .header("x-forwarded-for", address)
            .go()
            .await;
        let retry_after = resp.headers().get("retry-after").cloned();
        let (status, _, body) = parts(resp).await;
        (status, retry_after, body)
    };
    let replies = futures_util::future::join_all(
        (0..10).map(|i| register_from(if i % 2 == 0 { &a } else { &b }, "203.0.113.40")),
    )
    .await;
    let stored = replies.iter().filter(|(s, _, _)| *s == 200).count();
    assert_eq!(stored, 3, "{replies:?}");
    for (status, retry_after, body) in replies.iter().filter(|(s, _, _)| *s != 200) {
        assert_eq!(*status, 429, "{body}");
        let secs: u64 = retry_after
            .as_ref()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
        assert_has(body, "<faultcode>soapenv:Client</faultcode>");
        assert_has(
            body,
            "Too many registrations from this address; retry after",
        );
    }
    assert_eq!(a.users().await, 3);
    assert_eq!(register_from(&b, "198.51.100.40").await.0, 200);
}

/// An IPv6 client may use any address of its /64 for each registration: they count
/// together (`CLIENT_IPV6_PREFIX`), across instances; another /64 is counted apart.
#[tokio::test]
async fn registrations_from_one_ipv6_prefix_stop_at_its_limit_across_two_instances() {
    let (a, b) = two_instances(&THREE_PER_FORWARDED_ADDRESS).await;
    let register_from = async |app: &TestApp, address: String| {
        let fields = user_fields(&tag());
        let resp = app
            .request(TEXT_XML, legacy_envelope(&pairs(&fields)))
            .header("x-forwarded-for", address)
            .go()
            .await;
        let retry_after = resp.headers().contains_key("retry-after");
        (resp.status().as_u16(), retry_after)
    };
    // Ten at once, each from its own address of 2001:db8:40:1::/64.
    let replies = futures_util::future::join_all((0..10).map(|i| {
        let address = format!("2001:db8:40:1:{:x}::{:x}", i * 7, i + 1);
        register_from(if i % 2 == 0 { &a } else { &b }, address)
    }))
    .await;
    let stored = replies.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(stored, 3, "{replies:?}");
    assert!(
        replies
            .iter()
            .all(|r| *r == (200, false) || *r == (429, true)),
        "{replies:?}"
    );
    assert_eq!(a.users().await, 3);
    assert_eq!(
        register_from(&b, "2001:db8:40:2::1".into()).await,
        (200, false),
        "the next /64 is another client"
    );
}

/// A duplicate, as each caller can read it: a `RegistrationFault` naming the field for
/// SOAP toolkits (1.1 with `SOAPAction`, any 1.2), the original's 409 for the legacy
/// front-end (1.1 without `SOAPAction`), or either for all with the setting.
#[tokio::test]
async fn a_duplicate_is_a_registration_fault_for_soap_toolkits_and_409_for_the_front_end() {
    let register = async |app: &TestApp, fields: &[(String, String)], how: &str| {
        let legacy = legacy_envelope(&pairs(fields));
        let req = match how {
            "1.1+SOAPAction" => app.request(TEXT_XML, legacy).header("soapaction", "\"\""),
            "1.1" => app.request(TEXT_XML, legacy),
            _ => app.request(
                "application/soap+xml; charset=utf-8",
                soap12_envelope(&pairs(fields)),
            ),
        };
        parts(req.go().await).await
    };
    let app = TestApp::spawn().await;
    let first = user_fields(&tag());
    assert_eq!(register(&app, &first, "1.1").await.0, 200);
    for field in ["username", "dni", "email"] {
        let mut again = user_fields(&tag());
        let keep = first.iter().find(|(k, _)| k == field).unwrap().1.clone();
        again.iter_mut().find(|(k, _)| k == field).unwrap().1 = keep;
        let (status, _, body) = register(&app, &again, "1.1+SOAPAction").await;
        assert_eq!(status, 500, "{field}: {body}");
        assert_has(&body, "<faultcode>soapenv:Client</faultcode>");
        assert_has(
            &body,
            &format!("<faultstring xml:lang=\"en\">{field} is already registered</faultstring>"),
        );
        assert_has(&body, &format!("<us:field>{field}</us:field>"));
        let (status, _, body) = register(&app, &again, "1.2").await;
        assert_eq!(status, 400, "{field}: {body}");
        assert_has(&body, "<env:Value>env:Sender</env:Value>");
        assert_has(&body, &format!("<us:field>{field}</us:field>"));
        let (status, _, body) = register(&app, &again, "1.1").await;
        assert_eq!(status, 409, "{field}: {body}");
        assert!(extract_id(&body).is_none());
    }

    let legacy = TestApp::spawn_with(&[("REGISTER_DUPLICATE_REPLY", "legacy")]).await;
    let fault = TestApp::spawn_with(&[
        ("REGISTER_DUPLICATE_REPLY", "fault"),
        ("DATABASE_URL", legacy.db_url.as_str()),
    ])
    .await;
    let one = user_fields(&tag());
    assert_eq!(register(&legacy, &one, "1.1").await.0, 200);
    assert_eq!(register(&legacy, &one, "1.1+SOAPAction").await.0, 409);
    assert_eq!(register(&fault, &one, "1.1").await.0, 500);
    assert_eq!(app.users().await, 1);
}

/// Over-long request targets and header sections get a SOAP Fault, not hyper's empty
/// answer, up to hyper's own bounds.
#[tokio::test]
async fn an_overlong_uri_or_header_section_gets_a_soap_fault() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(17 * 1024);
    let resp = app
        .req(Method::POST, &format!("/register?q={long}"))
        .header("content-type", TEXT_XML)
        .body(legacy_envelope(&pairs(&user_fields(&tag()))))
        .go()
        .await;
    let (status, ct, body) = parts(resp).await;
    assert_eq!((status, ct.as_str()), (414, TEXT_XML), "{body}");
    assert_has(&body, "<faultcode>soapenv:Client</faultcode>");
    assert_has(&body, "Request URI too long");

    let mut req = app.request(
        "application/soap+xml; charset=utf-8",
        soap12_envelope(&pairs(&user_fields(&tag()))),
    );
    for i in 0..70 {
        req = req.header(format!("x-filler-{i}"), "y");
    }
    let (status, ct, body) = parts(req.go().await).await;
    assert_eq!(status, 431, "{body}");
    assert!(ct.starts_with("application/soap+xml"), "{ct}");
    assert_has(&body, "env:Sender");
    assert_has(&body, "Request headers too large");
    assert_eq!(app.users().await, 0);
}

/// A page that posts the legacy envelope as `text/plain` or a form type (no CORS
/// preflight) registers, as with the original, which read the body whatever its type.
#[tokio::test]
async fn the_legacy_envelope_registers_under_any_content_type() {
    let app = TestApp::spawn().await;
    for ct in [
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
    ] {
        let (status, _, body) = app.register_as(ct, &pairs(&user_fields(&tag()))).await;
        assert_eq!(status, 200, "{ct}: {body}");
        assert!(extract_id(&body).is_some(), "{body}");
    }
    let (status, _, _) = parts(app.send("application/json", "{}").await).await;
    assert_eq!(status, 415, "what is not an envelope keeps the 415");
    assert_eq!(app.users().await, 2);
}

/// A pool on the service's database, for store functions that open transactions.
async fn pool(url: &str) -> sqlx::PgPool {
    sqlx::PgPool::connect(url).await.unwrap()
}

/// `PASSWORD_HASH` decides the format of a new registration's hash: Argon2id at the
/// configured cost, or PBKDF2 for a deployment that needs FIPS; either verifies.
#[tokio::test]
async fn a_registration_is_hashed_with_the_configured_algorithm() {
    use hub_identity::password::{Argon2Cost, Hasher, Verification};
    let argon2 = [
        ("PASSWORD_HASH", "argon2id"),
        ("PASSWORD_ARGON2_MEMORY_KIB", "1024"),
        ("PASSWORD_ARGON2_ITERATIONS", "1"),
    ];
    let fips = [("PASSWORD_HASH", "pbkdf2-sha256")];
    let hasher = Hasher::argon2id(Argon2Cost::new(1024, 1, 1).unwrap(), 20_000).unwrap();
    for (settings, prefix) in [
        (&argon2[..], "$argon2id$v=19$m=1024,t=1,p=1$"),
        (&fips[..], "$pbkdf2-sha256$i=20000,l=32$"),
    ] {
        let app = TestApp::spawn_with(settings).await;
        let t = tag();
        let (status, _, body) = app.register11(&pairs(&user_fields(&t))).await;
        assert_eq!(status, 200, "{body}");
        let password: String =
            sqlx::query_scalar(r#"SELECT password FROM "user" WHERE username = $1"#)
                .bind(format!("user_{t}"))
                .fetch_one(&mut app.db().await)
                .await
                .unwrap();
        assert!(password.starts_with(prefix), "{password}");
        assert!(matches!(
            hasher.verify("s3cret pw", Some(&password)),
            Verification::Valid { .. }
        ));
    }
}
