//! Password hash formats through `POST /login`: legacy and PBKDF2 hashes become Argon2id
//! when it is configured, an Argon2id hash is kept under the PBKDF2 setting, and many
//! simultaneous first logins of one legacy user on two instances leave one Argon2id hash.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use futures_util::future::join_all;
use hub_identity::password::{Argon2Cost, Hasher, Verification, legacy_hash};

use crate::app::{
    AuthApp as _, AuthHelpers as _, TEST_ARGON2_ITERATIONS, TEST_ARGON2_MEMORY_KIB,
    TEST_ITERATIONS, TestApp,
};

/// Argon2id written by argon2-cffi 21.1 (the reference C code) for "password", salt
/// "somesalt", m=256, t=2, p=2: a hash this code did not write.
const CFFI: &str =
    "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";

/// The hasher at the harness's settings with Argon2id writing.
fn argon2id() -> Hasher {
    let cost = Argon2Cost::new(
        TEST_ARGON2_MEMORY_KIB.parse().unwrap(),
        TEST_ARGON2_ITERATIONS.parse().unwrap(),
        1,
    )
    .unwrap();
    Hasher::argon2id(cost, TEST_ITERATIONS.parse().unwrap()).unwrap()
}

/// The PHC prefix of an Argon2id hash at the harness's cost.
fn argon2id_prefix() -> String {
    format!("$argon2id$v=19$m={TEST_ARGON2_MEMORY_KIB},t={TEST_ARGON2_ITERATIONS},p=1$")
}

/// An instance with the default algorithm, Argon2id (plus `extra`).
async fn writing_argon2id(extra: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_with(extra).await
}

#[tokio::test]
async fn legacy_and_pbkdf2_hashes_become_argon2id_at_the_next_login_and_still_log_in() {
    let app = writing_argon2id(&[]).await;
    let pbkdf2 = Hasher::new(TEST_ITERATIONS.parse().unwrap()).unwrap();
    let weaker = Hasher::argon2id(Argon2Cost::new(512, 1, 1).unwrap(), 20_000).unwrap();
    let users = [
        ("leg", legacy_hash("leg-pw"), "leg-pw"),
        ("phc", pbkdf2.hash("phc-pw").unwrap(), "phc-pw"),
        ("weak", weaker.hash("weak-pw").unwrap(), "weak-pw"),
    ];
    for (name, stored, password) in &users {
        let id = app
            .insert_user(name, &format!("{name}@example.com"), stored)
            .await;
        app.token_for(name, password).await;
        let upgraded = app.stored_hash(id).await;
        assert!(
            upgraded.starts_with(&argon2id_prefix()),
            "{name}: {upgraded}"
        );
        assert_eq!(
            argon2id().verify(password, Some(&upgraded)),
            Verification::Valid {
                needs_rehash: false
            },
            "{name}"
        );
        // The second login reads the Argon2id hash and leaves it as it is.
        app.token_for(name, password).await;
        assert_eq!(
            app.stored_hash(id).await,
            upgraded,
            "{name}: rewritten again"
        );
        assert_eq!(app.login(name, "wrong").await.status(), 401, "{name}");
    }
}

#[tokio::test]
async fn under_the_pbkdf2_setting_argon2id_hashes_verify_and_stay_and_new_ones_are_pbkdf2() {
    let app = TestApp::spawn_with(&[("PASSWORD_HASH", "pbkdf2-sha256")]).await;
    let own = argon2id().hash("own-pw").unwrap();
    let cffi = app.insert_user("cffi", "cffi@example.com", CFFI).await;
    let mine = app.insert_user("own", "own@example.com", &own).await;
    app.token_for("cffi", "password").await;
    app.token_for("own", "own-pw").await;
    assert_eq!(app.stored_hash(cffi).await, CFFI);
    assert_eq!(app.stored_hash(mine).await, own);
    assert_eq!(app.login("cffi", "Password").await.status(), 401);

    let legacy = app.legacy_user("leg", "leg-pw").await;
    app.token_for("leg", "leg-pw").await;
    let upgraded = app.stored_hash(legacy).await;
    assert!(
        upgraded.starts_with(&format!("$pbkdf2-sha256$i={TEST_ITERATIONS},l=32$")),
        "{upgraded}"
    );
}

#[tokio::test]
async fn simultaneous_first_logins_on_two_instances_leave_one_argon2id_hash() {
    // The throttle would refuse some of the simultaneous attempts: out of the way.
    let limits = [
        ("LOGIN_MAX_FAILURES_PER_USER", "1000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000"),
    ];
    let app = writing_argon2id(&limits).await;
    let other = app.beside(&[]).await;
    let id = app.legacy_user("rush", "rush-pw").await;
    let n = 16;
    let statuses = join_all((0..n).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        async move { instance.login("rush", "rush-pw").await.status().as_u16() }
    }))
    .await;
    assert_eq!(statuses, vec![200; n], "every login succeeds");
    let stored = app.stored_hash(id).await;
    assert!(stored.starts_with(&argon2id_prefix()), "{stored}");
    assert_eq!(
        argon2id().verify("rush-pw", Some(&stored)),
        Verification::Valid {
            needs_rehash: false
        }
    );
    // Both instances log in with it, and neither rewrites it.
    app.token_for("rush", "rush-pw").await;
    other.token_for("rush", "rush-pw").await;
    assert_eq!(app.stored_hash(id).await, stored);
}
