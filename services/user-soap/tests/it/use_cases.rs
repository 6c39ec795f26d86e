//! The registration use case called directly, without SOAP or HTTP: `registration::register`
//! on the service's own state (`TestApp::state`), against the test's real database. The
//! SOAP and JSON doors' tests show the same policy through their replies; these show it as
//! the use case's own results, so a change of policy fails here by name.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::future::join_all;
use secrecy::SecretString;
use user_soap::{
    registration::{self, RegisterError, Registration},
    store::users::Taken,
};

use crate::harness::{SoapApp as _, TestApp};

const FROM: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));

fn ana(username: &str, dni: &str, email: &str) -> Registration {
    Registration {
        username: username.to_owned(),
        password: SecretString::from("a-good-password".to_owned()),
        first_name: "Ana".to_owned(),
        last_name: "Direct".to_owned(),
        dni: dni.to_owned(),
        email: email.to_owned(),
        city: "Madrid".to_owned(),
    }
}

#[tokio::test]
async fn register_stores_a_user_and_names_the_taken_field_of_a_second_one() {
    let app = TestApp::spawn().await;
    let state = app.state().await;

    let first = registration::register(&state, "uc-1", FROM, ana("uc-ana", "11111111A", "a@x.org"))
        .await
        .expect("a new user registers");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM \"user\" WHERE id = $1")
        .bind(first.id)
        .fetch_one(&state.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);

    for (again, field) in [
        (ana("uc-ana", "22222222B", "b@x.org"), Taken::Username),
        (ana("uc-bea", "11111111A", "c@x.org"), Taken::Dni),
        (ana("uc-cai", "33333333C", "a@x.org"), Taken::Email),
    ] {
        let r = registration::register(&state, "uc-2", FROM, again).await;
        assert!(
            matches!(&r, Err(RegisterError::Duplicate(t)) if t.field() == field.field()),
            "{field:?}: {r:?}"
        );
    }
}

#[tokio::test]
async fn simultaneous_registrations_of_one_username_store_exactly_one() {
    let app = TestApp::spawn().await;
    let state = app.state().await;
    let attempts = (0..8).map(|i| {
        let state = state.clone();
        async move {
            let input = ana("uc-race", &format!("4444444{i}D"), &format!("r{i}@x.org"));
            registration::register(&state, "uc-race", FROM, input).await
        }
    });
    let results = join_all(attempts).await;
    let stored = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(RegisterError::Duplicate(Taken::Username))))
        .count();
    assert_eq!((stored, taken), (1, 7), "{results:?}");
}
