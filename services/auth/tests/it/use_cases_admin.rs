//! The administration and logins use cases called directly (`auth::account`), and
//! what deactivation does to `login::login` and `tokens::refresh`, by variant.

use std::net::{IpAddr, Ipv4Addr};

use auth::{
    account::{
        admin::{self, AccountError, Filter},
        logins::{self, Others},
    },
    login::{self, Client, ClientAddr, Credentials, LoginError},
    tokens::{self, RefreshError},
};
use secrecy::SecretString;
use uuid::Uuid;

use crate::harness::{AuthApp as _, TestApp};

fn creds(login: &str) -> Credentials {
    Credentials {
        login: login.to_owned(),
        password: SecretString::from("pw".to_owned()),
    }
}

fn client(agent: &str) -> Client {
    Client {
        addr: ClientAddr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))),
        user_agent: Some(agent.to_owned()),
    }
}

fn sid(token: &str) -> Uuid {
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
    claims["sid"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn deactivation_makes_login_and_refresh_fail_by_name_and_reactivation_restores_login() {
    let app = TestApp::spawn().await;
    let ana = app.legacy_user("uc-ana", "pw").await;
    let root = app.legacy_user("uc-root", "pw").await;
    let state = app.state().await;
    let first = login::login_from(&state, client("uc"), creds("uc-ana"), "c1".into())
        .await
        .unwrap();

    let user = admin::set_active(&state, root, ana, false).await.unwrap();
    assert!(user.deactivated_at.is_some());
    let refused = login::login_from(&state, client("uc"), creds("uc-ana"), "c2".into()).await;
    assert!(
        matches!(refused, Err(LoginError::Deactivated)),
        "{refused:?}"
    );
    let refreshed = tokens::refresh(&state, &first.refresh_token).await;
    assert!(
        matches!(refreshed, Err(RefreshError::Refused)),
        "{refreshed:?}"
    );
    let oneself = admin::set_active(&state, root, root, false).await;
    assert!(matches!(oneself, Err(AccountError::Oneself)), "{oneself:?}");
    let ghost = admin::set_active(&state, root, Uuid::new_v4(), false).await;
    assert!(matches!(ghost, Err(AccountError::NotFound)), "{ghost:?}");

    let user = admin::set_active(&state, root, ana, true).await.unwrap();
    assert_eq!(user.deactivated_at, None);
    assert!(
        tokens::refresh(&state, &first.refresh_token).await.is_err(),
        "stays revoked"
    );
    login::login_from(&state, client("uc"), creds("uc-ana"), "c3".into())
        .await
        .expect("logs in again");
}

#[tokio::test]
async fn logins_are_listed_with_their_client_and_revoked_one_or_all_but_one() {
    let app = TestApp::spawn().await;
    let ana = app.legacy_user("uc-bea", "pw").await;
    let state = app.state().await;
    let mut sids = Vec::new();
    for agent in ["one", "two", "three"] {
        let issued = login::login_from(&state, client(agent), creds("uc-bea"), agent.into())
            .await
            .unwrap();
        sids.push(sid(&issued.token));
    }
    let listed = logins::list(&state.pool, ana).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|l| l.address.as_deref() == Some("192.0.2.9"))
    );
    let mut agents: Vec<_> = listed.iter().filter_map(|l| l.user_agent.clone()).collect();
    agents.sort();
    assert_eq!(agents, ["one", "three", "two"]);

    assert!(logins::revoke(&state.pool, ana, sids[1]).await.unwrap());
    assert!(
        !logins::revoke(&state.pool, ana, sids[1]).await.unwrap(),
        "once"
    );
    assert!(
        !logins::revoke(&state.pool, Uuid::new_v4(), sids[0])
            .await
            .unwrap(),
        "not theirs"
    );
    assert_eq!(
        logins::revoke_others(&state.pool, ana, Some(sids[0]))
            .await
            .unwrap(),
        Others::Revoked(1)
    );
    assert_eq!(
        logins::revoke_others(&state.pool, ana, Some(sids[2]))
            .await
            .unwrap(),
        Others::KeepGone,
        "a revoked login revokes nothing"
    );
    let left = logins::list(&state.pool, ana).await.unwrap();
    assert_eq!(left.iter().map(|l| l.id).collect::<Vec<_>>(), [sids[0]]);
}

#[tokio::test]
async fn the_user_list_pages_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        app.legacy_user(&format!("uc-p{i}"), "pw").await;
    }
    let state = app.state().await;
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = admin::list(
            &state.pool,
            Filter {
                prefix: Some("UC-P".into()),
                cursor: cursor.clone(),
                limit: 2,
                ..Filter::default()
            },
        )
        .await
        .unwrap();
        seen.extend(page.users.into_iter().map(|u| u.username));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("uc-p{i}")).collect::<Vec<_>>());
}
