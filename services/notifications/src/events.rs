//! Which event means which mail: the catalogue's events (docs/EVENTS.md, "consumed by
//! notifications") turned into a recipient and a rendered template.
//!
//! Nothing here logs or returns a value from the payload in an error: a serde message
//! can quote the value it choked on (a code, a link), so parse errors are reduced to
//! the event's name and the error's category.

use hub_events::catalogue::{
    EmailChanged, EmailVerificationRequested, Event, PasswordChanged, PasswordResetRequested,
    UserRegistered, VerificationPurpose,
};
use serde::Deserialize;

use crate::templates::{self, Rendered, Values};

/// A mail an event asks for.
#[derive(Debug)]
pub struct Mail {
    /// The template's name (the `notification` row's `template`, a metric label).
    pub template: &'static str,
    /// The recipient's address as the event gives it.
    pub to: String,
    /// The subject and both parts.
    pub rendered: Rendered,
}

/// Why an event cannot become a mail: the message is poison.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unmailable(pub String);

#[derive(Deserialize)]
struct Envelope {
    event: String,
    data: serde_json::Value,
}

/// The mail `body` (an event envelope) asks for; `None` for an event that asks for none.
pub fn mail_for(body: &[u8]) -> Result<Option<Mail>, Unmailable> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        Unmailable(format!(
            "not an event envelope ({:?} at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    let data = envelope.data;
    let mail = match envelope.event.as_str() {
        UserRegistered::NAME => {
            let e: UserRegistered = payload(data)?;
            mail(
                "welcome",
                e.email,
                &Values::from([
                    ("username", e.username.as_str()),
                    ("first_name", e.first_name.as_str()),
                ]),
            )?
        }
        PasswordResetRequested::NAME => {
            let e: PasswordResetRequested = payload(data)?;
            let minutes = e.expires_in_minutes.to_string();
            mail(
                "password_reset",
                e.email,
                &code_values(&e.username, &e.code, e.link.as_deref(), &minutes),
            )?
        }
        EmailVerificationRequested::NAME => {
            let e: EmailVerificationRequested = payload(data)?;
            let minutes = e.expires_in_minutes.to_string();
            let template = match e.purpose {
                VerificationPurpose::Registration => "email_verification",
                VerificationPurpose::EmailChange => "email_change_confirm",
            };
            mail(
                template,
                e.email,
                &code_values(&e.username, &e.code, e.link.as_deref(), &minutes),
            )?
        }
        PasswordChanged::NAME => {
            let e: PasswordChanged = payload(data)?;
            mail(
                "password_changed",
                e.email,
                &Values::from([("username", e.username.as_str())]),
            )?
        }
        EmailChanged::NAME => {
            let e: EmailChanged = payload(data)?;
            mail(
                "email_changed",
                e.old_email,
                &Values::from([
                    ("username", e.username.as_str()),
                    ("new_email", e.new_email.as_str()),
                ]),
            )?
        }
        _ => return Ok(None),
    };
    Ok(Some(mail))
}

fn code_values<'a>(
    username: &'a str,
    code: &'a str,
    link: Option<&'a str>,
    minutes: &'a str,
) -> Values<'a> {
    Values::from([
        ("username", username),
        ("code", code),
        ("link", link.unwrap_or("")),
        ("expires_in_minutes", minutes),
    ])
}

fn payload<E: Event + serde::de::DeserializeOwned>(
    data: serde_json::Value,
) -> Result<E, Unmailable> {
    serde_json::from_value(data).map_err(|e| {
        Unmailable(format!(
            "{} payload does not match the catalogue ({:?})",
            E::NAME,
            e.classify()
        ))
    })
}

