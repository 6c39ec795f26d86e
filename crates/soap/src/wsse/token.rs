//! A `Security` header's UsernameToken verified: its shape, its password (as text or
//! as the profile's digest, compared in constant time) and its `Created`. Pure: the
//! clock is passed in, and the nonce is left for the replay cache to record.

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::ExposeSecret as _;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq as _};

use super::{
    BASE64_BINARY, PASSWORD_DIGEST, PASSWORD_TEXT, WSSE_NS, WSU_NS,
    refusal::Refusal,
    settings::Credentials,
    timestamp::{check_timestamp, fresh, instant},
};
use crate::xml::Element;

/// The longest nonce accepted, in bytes (clients send 16 or 20).
const MAX_NONCE_BYTES: usize = 128;

/// `Base64(SHA-1(nonce + created + password))`, the UsernameToken Profile's digest
/// (`created` exactly as the token's text).
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    BASE64.encode(digest(nonce, created, password))
}

fn digest(nonce: &[u8], created: &str, password: &str) -> [u8; 20] {
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    sha.finalize().into()
}

/// A UsernameToken that authenticated (the nonce is still to be recorded).
#[derive(Debug)]
pub(super) struct Verified<'a> {
    pub(super) username: &'a str,
    pub(super) nonce: Option<Vec<u8>>,
    /// Until when the nonce must be remembered: its `Created` plus the allowed skew,
    /// after which the token is refused as expired anyway.
    pub(super) remember_until: DateTime<Utc>,
}

/// Checks a `Security` header at `now`: an optional `wsu:Timestamp` and exactly one
/// `UsernameToken`, whose password matches the user's. A password as text is refused
/// unless `text_allowed` (see [`Guard::text_allowed`]), before it is compared.
pub(super) fn verify_security<'a>(
    users: &Credentials,
    skew: TimeDelta,
    security: &'a Element,
    text_allowed: bool,
    now: DateTime<Utc>,
) -> Result<Verified<'a>, Refusal> {
    let [token, timestamp] = distinct_children(
        security,
        [(WSSE_NS, "UsernameToken"), (WSU_NS, "Timestamp")],
        "only a UsernameToken and a Timestamp are supported",
        "more than one UsernameToken or Timestamp",
    )?;
    if let Some(timestamp) = timestamp {
        check_timestamp(timestamp, skew, now)?;
    }
    let token = token.ok_or(Refusal::Invalid("no UsernameToken"))?;

    let [username, password, nonce, created] = distinct_children(
        token,
        [
            (WSSE_NS, "Username"),
            (WSSE_NS, "Password"),
            (WSSE_NS, "Nonce"),
            (WSU_NS, "Created"),
        ],
        "the UsernameToken holds an unsupported element",
        "an element of the UsernameToken is repeated",
    )?;
    let username: &Element =
        username.ok_or(Refusal::Invalid("the UsernameToken has no Username"))?;
    let password: &Element =
        password.ok_or(Refusal::Invalid("the UsernameToken has no Password"))?;
    let digest_sent = match password.attr(None, "Type") {
        None | Some(PASSWORD_TEXT) => false,
        Some(PASSWORD_DIGEST) => true,
        Some(_) => return Err(Refusal::Invalid("unsupported Password Type")),
    };
    let nonce = nonce.map(read_nonce).transpose()?;
    let created_at = created.map(|c| instant(&c.text)).transpose()?;
    if nonce.is_some() && created.is_none() {
        return Err(Refusal::Invalid("a Nonce needs a Created"));
    }
    let sent = if digest_sent {
        match (nonce.as_deref(), created) {
            (Some(nonce), Some(created)) => Sent::Digest(nonce, &created.text),
            _ => {
                return Err(Refusal::Invalid(
                    "a PasswordDigest needs a Nonce and a Created",
                ));
            }
        }
    } else if text_allowed {
        Sent::Text
    } else {
        return Err(Refusal::TextOverHttp);
    };
    if let Some(created_at) = created_at {
        fresh(
            created_at,
            skew,
            now,
            "the UsernameToken's Created is outside the allowed clock skew",
        )?;
    }
    password_matches(users, &username.text, &password.text, sent)?;
    Ok(Verified {
        username: &username.text,
        nonce,
        // A nonce always comes with a Created; without one nothing is remembered.
        remember_until: created_at.map_or(now, |c| c + skew),
    })
}

