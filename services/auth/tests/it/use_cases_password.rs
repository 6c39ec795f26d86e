//! The password use cases called directly, without HTTP (`account::password`), on the
//! service's own state: each outcome by its variant.

use std::net::{IpAddr, Ipv4Addr};

use auth::store::tokens::Origin;
use auth::{
    account::password::{self, PasswordError},
    login::ClientAddr,
    store::users,
};
use hub_identity::policy::Refusal;
use secrecy::SecretString;

use crate::harness::{AuthApp as _, TEST_ITERATIONS, TestApp};

const FROM: ClientAddr = ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)));

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[tokio::test]
async fn change_refuses_a_wrong_current_password_a_short_one_and_a_stale_one() {
    let app = TestApp::spawn().await;
    let hash = hub_identity::password::Hasher::new(TEST_ITERATIONS.parse().unwrap())
        .unwrap()
        .hash("old-password")
        .unwrap();
    app.insert_user("uc-cp", "uc-cp@example.com", &hash).await;
    let state = app.state().await;
    let user = users::find_by_login(&mut state.pool.acquire().await.unwrap(), "uc-cp")
        .await
        .unwrap()
        .unwrap();

    let wrong = password::change(
        &state,
        user.clone(),
        secret("nope-nope"),
        secret("new-password"),
        Origin::default(),
        "c1".into(),
    )
    .await;
    assert!(
        matches!(wrong, Err(PasswordError::WrongPassword)),
        "{wrong:?}"
    );
    let short = password::change(
        &state,
        user.clone(),
        secret("old-password"),
        secret("1234567"),
        Origin::default(),
        "c2".into(),
    )
    .await;
    assert!(
        matches!(short, Err(PasswordError::Refused(Refusal::TooShort(8)))),
        "{short:?}"
    );

    let issued = password::change(
        &state,
        user.clone(),
        secret("old-password"),
        secret("new-password"),
        Origin::default(),
        "c3".into(),
    )
    .await
    .expect("changed");
    assert_eq!(issued.token.split('.').count(), 3);
    // The same user as read before the change: the password it holds is gone.
    let stale = password::change(
        &state,
        user,
        secret("old-password"),
        secret("other-password"),
        Origin::default(),
        "c4".into(),
    )
    .await;
    assert!(matches!(stale, Err(PasswordError::Conflict)), "{stale:?}");
}

#[tokio::test]
async fn forgot_is_ok_for_any_login_and_reset_refuses_an_unknown_code() {
    let app = TestApp::spawn().await;
    let state = app.state().await;
    for login in ["nobody", "nobody@example.com", "nul\0byte"] {
        let done = password::forgot(&state, FROM, login.to_owned(), "c".into()).await;
        assert!(done.is_ok(), "{login:?}: {done:?}");
    }
    let reset = password::reset(
        &state,
        secret("not-a-code"),
        secret("new-password"),
        "c".into(),
    )
    .await;
    assert!(
        matches!(reset, Err(PasswordError::InvalidCode)),
        "{reset:?}"
    );
}
