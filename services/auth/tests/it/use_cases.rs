//! The use cases called directly, without HTTP: `login::login` and `tokens::refresh` on
//! the service's own state (`TestApp::state`), against the test's real database. What the
//! HTTP tests show through status codes, these show as the use case's own results and
//! error variants, so a change of policy fails here by name.

use std::net::{IpAddr, Ipv4Addr};

use auth::{
    login::{self, ClientAddr, Credentials, LoginError},
    tokens::{self, RefreshError},
};
use secrecy::SecretString;

use crate::harness::{AuthApp as _, TestApp};

fn creds(login: &str, password: &str) -> Credentials {
    Credentials {
        login: login.to_owned(),
        password: SecretString::from(password.to_owned()),
    }
}

const FROM: ClientAddr = ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));

#[tokio::test]
async fn login_issues_a_token_pair_for_the_right_password_and_refuses_a_wrong_one() {
    let app = TestApp::spawn().await;
    app.legacy_user("uc-ana", "right-password").await;
    let state = app.state().await;

    let issued = login::login(&state, FROM, creds("uc-ana", "right-password"), "c1".into())
        .await
        .expect("the right password logs in");
    assert_eq!(issued.token.split('.').count(), 3, "a JWT");

    let wrong = login::login(&state, FROM, creds("uc-ana", "wrong"), "c2".into()).await;
    assert!(
        matches!(wrong, Err(LoginError::InvalidCredentials)),
        "{wrong:?}"
    );
    // An unknown user is the same answer, on purpose.
    let unknown = login::login(&state, FROM, creds("uc-nobody", "x"), "c3".into()).await;
    assert!(
        matches!(unknown, Err(LoginError::InvalidCredentials)),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_with_a_retry_after() {
    let app = TestApp::spawn_with(&[("LOGIN_MAX_FAILURES_PER_USER", "3")]).await;
    app.legacy_user("uc-bea", "right-password").await;
    let state = app.state().await;
    for i in 0..3 {
        let r = login::login(&state, FROM, creds("uc-bea", "wrong"), format!("f{i}")).await;
        assert!(matches!(r, Err(LoginError::InvalidCredentials)), "{r:?}");
    }
    // Even the right password waits now.
    let r = login::login(&state, FROM, creds("uc-bea", "right-password"), "f4".into()).await;
    assert!(matches!(r, Err(LoginError::Throttled(s)) if s > 0), "{r:?}");
}

#[tokio::test]
async fn a_refresh_token_rotates_once_and_its_reuse_after_the_grace_is_refused() {
    let app = TestApp::spawn_with(&[("REFRESH_REUSE_GRACE_SECS", "0")]).await;
    app.legacy_user("uc-cai", "right-password").await;
    let state = app.state().await;
    let first = login::login(&state, FROM, creds("uc-cai", "right-password"), "r1".into())
        .await
        .expect("login");

    let second = tokens::refresh(&state, &first.refresh_token)
        .await
        .expect("a fresh refresh token rotates");
    let reused = tokens::refresh(&state, &first.refresh_token).await;
    assert!(matches!(reused, Err(RefreshError::Refused)), "{reused:?}");
    // Reuse revoked the family: the successor is refused too.
    let successor = tokens::refresh(&state, &second.refresh_token).await;
    assert!(
        matches!(successor, Err(RefreshError::Refused)),
        "{successor:?}"
    );
}