/// How the password was sent.
#[derive(Debug, Clone, Copy)]
pub(super) enum Sent<'a> {
    /// As text.
    Text,
    /// As the digest of this nonce and this `Created` text.
    Digest(&'a [u8], &'a str),
}

/// Compares the `password` text as `sent` with the user's, in constant time; an
/// unknown user costs the same as a known one.
pub(super) fn password_matches(
    users: &Credentials,
    username: &str,
    password: &str,
    sent: Sent<'_>,
) -> Result<(), Refusal> {
    // Stands in for an unknown user's password, so the comparison still happens.
    const NOBODY: &str = "\u{0}no such user\u{0}";
    let stored = users.password(username);
    let known = Choice::from(u8::from(stored.is_some()));
    let expected = stored.map_or(NOBODY, |p| p.expose_secret());
    let matches = match sent {
        Sent::Text => Sha256::digest(password.as_bytes())
            .as_slice()
            .ct_eq(Sha256::digest(expected.as_bytes()).as_slice()),
        Sent::Digest(nonce, created) => {
            let sent = BASE64
                .decode(strip_whitespace(password))
                .unwrap_or_default();
            sent.as_slice()
                .ct_eq(digest(nonce, created, expected).as_slice())
        }
    };
    if bool::from(matches & known) {
        Ok(())
    } else {
        Err(Refusal::BadPassword)
    }
}

/// The nonce's bytes: Base64 (the only encoding accepted), 1 to 128 bytes.
fn read_nonce(nonce: &Element) -> Result<Vec<u8>, Refusal> {
    match nonce.attr(None, "EncodingType") {
        None | Some(BASE64_BINARY) => {}
        Some(_) => return Err(Refusal::Invalid("unsupported Nonce EncodingType")),
    }
    match BASE64.decode(strip_whitespace(&nonce.text)) {
        Ok(bytes) if !bytes.is_empty() && bytes.len() <= MAX_NONCE_BYTES => Ok(bytes),
        _ => Err(Refusal::Invalid(
            "the Nonce must be 1 to 128 bytes in Base64",
        )),
    }
}

/// The children of `parent`, which may only be the elements `names` (namespace, local
/// name), each at most once: `found[i]` is the one named `names[i]`. Any other child is
/// refused as `unsupported`, a second one of the same name as `repeated`.
pub(super) fn distinct_children<'a, const N: usize>(
    parent: &'a Element,
    names: [(&str, &str); N],
    unsupported: &'static str,
    repeated: &'static str,
) -> Result<[Option<&'a Element>; N], Refusal> {
    let mut found = [None; N];
    for child in &parent.children {
        let i = names
            .iter()
            .position(|&(ns, local)| child.is(ns, local))
            .ok_or(Refusal::Invalid(unsupported))?;
        if found[i].replace(child).is_some() {
            return Err(Refusal::Invalid(repeated));
        }
    }
    Ok(found)
}

