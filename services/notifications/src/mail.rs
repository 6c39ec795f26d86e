//! Sending over SMTP with lettre (tokio, rustls): STARTTLS, implicit TLS or plain, with
//! or without authentication ([`SmtpSettings`]).
//!
//! Errors are classified for the consumer's retry rule and worded without the server's
//! reply text or the mail (a reply can quote the recipient or the message).

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};
use secrecy::ExposeSecret;

use crate::{
    config::{SmtpSettings, SmtpTls},
    events::Mail,
};

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server cannot be reached, timed out, or answered a transient (4xx) error: an
    /// outage, retried without limit.
    #[error("SMTP server unavailable ({0})")]
    Unavailable(&'static str),
    /// The server refused this mail for good (5xx), or it could not be built: retried a
    /// few times, then dead-lettered.
    #[error("SMTP refused the mail ({0})")]
    Refused(&'static str),
    /// The recipient is not a mail address: the event is poison.
    #[error("the recipient is not a mail address")]
    BadRecipient,
}

/// The SMTP client (pooled connections).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of `Message-ID`s.
    domain: String,
}

impl Mailer {
    /// A client for `settings`; connects on first use.
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let parameters = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(pem) = &settings.extra_ca {
                let ca = Certificate::from_pem(pem)
                    .map_err(|_| anyhow::anyhow!("SMTP_TLS_CA_FILE holds no PEM certificate"))?;
                builder = builder.add_root_certificate(ca);
            }
            Ok(builder.build_rustls()?)
        };
        let tls = match settings.tls {
            SmtpTls::StartTls => Tls::Required(parameters()?),
            SmtpTls::Tls => Tls::Wrapper(parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        let domain = settings.from.email.domain().to_owned();
        Ok(Self {
            transport: builder.build(),
            from: settings.from.clone(),
            domain,
        })
    }

    /// Sends `mail` with a `Message-ID` derived from the event's `message_id` (stable, so
    /// a receiver can spot a duplicate too).
    pub async fn send(&self, message_id: &str, mail: &Mail) -> Result<(), SendError> {
        let to: Mailbox = mail.to.parse().map_err(|_| SendError::BadRecipient)?;
        let id: String = message_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.rendered.subject.clone())
            .message_id(Some(format!("<{}.{id}@{}>", mail.template, self.domain)))
            .multipart(MultiPart::alternative_plain_html(
                mail.rendered.text.clone(),
                mail.rendered.html.clone(),
            ))
            .map_err(|_| SendError::Refused("the message could not be built"))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// The kind of an SMTP error, never its text.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Refused("permanent error")
    } else if e.is_transient() {
        SendError::Unavailable("transient error")
    } else if e.is_timeout() {
        SendError::Unavailable("timed out")
    } else if e.is_tls() {
        SendError::Unavailable("TLS failed")
    } else {
        // Connection refused or lost, a failed STARTTLS negotiation, a bad response:
        // the server is not there to take mail.
        SendError::Unavailable("connection failed")
    }
}
