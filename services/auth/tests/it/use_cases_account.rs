//! The account use cases called directly (`auth::account`), without HTTP, on the
//! service's own state: their results and error variants by name.

use auth::{
    account::{
        email,
        profile::{self, ProfileChange},
    },
    error::ApiError,
    store::users,
};
use hub_identity::confirmation::Purpose;
use secrecy::SecretString;

use crate::{
    account::code_mailed_to,
    harness::{AuthApp as _, TestApp},
};

#[tokio::test]
async fn confirm_uses_a_code_once_and_names_each_refusal() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("uca-ana", "pw-ana-1").await;
    let state = app.state().await;

    let unknown = email::confirm(&state, "nope", "c0".into()).await;
    assert!(matches!(unknown, Err(ApiError::InvalidCode)), "{unknown:?}");
    let empty = email::confirm(&state, "  ", "c0".into()).await;
    assert!(matches!(empty, Err(ApiError::BadRequest(_))), "{empty:?}");

    email::resend(&state, "uca-ana@example.com", "c1".into())
        .await
        .unwrap();
    let code = code_mailed_to(&app, "uca-ana@example.com").await;
    let confirmed = email::confirm(&state, &code, "c2".into()).await.unwrap();
    assert_eq!(
        (
            confirmed.user_id,
            confirmed.purpose,
            confirmed.email.as_str()
        ),
        (id, Purpose::Registration, "uca-ana@example.com")
    );
    assert!(email::is_verified(&mut app.db().await, id).await.unwrap());
    let again = email::confirm(&state, &code, "c3".into()).await;
    assert!(matches!(again, Err(ApiError::InvalidCode)), "{again:?}");

    // An email change: the wrong password, then the right one.
    let mut conn = app.db().await;
    let user = users::find_by_login(&mut conn, "uca-ana")
        .await
        .unwrap()
        .unwrap();
    let wrong = email::request_change(
        &state,
        &user,
        "uca.new@example.org",
        SecretString::from("nope".to_owned()),
        "c4".into(),
    )
    .await;
    assert!(matches!(wrong, Err(ApiError::WrongPassword)), "{wrong:?}");
    let asked = email::request_change(
        &state,
        &user,
        "uca.new@example.org",
        SecretString::from("pw-ana-1".to_owned()),
        "c5".into(),
    )
    .await
    .unwrap();
    assert_eq!(asked.new_email, "uca.new@example.org");
    assert_eq!(asked.expires_in_minutes, 24 * 60);
    let soon = email::request_change(
        &state,
        &user,
        "uca.new@example.org",
        SecretString::from("pw-ana-1".to_owned()),
        "c6".into(),
    )
    .await;
    assert!(
        matches!(soon, Err(ApiError::CodeSentRecently(60))),
        "{soon:?}"
    );
    let code = code_mailed_to(&app, "uca.new@example.org").await;
    let changed = email::confirm(&state, &code, "c7".into()).await.unwrap();
    assert_eq!(changed.purpose, Purpose::EmailChange);
    let account = profile::read(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(account.email, "uca.new@example.org");
    assert!(account.email_verified);
}

#[tokio::test]
async fn the_profile_update_refuses_what_registration_refuses() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("ucp-ana", "pw-ana-1").await;
    let state = app.state().await;

    let nothing = profile::update(&state, id, ProfileChange::default(), "p0".into()).await;
    assert!(
        matches!(nothing, Err(ApiError::BadRequest(_))),
        "{nothing:?}"
    );
    let blank = ProfileChange {
        first_name: Some("\u{3000}".into()),
        ..ProfileChange::default()
    };
    let refused = profile::update(&state, id, blank, "p1".into()).await;
    match refused {
        Err(ApiError::BadRequest(m)) => assert_eq!(m, "Invalid first_name: must not be empty"),
        other => panic!("{other:?}"),
    }
    let ok = ProfileChange {
        first_name: Some(" Ánа ".into()),
        ..ProfileChange::default()
    };
    let account = profile::update(&state, id, ok, "p2".into()).await.unwrap();
    assert_eq!(account.first_name, "Ánа");
    assert_eq!(account.last_name, "Peña");
}
