//! The event catalogue: names, queues, payloads and envelope format.
//!
//! Every message body is the originals' envelope, `{"event","data","timestamp"}`. The
//! AMQP properties add what the originals lacked: `message_id` (a UUID, for consumer
//! deduplication), `correlation_id` (the producing request's `x-request-id`), `type`
//! (the event name), `content_type` `application/json`, `app_id` (the producing
//! service, [`Event::PRODUCER`]) and delivery mode 2.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Queue names, as the originals' `RABBITMQ_QUEUE` defaults.
pub mod queues {
    /// Published by auth.
    pub const AUTH_EVENTS: &str = "auth-events";
    /// Published by user-soap.
    pub const USER_EVENTS: &str = "user-events";
    /// The account events that ask for a mail (reset, verification, notices), consumed by
    /// notifications only: a queue of their own, because a message on a queue goes to one
    /// of its consumers, and session already consumes `auth-events`.
    pub const ACCOUNT_EVENTS: &str = "account-events";
    /// What the images service consumes (`UserDeleted`): a queue of its own, because a
    /// message on a queue goes to one of its consumers (session already has `auth-events`).
    pub const IMAGES_EVENTS: &str = "images-events";
}

/// The services that produce events: each message's `app_id`.
pub mod producers {
    /// auth's login events.
    pub const AUTH: &str = "auth";
    /// user-soap's registration events.
    pub const USER_SOAP: &str = "user-soap";
}

/// How the producing original wrote `timestamp`; kept per event so consumers that
/// parse it keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampStyle {
    /// Python `datetime.isoformat()` on an aware UTC time: `2025-07-05T23:40:01.123456+00:00`
    /// (always six fractional digits here; Python omits them on an exact second).
    Python,
    /// Ruby `Time#iso8601` in UTC: `2025-07-05T23:40:01Z`.
    Ruby,
}

