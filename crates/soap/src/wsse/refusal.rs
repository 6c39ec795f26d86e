//! Why credentials were refused, and the standard WS-Security fault that answers each.

use crate::fault::{Fault, ServerError, Subcode};

use super::WSSE_NS;

/// Why credentials were refused: what is logged (INFO) and which fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No credentials where they are required (the text says which are accepted).
    #[error("no credentials")]
    Missing(&'static str),
    /// An unknown user or a wrong password.
    #[error("unknown user or wrong password")]
    BadPassword,
    /// The `(username, nonce)` pair was used before.
    #[error("nonce replayed")]
    Replayed,
    /// An invalid or expired Bearer token.
    #[error("invalid or expired bearer token")]
    BadBearer,
    /// A `Security` header we cannot process (the text says why).
    #[error("invalid Security header: {0}")]
    Invalid(&'static str),
    /// A `Created` too far from our clock, or an `Expires` that has passed.
    #[error("message expired: {0}")]
    Expired(&'static str),
    /// A password sent as text on a request that did not come over TLS, while
    /// `WSSE_ALLOW_PASSWORD_TEXT_OVER_HTTP` is off.
    #[error("password sent as text over plain HTTP")]
    TextOverHttp,
}

/// The standard reason of `wsse:FailedAuthentication`.
const FAILED: &str = "The security token could not be authenticated or authorized";

impl Refusal {
    /// The standard WS-Security fault (SOAP 1.1; set the request's version). An
    /// authentication failure never says which part was wrong.
    pub fn fault(self) -> Fault {
        let (local, reason) = match self {
            Self::Missing(what) => ("FailedAuthentication", format!("{FAILED}: {what}")),
            Self::BadPassword | Self::Replayed | Self::BadBearer => {
                ("FailedAuthentication", FAILED.to_owned())
            }
            Self::Invalid(why) => (
                "InvalidSecurity",
                format!("An error was discovered processing the <wsse:Security> header: {why}"),
            ),
            Self::Expired(why) => ("MessageExpired", format!("The message has expired: {why}")),
            // WSS 1.1 SOAP Message Security §12: the "unsupported" class, a token
            // (here: a password as text, on this transport) the receiver does not take.
            Self::TextOverHttp => (
                "UnsupportedSecurityToken",
                "An unsupported token was provided: a PasswordText is accepted only over \
                 HTTPS; send a PasswordDigest"
                    .to_owned(),
            ),
        };
        Fault::client(reason).with_subcode(Subcode {
            ns: WSSE_NS,
            prefix: "wsse",
            local,
        })
    }
}

/// A refusal, or trouble on our side (the replay cache, a Bearer check).
pub(super) enum Rejection {
    Refused(Refusal),
    Failed(ServerError),
}

impl From<Refusal> for Rejection {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<ServerError> for Rejection {
    fn from(e: ServerError) -> Self {
        Self::Failed(e)
    }
}

impl Rejection {
    /// The fault, the refusal logged at INFO (a client's mistake, never an error).
    pub(super) fn into_fault(self) -> Fault {
        match self {
            Self::Refused(refusal) => {
                tracing::info!(reason = %refusal, "WS-Security credentials refused");
                refusal.fault()
            }
            Self::Failed(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::SoapVersion;

    #[test]
    fn faults_carry_the_wsse_code_in_both_versions() {
        let v11 = Refusal::Replayed.fault().to_xml();
        assert!(v11.contains(&format!(r#"xmlns:wsse="{WSSE_NS}""#)), "{v11}");
        assert!(
            v11.contains("<faultcode>wsse:FailedAuthentication</faultcode>"),
            "{v11}"
        );
        let f = Refusal::Expired("late")
            .fault()
            .with_version(SoapVersion::V12);
        assert_eq!(f.status(), StatusCode::BAD_REQUEST);
        let v12 = f.to_xml();
        assert!(
            v12.contains("<env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>wsse:MessageExpired</env:Value></env:Subcode></env:Code>"),
            "{v12}"
        );
        assert_eq!(
            Refusal::BadPassword.fault().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        // Which part failed is never said.
        assert_eq!(
            Refusal::BadPassword.fault().reason,
            Refusal::Replayed.fault().reason
        );
    }
}
