//! The consumer's handler: one event, at most one mail per `message_id`, within the
//! recipient's limit. The retries, backoff and dead-lettering are
//! `hub_events::consumer`'s.
//!
//! | outcome | consumer |
//! |---|---|
//! | event that asks for no mail, or already sent | acked (`skipped`) |
//! | mailed | acked (`processed`) after `sent_at` is written |
//! | not an envelope, payload off the catalogue, recipient not an address | dead-lettered at once (poison) |
//! | another instance holds the claim, or the recipient is over its limit | `Deferred`: parked in `<queue>.deferred` for `CONSUMER_DEFER_MS`, then back at the tail of the queue, without limit; the mail behind it goes on |
//! | the SMTP server answered this mail "try later" (4xx but 421) | `Deferred`, the same |
//! | PostgreSQL or the SMTP server unavailable (refused, timed out, TLS failed, 421) | `Unavailable`: retried in place with backoff, without limit |
//! | the SMTP server refused the mail for good (5xx) | `Failed`: retried, dead-lettered after `CONSUMER_MAX_ATTEMPTS` |
//!
//! Logs name the event's template and outcome, never the address, the subject or a part
//! of the mail (which can hold a code or a link).

use std::time::Duration;

use hub_events::consumer::{HandleError, Handled, Handler, Message};

use crate::{
    config::RateLimit,
    events,
    mail::{Mailer, SendError},
    store::{Claim, Store},
};

/// Mails events.
#[derive(Clone)]
pub struct Notifier {
    /// Claims and marks.
    pub store: Store,
    /// The SMTP client.
    pub mailer: Mailer,
    /// The per-recipient limit.
    pub rate: RateLimit,
    /// How long a claim lasts.
    pub lease: Duration,
}

fn db_error(e: &sqlx::Error) -> HandleError {
    if hub_db::is_unavailable(e) {
        HandleError::Unavailable("PostgreSQL".into())
    } else {
        HandleError::Failed(format!("database error: {e}"))
    }
}

/// HELP text of the metric this service records (registered when a notifier is made).
pub(crate) fn describe_metrics() {
    hub_metrics::describe(|| {
        metrics::describe_counter!(
            "notifications_total",
            "Mails of the notifications service by template and outcome (sent, duplicate, deferred, smtp_unavailable, smtp_deferred, smtp_refused, bad_recipient)."
        );
    });
}

fn count(template: &'static str, outcome: &'static str) {
    metrics::counter!("notifications_total", "template" => template, "outcome" => outcome)
        .increment(1);
}

impl Handler for Notifier {
    async fn handle(&self, message: &Message) -> Result<Handled, HandleError> {
        let mail = match events::mail_for(&message.body) {
            Ok(Some(mail)) => mail,
            Ok(None) => return Ok(Handled::Skipped),
            Err(e) => return Err(HandleError::Poison(e.0)),
        };
        let template = mail.template;
        let claim = self
            .store
            .claim(&message.id, template, &mail.to, self.rate, self.lease)
            .await
            .map_err(|e| db_error(&e))?;
        match claim {
            Claim::Sent => {
                count(template, "duplicate");
                tracing::info!(template, "already mailed; skipping the duplicate");
                return Ok(Handled::Skipped);
            }
            Claim::Busy => {
                return Err(HandleError::Deferred(
                    "another delivery of this message is being mailed".into(),
                ));
            }
            Claim::Limited(wait) => {
                count(template, "deferred");
                return Err(HandleError::Deferred(format!(
                    "recipient over its rate limit for about {} s more",
                    wait.as_secs()
                )));
            }
            Claim::Mine => {}
        }
        match self.mailer.send(&message.id, &mail).await {
            Ok(()) => {
                // If this write fails the lease runs out and the mail goes again: the
                // at-least-once side of the choice (README.md, "Once per event").
                self.store
                    .mark_sent(&message.id)
                    .await
                    .map_err(|e| db_error(&e))?;
                count(template, "sent");
                tracing::info!(template, "mail sent");
                Ok(Handled::Processed)
            }
            Err(e) => {
                if let Err(db) = self.store.release(&message.id).await {
                    tracing::warn!(error = %db, "could not release the claim; it will run out");
                }
                count(
                    template,
                    match e {
                        SendError::Unavailable(_) => "smtp_unavailable",
                        SendError::Deferred(_) => "smtp_deferred",
                        SendError::Refused(_) => "smtp_refused",
                        SendError::BadRecipient => "bad_recipient",
                    },
                );
                Err(match e {
                    SendError::Unavailable(_) => HandleError::Unavailable(e.to_string()),
                    SendError::Deferred(_) => HandleError::Deferred(e.to_string()),
                    SendError::Refused(_) => HandleError::Failed(e.to_string()),
                    SendError::BadRecipient => HandleError::Poison(e.to_string()),
                })
            }
        }
    }
}
