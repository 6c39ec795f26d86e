//! Rows of the shared identity tables, written as the services write them.

use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

/// Inserts a user in the shared `"user"` table (as user-soap registers one) with a
/// unique DNI and e-mail and an unusable password; returns its id.
pub async fn seed_user(db_url: &str, username: &str) -> Uuid {
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    seed_user_with(db_url, username, &email, "x").await
}

/// A user with the given `id` (username `u<id>`), unless one exists: for events that
/// name a user, which consumers check against `"user"` (session drops the login of a
/// user that no longer exists).
pub async fn ensure_user(db_url: &str, id: Uuid) {
    let simple = id.simple().to_string();
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    sqlx::query(
        r#"INSERT INTO "user" (id, username, password, first_name, last_name, dni, email, city)
           VALUES ($1, $2, 'x', 'Ana', 'Peña', $3, $4, 'Málaga') ON CONFLICT DO NOTHING"#,
    )
    .bind(id)
    .bind(format!("u{simple}"))
    .bind(&simple[..12])
    .bind(format!("{simple}@example.com"))
    .execute(&mut conn)
    .await
    .unwrap();
}

/// [`seed_user`] with the given e-mail and stored password hash.
pub async fn seed_user_with(
    db_url: &str,
    username: &str,
    email: &str,
    password_hash: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    let dni = &Uuid::new_v4().simple().to_string()[..12];
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    sqlx::query(
        r#"INSERT INTO "user" (id, username, password, first_name, last_name, dni, email, city)
           VALUES ($1, $2, $3, 'Ana', 'Peña', $4, $5, 'Málaga')"#,
    )
    .bind(id)
    .bind(username)
    .bind(password_hash)
    .bind(dni)
    .bind(email)
    .execute(&mut conn)
    .await
    .unwrap();
    id
}

/// A login of `user`, as auth opens one: a `token_family` row, whose id (returned) is
/// the `sid` of the login's tokens.
pub async fn open_login(db_url: &str, user: Uuid) -> Uuid {
    let sid = Uuid::new_v4();
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    sqlx::query(
        "INSERT INTO token_family (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
    )
    .bind(sid)
    .bind(user)
    .execute(&mut conn)
    .await
    .unwrap();
    sid
}

/// Logs the login `sid` out, as auth's `POST /logout` does: its tokens are revoked.
pub async fn log_out(db_url: &str, sid: Uuid) {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    let done = sqlx::query(
        "UPDATE token_family SET revoked_at = clock_timestamp(), revoked_reason = 'logout' WHERE id = $1",
    )
    .bind(sid)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "no login {sid}");
}

/// Changes `user`'s password in the table, as any writer may (an original service
/// included): the migration's trigger then revokes every token the user had.
pub async fn change_password(db_url: &str, user: Uuid) {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    let done = sqlx::query(r#"UPDATE "user" SET password = $2 WHERE id = $1"#)
        .bind(user)
        .bind(format!("changed-{}", Uuid::new_v4().simple()))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "no user {user}");
}

/// Marks `user` deactivated (`true`) or active again, touching `"user".deactivated_at`
/// only: auth's administrators also set `tokens_valid_after`, which this leaves alone,
/// so a test sees that a service refuses a deactivated user's tokens by that column
/// alone, and admits them again once it is cleared.
pub async fn set_deactivated(db_url: &str, user: Uuid, deactivated: bool) {
    let mut conn = PgConnection::connect(db_url).await.unwrap();
    let done = sqlx::query(
        r#"UPDATE "user" SET deactivated_at = CASE WHEN $2 THEN clock_timestamp() END WHERE id = $1"#,
    )
    .bind(user)
    .bind(deactivated)
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "no user {user}");
}