fn strip_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::{
        SoapVersion,
        xml::{Limits, parse},
    };

    fn users() -> Credentials {
        Credentials::parse("WSSE_USERS", "svc:s3cret wörd\nother:x").unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        instant(text).unwrap()
    }

    const SKEW: TimeDelta = TimeDelta::seconds(300);

    fn security(inner: &str) -> Element {
        parse(
            &format!(r#"<wsse:Security xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}">{inner}</wsse:Security>"#),
            &Limits::default(),
        )
        .unwrap()
    }

    fn token(password: &str, extra: &str) -> String {
        format!(
            "<wsse:UsernameToken><wsse:Username>svc</wsse:Username>{password}{extra}</wsse:UsernameToken>"
        )
    }

    fn digest_token(digest: &str, nonce: &str, created: &str) -> Element {
        security(&token(
            &format!(r#"<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>"#),
            &format!(
                r#"<wsse:Nonce EncodingType="{BASE64_BINARY}">{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"#
            ),
        ))
    }

    fn check(sec: &Element, now: &str) -> Result<Option<Vec<u8>>, Refusal> {
        verify_security(&users(), SKEW, sec, true, at(now)).map(|v| v.nonce)
    }

    /// Produced by the clients themselves: zeep 4.3 (`UsernameToken(use_digest=True,
    /// nonce="0123456789abcdef", created=2026-12-01 10:00 UTC)`) and node-soap 1.13
    /// (`passwordDigest`, which writes `Created` with a `Z`), password `s3cret wörd`.
    #[test]
    fn digests_match_the_clients_vectors() {
        let nonce = b"0123456789abcdef";
        assert_eq!(
            password_digest(nonce, "2026-12-01T10:00:00+00:00", "s3cret wörd"),
            "k5mTTI1vbWVY65kjKp31i8qAmSo="
        );
        assert_eq!(
            password_digest(nonce, "2026-12-01T10:00:00Z", "s3cret wörd"),
            "johFoJCWPkBHR0QJkCn12ddV9iY="
        );
    }

    #[test]
    fn a_zeep_digest_token_authenticates_within_the_skew_only() {
        let sec = digest_token(
            "k5mTTI1vbWVY65kjKp31i8qAmSo=",
            "MDEyMzQ1Njc4OWFiY2RlZg==",
            "2026-12-01T10:00:00+00:00",
        );
        let nonce = check(&sec, "2026-12-01T10:04:59Z").unwrap();
        assert_eq!(nonce.as_deref(), Some(&b"0123456789abcdef"[..]));
        assert!(matches!(
            check(&sec, "2026-12-01T10:05:01Z"),
            Err(Refusal::Expired(_))
        ));
        assert!(matches!(
            check(&sec, "2026-12-01T09:54:59Z"),
            Err(Refusal::Expired(_))
        ));
        let wrong = digest_token(
            "k5mTTI1vbWVY65kjKp31i8qAmSo=",
            "MDEyMzQ1Njc4OWFiY2RlZA==",
            "2026-12-01T10:00:00+00:00",
        );
        assert_eq!(
            check(&wrong, "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword)
        );
    }

    #[test]
    fn text_passwords_compare_exactly_and_unknown_users_fail_alike() {
        let text = |pw: &str| {
            security(&token(
                &format!(r#"<wsse:Password Type="{PASSWORD_TEXT}">{pw}</wsse:Password>"#),
                "",
            ))
        };
        assert_eq!(
            check(&text("s3cret wörd"), "2026-12-01T10:00:00Z"),
            Ok(None)
        );
        assert_eq!(
            check(&text("s3cret wörd "), "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword)
        );
        assert_eq!(
            check(&text("x"), "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword),
            "other's password"
        );
        let untyped = security(&token("<wsse:Password>s3cret wörd</wsse:Password>", ""));
        assert_eq!(
            check(&untyped, "2026-12-01T10:00:00Z"),
            Ok(None),
            "Type defaults to text"
        );
        let ghost = security(
            "<wsse:UsernameToken><wsse:Username>ghost</wsse:Username><wsse:Password></wsse:Password></wsse:UsernameToken>",
        );
        assert_eq!(
            check(&ghost, "2026-12-01T10:00:00Z"),
            Err(Refusal::BadPassword)
        );
    }

    #[test]
    fn a_text_password_is_refused_unless_allowed_before_it_is_compared() {
        let now = at("2026-12-01T10:00:00Z");
        let text = |pw: &str| {
            security(&token(
                &format!(r#"<wsse:Password Type="{PASSWORD_TEXT}">{pw}</wsse:Password>"#),
                "",
            ))
        };
        for pw in ["s3cret wörd", "wrong"] {
            assert_eq!(
                verify_security(&users(), SKEW, &text(pw), false, now).map(|v| v.nonce),
                Err(Refusal::TextOverHttp),
                "{pw}"
            );
        }
        let untyped = security(&token("<wsse:Password>s3cret wörd</wsse:Password>", ""));
        assert_eq!(
            verify_security(&users(), SKEW, &untyped, false, now).map(|v| v.nonce),
            Err(Refusal::TextOverHttp),
            "an untyped password is text"
        );
        // A digest needs no TLS.
        let digest = digest_token(
            "k5mTTI1vbWVY65kjKp31i8qAmSo=",
            "MDEyMzQ1Njc4OWFiY2RlZg==",
            "2026-12-01T10:00:00+00:00",
        );
        assert!(verify_security(&users(), SKEW, &digest, false, now).is_ok());
        // A malformed token is still said to be malformed.
        assert!(matches!(
            verify_security(&users(), SKEW, &security(""), false, now),
            Err(Refusal::Invalid(_))
        ));
        let fault = Refusal::TextOverHttp.fault().with_version(SoapVersion::V12);
        assert_eq!(fault.status(), StatusCode::BAD_REQUEST);
        assert!(
            fault.to_xml().contains(
                "<env:Subcode><env:Value>wsse:UnsupportedSecurityToken</env:Value></env:Subcode>"
            ),
            "{}",
            fault.to_xml()
        );
    }

    #[test]
    fn malformed_tokens_are_invalid_security() {
        let now = "2026-12-01T10:00:00Z";
        for (inner, what) in [
            ("", "no UsernameToken"),
            ("<wsse:UsernameToken/><wsse:UsernameToken/>", "two tokens"),
            ("<wsse:BinarySecurityToken/>", "another token type"),
            (&token("", "") as &str, "no password"),
            (
                &token(r#"<wsse:Password Type="urn:x">p</wsse:Password>"#, ""),
                "unknown type",
            ),
            (
                &token(
                    &format!(r#"<wsse:Password Type="{PASSWORD_DIGEST}">x</wsse:Password>"#),
                    "",
                ),
                "digest without nonce",
            ),
            (
                &token(
                    "<wsse:Password>p</wsse:Password>",
                    "<wsse:Nonce>AAAA</wsse:Nonce>",
                ),
                "nonce without created",
            ),
            (
                &token(
                    "<wsse:Password>p</wsse:Password>",
                    "<wsse:Nonce>not base64!</wsse:Nonce><wsu:Created>2026-12-01T10:00:00Z</wsu:Created>",
                ),
                "bad nonce",
            ),
            (
                &token(
                    "<wsse:Password>p</wsse:Password>",
                    "<wsu:Created>yesterday</wsu:Created>",
                ),
                "bad created",
            ),
        ] {
            assert!(
                matches!(check(&security(inner), now), Err(Refusal::Invalid(_))),
                "{what}"
            );
        }
    }

    #[test]
    fn a_timestamp_is_honoured() {
        let ts = |inner: &str| {
            security(&format!(
                "<wsu:Timestamp>{inner}</wsu:Timestamp>{}",
                token("<wsse:Password>s3cret wörd</wsse:Password>", "")
            ))
        };
        let sec = ts("<wsu:Expires>2026-12-01T10:01:00Z</wsu:Expires>");
        assert!(
            check(&sec, "2026-12-01T10:05:59Z").is_ok(),
            "expires plus leeway"
        );
        assert!(matches!(
            check(&sec, "2026-12-01T10:06:01Z"),
            Err(Refusal::Expired(_))
        ));
        let old = ts("<wsu:Created>2026-12-01T10:00:00Z</wsu:Created>");
        assert!(check(&old, "2026-12-01T10:05:00Z").is_ok());
        assert!(matches!(
            check(&old, "2026-12-01T10:05:01Z"),
            Err(Refusal::Expired(_))
        ));
        let ts = |created: &str, expires: &str| {
            ts(&format!(
                "<wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires>"
            ))
        };
        let future = ts("2026-12-01T11:00:00Z", "2026-12-01T11:10:00Z");
        assert!(matches!(
            check(&future, "2026-12-01T10:00:00Z"),
            Err(Refusal::Expired(_))
        ));
    }
}