fn mail(template: &'static str, to: String, values: &Values<'_>) -> Result<Mail, Unmailable> {
    if to.parse::<lettre::Address>().is_err() {
        return Err(Unmailable(format!(
            "{template}: the recipient is not a mail address"
        )));
    }
    let rendered = templates::render(template, values).map_err(|e| Unmailable(e.to_string()))?;
    Ok(Mail {
        template,
        to,
        rendered,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn body(event: &str, data: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"event": event, "data": data, "timestamp": "2026-12-07T10:00:00Z"}),
        )
        .unwrap()
    }

    #[test]
    fn each_event_mails_its_template_to_its_address() {
        let user = "7b3e3c5e-8a51-4c55-a1b5-3c1b0f1b2d9e";
        let code = json!({"user_id": user, "username": "ana", "email": "a@x.test", "code": "C0DE", "expires_in_minutes": 20});
        let mut verify = code.clone();
        verify["purpose"] = json!("registration");
        let mut change = code.clone();
        change["purpose"] = json!("email_change");
        for (event, data, template, to) in [
            (
                "UserRegistered",
                json!({"id": user, "username": "ana", "first_name": "Ana", "last_name": "L", "dni": "1", "email": "a@x.test", "city": "c"}),
                "welcome",
                "a@x.test",
            ),
            (
                "PasswordResetRequested",
                code.clone(),
                "password_reset",
                "a@x.test",
            ),
            (
                "EmailVerificationRequested",
                verify,
                "email_verification",
                "a@x.test",
            ),
            (
                "EmailVerificationRequested",
                change,
                "email_change_confirm",
                "a@x.test",
            ),
            (
                "PasswordChanged",
                json!({"user_id": user, "username": "ana", "email": "a@x.test"}),
                "password_changed",
                "a@x.test",
            ),
            (
                "EmailChanged",
                json!({"user_id": user, "username": "ana", "old_email": "old@x.test", "new_email": "a@x.test"}),
                "email_changed",
                "old@x.test",
            ),
        ] {
            let mail = mail_for(&body(event, data)).unwrap().unwrap();
            assert_eq!((mail.template, mail.to.as_str()), (template, to), "{event}");
        }
    }

    #[test]
    fn a_recipient_that_is_no_address_is_poison() {
        let b = body(
            "PasswordChanged",
            json!({"user_id": "7b3e3c5e-8a51-4c55-a1b5-3c1b0f1b2d9e", "username": "ana", "email": "not an address"}),
        );
        let err = mail_for(&b).unwrap_err().0;
        assert!(
            err.contains("not a mail address") && !err.contains("not an address"),
            "{err}"
        );
    }

    /// The next release's producers may add fields and event types during a rolling
    /// upgrade (docs/ARCHITECTURE.md, "Upgrades"): a known event with more fields is
    /// still mailed, an unknown one is acknowledged without a mail, neither is poison.
    #[test]
    fn a_newer_releases_fields_and_event_types_are_read_or_ignored() {
        let b = body(
            "PasswordChanged",
            json!({"user_id": "7b3e3c5e-8a51-4c55-a1b5-3c1b0f1b2d9e", "username": "ana", "email": "a@x.test", "address": "192.0.2.1", "locale": "es"}),
        );
        let mail = mail_for(&b).unwrap().unwrap();
        assert_eq!(
            (mail.template, mail.to.as_str()),
            ("password_changed", "a@x.test")
        );
        let b = body(
            "AccountLocked",
            json!({"user_id": "7b3e3c5e-8a51-4c55-a1b5-3c1b0f1b2d9e", "email": "a@x.test"}),
        );
        assert!(mail_for(&b).unwrap().is_none());
    }

    #[test]
    fn other_events_ask_for_no_mail() {
        let b = body(
            "UserLoggedIn",
            json!({"user_id": "x", "username": "a", "email": "a@x.test"}),
        );
        assert!(mail_for(&b).unwrap().is_none());
        // auth's forgot-password decoy (no account): acknowledged, mailed to nobody.
        let decoy = body("PasswordResetUnmatched", json!({}));
        assert!(mail_for(&decoy).unwrap().is_none());
    }

    #[test]
    fn a_bad_payload_is_poison_and_its_reason_quotes_no_value() {
        let b = body(
            "PasswordResetRequested",
            json!({"user_id": "not-a-uuid-SECRET", "username": "ana", "email": "a@x.test", "code": 12345, "expires_in_minutes": 20}),
        );
        let err = mail_for(&b).unwrap_err().0;
        assert!(err.starts_with("PasswordResetRequested payload"), "{err}");
        assert!(!err.contains("SECRET") && !err.contains("12345"), "{err}");
        let err = mail_for(b"{\"event\": \"x\", \"data\": \"SECRET")
            .unwrap_err()
            .0;
        assert!(!err.contains("SECRET"), "{err}");
    }
}
