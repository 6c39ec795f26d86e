//! The deletion use cases called directly, without HTTP (`account::deletion`), on the
//! service's own state: the password check's outcomes by variant, what one deletion
//! removes, and that simultaneous deletions of one account delete it once.

use std::net::{IpAddr, Ipv4Addr};

use auth::{
    account::deletion::{self, By, DeletionError},
    login::{self, Client, ClientAddr, Credentials, LoginError},
    store::users,
};
use secrecy::SecretString;

use crate::harness::{AuthApp as _, TestApp};

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn client() -> Client {
    Client {
        addr: ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))),
        user_agent: Some("uc-del".to_owned()),
    }
}

#[tokio::test]
async fn the_password_check_names_a_wrong_password_and_deletion_happens_once() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("uc-del", "pw").await;
    let state = app.state().await;
    let user = users::find_by_login(&mut state.pool.acquire().await.unwrap(), "uc-del")
        .await
        .unwrap()
        .unwrap();

    let wrong = deletion::check_password(&state, id, user.password.clone(), secret("nope")).await;
    assert!(
        matches!(wrong, Err(DeletionError::InvalidCredentials)),
        "{wrong:?}"
    );
    deletion::check_password(&state, id, user.password.clone(), secret("pw"))
        .await
        .unwrap();
    // The wrong password left a failure on the account's throttle row: the deletion
    // removes it with the rest.
    let done = deletion::delete_account(&state, id, By::User, None)
        .await
        .unwrap();
    assert_eq!(done.throttle_rows, 1, "{done:?}");

    let again = deletion::delete_account(&state, id, By::User, None).await;
    assert!(matches!(again, Err(DeletionError::NotFound)), "{again:?}");
    let stored = deletion::stored_in_postgres(&state, id).await;
    assert!(matches!(stored, Err(DeletionError::NotFound)), "{stored:?}");
    let creds = Credentials {
        login: "uc-del".to_owned(),
        password: secret("pw"),
    };
    let refused = login::login_from(&state, client(), creds, "c1".into()).await;
    assert!(
        matches!(refused, Err(LoginError::InvalidCredentials)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn simultaneous_deletions_of_one_account_delete_it_once() {
    let app = TestApp::spawn().await;
    let id = app.legacy_user("uc-del-race", "pw").await;
    let state = app.state().await;

    let attempts = (0..8).map(|_| {
        let state = state.clone();
        tokio::spawn(async move { deletion::delete_account(&state, id, By::User, None).await })
    });
    let mut deleted = 0;
    for attempt in futures_util::future::join_all(attempts).await {
        match attempt.unwrap() {
            Ok(_) => deleted += 1,
            Err(DeletionError::NotFound) => {}
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!(deleted, 1);
    let gone = users::find_by_login(&mut state.pool.acquire().await.unwrap(), "uc-del-race")
        .await
        .unwrap();
    assert!(gone.is_none());
}
