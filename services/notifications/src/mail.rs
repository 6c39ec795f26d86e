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
use std::time::Duration;

use crate::{
    config::{SmtpSettings, SmtpTls},
    events::Mail,
};

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server cannot be reached, timed out, failed TLS, or closes the channel (421):
    /// an outage, retried in place without limit (every mail waits alike).
    #[error("SMTP server unavailable ({0})")]
    Unavailable(&'static str),
    /// The server answered this mail with a transient (4xx) error other than 421
    /// ("mailbox busy", greylisting, over quota): this mail is parked and tried again
    /// later, without limit, while the others go on.
    #[error("SMTP deferred the mail ({0})")]
    Deferred(&'static str),
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
    /// Bound on a whole send (`SMTP_TIMEOUT_MS`).
    timeout: Duration,
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
            timeout: settings.timeout,
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
        // lettre bounds only the TCP connect by its timeout: a server that accepts and
        // then says nothing (no greeting, a command never answered, a TLS handshake that
        // stalls) would hold this send, and the consumer, for ever. The whole send is
        // bounded here; dropping it drops its connection.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(SendError::Unavailable("timed out")),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
        }
    }
}

/// The kind of an SMTP error, never its text.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(u16::from);
    if matches!(code, Some(530 | 534 | 535 | 538)) {
        // Authentication required, too weak, refused, or needing encryption: the
        // server refuses this client, not this mail (a wrong SMTP_PASSWORD). An outage
        // of ours: retried without limit, never dead-lettered.
        SendError::Unavailable("authentication failed")
    } else if e.is_permanent() {
        SendError::Refused("permanent error")
    } else if e.is_transient() {
        // 421: "service not available, closing transmission channel", the server's
        // own outage; any other 4xx concerns this mail.
        if code == Some(421) {
            SendError::Unavailable("421 service not available")
        } else {
            SendError::Deferred("transient error")
        }
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