impl TimestampStyle {
    /// Formats `t` in this style.
    pub fn format(self, t: DateTime<Utc>) -> String {
        match self {
            Self::Python => t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
            Self::Ruby => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

/// An event payload (the envelope's `data`).
pub trait Event: Serialize {
    /// The envelope's `event` value.
    const NAME: &'static str;
    /// The envelope's `timestamp` format.
    const TIMESTAMP: TimestampStyle;
    /// The service that produces it ([`producers`]): stored with the outbox row and
    /// published as the message's `app_id`, whichever service's relay publishes it.
    const PRODUCER: &'static str;
}

/// auth: a successful login (consumed by session, which records the login time).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserLoggedIn {
    /// The user's id.
    pub user_id: Uuid,
    /// The username.
    pub username: String,
    /// The user's email.
    pub email: String,
}

impl Event for UserLoggedIn {
    const NAME: &'static str = "UserLoggedIn";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth: a failed login (wrong password or unknown user).
#[derive(Debug, Clone, Serialize)]
pub struct UserLoginFailed {
    /// The username (or email) as sent.
    pub username: String,
    /// `"Invalid credentials"`, as the original; `"Account deactivated"` for the right
    /// password of an account an administrator deactivated.
    pub reason: &'static str,
}

impl Event for UserLoginFailed {
    const NAME: &'static str = "UserLoginFailed";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth: an administrator deactivated an account (no login, every token refused).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDeactivated {
    /// The account's id.
    pub user_id: Uuid,
    /// The administrator's user id.
    pub by: Uuid,
}

impl Event for UserDeactivated {
    const NAME: &'static str = "UserDeactivated";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth: an administrator reactivated an account (its user logs in again).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserReactivated {
    /// The account's id.
    pub user_id: Uuid,
    /// The administrator's user id.
    pub by: Uuid,
}

impl Event for UserReactivated {
    const NAME: &'static str = "UserReactivated";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth: `GET /test-event`.
#[derive(Debug, Clone, Serialize)]
pub struct TestEvent {
    /// Always `"Esto es una prueba"`, as the original.
    pub msg: &'static str,
}

impl Event for TestEvent {
    const NAME: &'static str = "TestEvent";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// user-soap: a user was registered (consumed by notifications: the welcome mail).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRegistered {
    /// The new user's id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// National id number.
    pub dni: String,
    /// Email.
    pub email: String,
    /// City.
    pub city: String,
}

impl Event for UserRegistered {
    const NAME: &'static str = "UserRegistered";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Ruby;
    const PRODUCER: &'static str = producers::USER_SOAP;
}

/// user-soap: a registration was refused as a duplicate.
#[derive(Debug, Clone, Serialize)]
pub struct UserRegistrationFailed {
    /// Username sent.
    pub username: String,
    /// dni sent.
    pub dni: String,
    /// Email sent.
    pub email: String,
    /// Always `"Duplicate entry detected"`.
    pub error: &'static str,
    /// Which unique constraint was hit, in words (never the raw database message).
    pub details: String,
}

impl Event for UserRegistrationFailed {
    const NAME: &'static str = "UserRegistrationFailed";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Ruby;
    const PRODUCER: &'static str = producers::USER_SOAP;
}

/// auth (`POST /api/account/password/forgot`): someone asked to reset the password of
/// this account. Consumed by notifications, which mails the code (and the link, if any) to
/// `email`. The code is single-use and expires; it is in this payload only so the mail
/// can carry it: nothing may log it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordResetRequested {
    /// The user's id.
    pub user_id: Uuid,
    /// The username.
    pub username: String,
    /// Where the mail goes: the account's email.
    pub email: String,
    /// The single-use code.
    pub code: String,
    /// A link that carries the code, when auth knows the front-end's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Minutes until the code expires.
    pub expires_in_minutes: u32,
}

impl Event for PasswordResetRequested {
    const NAME: &'static str = "PasswordResetRequested";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth (`POST /api/account/password/forgot`): a reset was asked for a login that names
/// no account, or for an account past its limit of codes per window. It carries
/// nothing and mails nobody (notifications ignores it): it exists so that this path
/// writes the same outbox row as [`PasswordResetRequested`]'s, and the answer's timing
/// does not tell whether the account exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordResetUnmatched {}

impl Event for PasswordResetUnmatched {
    const NAME: &'static str = "PasswordResetUnmatched";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// user-soap (at registration) and auth (a resend, an email change): an address must be
/// confirmed. Consumed by notifications: a mail with the code
/// (and the link, if any) to `email`, the address being verified.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailVerificationRequested {
    /// The user's id.
    pub user_id: Uuid,
    /// The username.
    pub username: String,
    /// The address to verify, where the mail goes.
    pub email: String,
    /// The single-use code.
    pub code: String,
    /// A link that carries the code, when auth knows the front-end's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Minutes until the code expires.
    pub expires_in_minutes: u32,
    /// Why: `registration` or `email_change` (the mail's wording).
    pub purpose: VerificationPurpose,
}

/// Why an address is being verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationPurpose {
    /// A new account's address.
    Registration,
    /// The new address of an email change (confirmed there before it takes effect).
    EmailChange,
}

impl Event for EmailVerificationRequested {
    const NAME: &'static str = "EmailVerificationRequested";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth (`POST /api/account/password` and `/reset`): the password was changed or reset. Consumed by
/// notifications: a notice to `email`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordChanged {
    /// The user's id.
    pub user_id: Uuid,
    /// The username.
    pub username: String,
    /// The account's email, where the notice goes.
    pub email: String,
}

impl Event for PasswordChanged {
    const NAME: &'static str = "PasswordChanged";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth: the account's email changed (after confirmation at
/// the new address). Consumed by notifications: a notice to the old address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailChanged {
    /// The user's id.
    pub user_id: Uuid,
    /// The username.
    pub username: String,
    /// The address the account had, where the notice goes.
    pub old_email: String,
    /// The address it has now.
    pub new_email: String,
}

impl Event for EmailChanged {
    const NAME: &'static str = "EmailChanged";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth: an account was deleted (by its user, or by an admin). Written to the outbox twice in
/// the deletion's transaction, once per consumer: to auth's queue (`auth-events`: session
/// deletes the user's session documents) and to `images-events` (images deletes the user's
/// objects). Only the id: the event outlives the account, so it carries no personal data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDeleted {
    /// The id the account had.
    pub user_id: Uuid,
}

impl Event for UserDeleted {
    const NAME: &'static str = "UserDeleted";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

/// auth: a user changed their profile (`PATCH /api/account/profile`). Carries the
/// profile as it is now, and which fields this update changed. No consumer yet; on the
/// user domain's queue, beside `UserRegistered`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserUpdated {
    /// The user's id.
    pub user_id: Uuid,
    /// The username.
    pub username: String,
    /// First name, now.
    pub first_name: String,
    /// Last name, now.
    pub last_name: String,
    /// City, now.
    pub city: String,
    /// The fields this update changed (`first_name`, `last_name`, `city`), in that order.
    pub changed: Vec<String>,
    /// When the row was written (`"user".updated_at`).
    pub updated_at: DateTime<Utc>,
}

impl Event for UserUpdated {
    const NAME: &'static str = "UserUpdated";
    const TIMESTAMP: TimestampStyle = TimestampStyle::Python;
    const PRODUCER: &'static str = producers::AUTH;
}

#[derive(Serialize)]
struct Envelope<'a, E> {
    event: &'static str,
    data: &'a E,
    timestamp: String,
}

/// The message body for `event` at time `at`.
pub fn envelope<E: Event>(event: &E, at: DateTime<Utc>) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Envelope {
        event: E::NAME,
        data: event,
        timestamp: E::TIMESTAMP.format(at),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn envelopes_keep_the_originals_shape_and_timestamps() {
        let at = Utc.with_ymd_and_hms(2025, 7, 5, 23, 40, 1).unwrap()
            + chrono::Duration::microseconds(123456);
        let body = envelope(
            &TestEvent {
                msg: "Esto es una prueba",
            },
            at,
        )
        .unwrap();
        assert_eq!(
            body,
            r#"{"event":"TestEvent","data":{"msg":"Esto es una prueba"},"timestamp":"2025-07-05T23:40:01.123456+00:00"}"#
        );
        assert_eq!(TimestampStyle::Ruby.format(at), "2025-07-05T23:40:01Z");
    }
}
