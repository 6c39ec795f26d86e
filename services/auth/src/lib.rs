//! Auth service (port 5001): login, profile and JWT, a Rust port of the Flask
//! `auth-service` (docs/LEGACY.md, auth).
//!
//! Endpoints:
//! * `POST /login` `{"username": <username or email>, "password"}` → 200
//!   `{"token","refresh_token"}` or 401 `{"message":"Invalid credentials"}`.
//! * `POST /token/refresh` `{"refresh_token"}` → 200 `{"token","refresh_token"}` (the
//!   one presented is used up: presenting it again within `REFRESH_REUSE_GRACE_SECS`
//!   answers the same new refresh token, after that revokes the login) or 401.
//! * `POST /logout` with `Authorization: Bearer <jwt>` → 200: the login's tokens revoked.
//! * `GET /profile` with `Authorization: Bearer <jwt>` → 200 `{"email","user_id","username"}`;
//!   403 / 401 / 404 `{"message"}` as the original; 401 for a revoked token.
//! * `POST /api/account/password` (Bearer) `{"current_password","new_password"}` → 200 the
//!   caller's new `{"token","refresh_token"}`, every earlier token revoked;
//!   `POST /api/account/password/forgot` `{"login"}` → 202 alike for any login;
//!   `POST /api/account/password/reset` `{"code","new_password"}` → 200 (`account::password`).
//! * `GET /api/account/logins`, `DELETE /api/account/logins/{id}`,
//!   `POST /api/account/logins/revoke-others`: the caller's own logins (`routes::logins`).
//! * `/api/admin/users*`: administration, behind `routes::admin_users::RequireAdmin`
//!   (the `roles` claim and the stored role): list, read, deactivate, reactivate, and any
//!   user's logins.
//! * `DELETE /api/account` `{"password"}` with a Bearer token → 200: the caller's account is
//!   deleted from every store ([`account::deletion`]); `GET /api/account/export` → 200 what
//!   auth stores about the caller, as JSON.
//! * `GET /.well-known/jwks.json`: the public keys, when signing with EdDSA.
//! * `GET /test-db`, `GET /test-event` (diagnostics, can be turned off), `GET /auth/health`, `GET /health`.
//!
//! * `/api/account*` with `Authorization: Bearer <jwt>` (the caller's own account):
//!   `GET /api/account`, `PATCH /api/account/profile`, `POST /api/account/email` (an
//!   email change, confirmed at the new address); without a token: `POST
//!   /api/account/email/verify` (a mailed code) and `POST /api/account/email/verify/resend`.
//!
//! Data: reads the shared `"user"` table; writes `"user".password` only to upgrade a
//! legacy hash after a successful login, and `"user".tokens_valid_after` to revoke all
//! of a user's tokens (`auth tokens revoke`), `"user".deactivated_at` (administrators) and
//! `"user".roles` (`auth users grant-admin`); owns `token_family` and `refresh_token`. Events: `UserLoggedIn`, `UserLoginFailed`
//! and `TestEvent` go to the outbox table, and the relay running inside this service
//! publishes them to the durable queue `auth-events`. An account deletion writes
//! `UserDeleted` to `auth-events` and `images-events`, and logs itself in
//! `deleted_account`. Consumes nothing.

pub mod account;
pub mod admin;
pub mod config;
pub mod error;
pub mod login;
pub mod routes;
pub mod state;
pub mod store;
pub mod tokens;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use hub_identity::pool::HashPool;
use hub_runtime::service::{self, Entry, Task};
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::error::ApiError;
/// The auth service, as the runtime's skeleton runs it: its state.
pub use crate::state::AppState as Auth;

impl service::Service for Auth {
    const ENTRY: Entry = Entry::flask::<ApiError>("auth", 5001, "/auth/health");
    type Config = Config;

    /// Connects (waiting for PostgreSQL up to its start-up timeout) and migrates.
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        config.throttle.proxies.warn_if_deprecated();
        let pool = config.db.connect(Self::NAME).await?;
        Ok(Self {
            pool,
            hashing: HashPool::new(config.hashing),
            rehash_on_login: config.rehash_on_login,
            throttle: config.throttle.clone(),
            jwt: config.jwt.clone(),
            refresh_ttl: config.refresh_ttl,
            refresh_grace: config.refresh_grace,
            queue: config.queue.as_str().into(),
            require_verified_email: config.require_verified_email,
            confirmation: Arc::new(config.confirmation.clone()),
            user_queue: config.user_queue.as_str().into(),
            password_policy: config.password_policy.clone(),
            reset: config.reset.clone(),
            account_queue: config.confirmation.queue.as_str().into(),
            images_queue: config.images_queue.as_str().into(),
            stores: account::export::Stores::new(&config.export)?,
        })
    }

    fn router(self, config: &Config, _local: SocketAddr) -> Router {
        routes::router(self, config.test_endpoints)
    }

    /// The outbox relay; the pruning, every five minutes, of throttle rows that no longer
    /// count and, every ten, of token families expired or revoked longer than an access
    /// token lives (any instance may prune: the statements are idempotent).
    fn tasks(&self, config: &Config, shutdown: &CancellationToken) -> Vec<Task> {
        let per_user = &config.throttle.per_user;
        let (keep, ttl) = (per_user.window.max(per_user.lockout), config.jwt.ttl());
        let minutes = |n: u64| Duration::from_secs(n * 60);
        let reset_window = config.reset.window;
        vec![
            Box::pin(hub_events::relay::run(
                self.pool.clone(),
                config.relay.clone(),
                shutdown.clone(),
            )),
            service::every(
                minutes(5),
                shutdown.clone(),
                hub_db::chore_on(
                    self.pool.clone(),
                    "login throttle prune",
                    move |pool| async move {
                        store::throttle::prune(&mut *pool.acquire().await?, keep).await
                    },
                ),
            ),
            service::every(
                minutes(10),
                shutdown.clone(),
                hub_db::chore_on(
                    self.pool.clone(),
                    "email confirmation prune",
                    |pool| async move {
                        hub_identity::confirmation::prune(&mut *pool.acquire().await?).await
                    },
                ),
            ),
            service::every(
                minutes(10),
                shutdown.clone(),
                hub_db::chore_on(
                    self.pool.clone(),
                    "token family prune",
                    move |pool| async move {
                        store::tokens::prune(&mut *pool.acquire().await?, ttl).await
                    },
                ),
            ),
            service::every(
                minutes(10),
                shutdown.clone(),
                hub_db::chore_on(
                    self.pool.clone(),
                    "password reset prune",
                    move |pool| async move {
                        store::password::prune(&mut *pool.acquire().await?, reset_window).await
                    },
                ),
            ),
        ]
    }

    /// PostgreSQL answers (the driver's message is not repeated). RabbitMQ is not
    /// checked: logins work without it (the relay catches up).
    async fn down(&self) -> Option<String> {
        service::unavailable(&[("database", hub_db::healthy(&self.pool).await)])
    }

    async fn close(self) {
        self.pool.close().await;
    }
}
