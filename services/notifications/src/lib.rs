//! Notifications service (port 5030): mails users on the domain events, over SMTP.
//!
//! Added by the hub (no original). It serves only the probes every service answers
//! (`/livez`, `/readyz`, `/health`: PostgreSQL checked) and `/metrics`; its work is a
//! consumer per queue (`NOTIFICATIONS_QUEUES`, default `user-events` and
//! `account-events`) on the shared `hub_events::consumer` (ack after the work, retries
//! with backoff, dead-letter queue `<queue>.dlq`):
//! * [`events`]: which event is which mail (`UserRegistered` → welcome; the account
//!   events of issue 23: password reset, email verification, email change confirmation,
//!   password and email change notices), rendered from [`templates`] (text and HTML);
//! * [`notifier`]: the handler: claim the event's `message_id` in PostgreSQL within the
//!   recipient's rate limit ([`store`]), send ([`mail`], lettre over STARTTLS, TLS or
//!   plain), mark it sent; a redelivery is skipped.
//!
//! Nothing it logs carries an address, a subject or any part of a mail (README.md).

pub mod config;
pub mod events;
pub mod mail;
pub mod notifier;
pub mod store;
pub mod templates;

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use hub_runtime::service::{self, Entry, Task};
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::{mail::Mailer, notifier::Notifier, store::Store};

/// The notifications service, as the runtime's skeleton runs it: its state.
#[derive(Clone)]
pub struct Notifications {
    /// The `notification` table.
    pub store: Store,
    /// The SMTP client.
    pub mailer: Mailer,
}

/// How often rows of old mail are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl service::Service for Notifications {
    const ENTRY: Entry = Entry::new_service("notifications", 5030);
    type Config = Config;

    /// Connects to PostgreSQL (migrating, waiting up to its start-up timeout); the SMTP
    /// client connects on its first mail.
    async fn connect(config: &Config) -> anyhow::Result<Self> {
        let pool = config.db.connect(Self::NAME).await?;
        Ok(Self {
            store: Store::new(pool),
            mailer: Mailer::new(&config.smtp)?,
        })
    }

    /// Only the probes and `/metrics`, which the skeleton adds.
    fn router(self, _config: &Config, _local: SocketAddr) -> Router {
        Router::new()
    }

    /// A consumer per queue (unless `NOTIFICATIONS_CONSUMER=false`), and the pruning of
    /// old rows.
    fn tasks(&self, config: &Config, shutdown: &CancellationToken) -> Vec<Task> {
        let store = self.store.clone();
        let retention = config.retention;
        let mut tasks: Vec<Task> = vec![service::every(PRUNE_EVERY, shutdown.clone(), move || {
            let store = store.clone();
            async move {
                match store.prune(retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "pruned old notification rows"),
                    Err(e) => tracing::warn!(error = %e, "could not prune notification rows"),
                }
            }
        })];
        if config.consume_events {
            notifier::describe_metrics();
            for queue in &config.queues {
                let notifier = Notifier {
                    store: self.store.clone(),
                    mailer: self.mailer.clone(),
                    rate: config.rate,
                    lease: config.lease,
                };
                tasks.push(Box::pin(hub_events::consumer::run(
                    config.consumer_of(queue),
                    notifier,
                    shutdown.clone(),
                )));
            }
        }
        tasks
    }

    /// PostgreSQL answers (the claims live there). The SMTP server is not probed: an
    /// instance out of rotation would not mail any sooner; its outages show in
    /// `notifications_total{outcome="smtp_unavailable"}` and the consumer's retries.
    async fn down(&self) -> Option<String> {
        let pg = hub_db::healthy(self.store.pool()).await;
        service::unavailable(&[("PostgreSQL", pg)])
    }

    /// Closes the pool.
    async fn close(self) {
        self.store.pool().close().await;
    }
}
