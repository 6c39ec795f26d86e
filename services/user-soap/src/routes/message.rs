//! The registration message over SOAP: reading it (legacy and WSDL forms) and the
//! original's reply bytes.

use hub_soap::{SoapVersion, xml::Element};

use crate::registration::{Field, Invalid, Registration};

/// Fields are read from this namespace, as the original did.
pub const USER_NS: &str = "http://example.com/user";
/// The response and fault-detail namespace.
pub const SERVICE_NS: &str = "http://example.com/userservice";

/// The registration's `Action` (WS-Addressing `wsaw:Action` and `soapAction` in the WSDL).
pub const ACTION: &str = "http://example.com/userservice/RegisterUser";
/// The `Action` of its reply (the WSDL's output `wsaw:Action`).
pub const REPLY_ACTION: &str = "http://example.com/userservice/RegisterUserResponse";
/// The `Action` of a `RegistrationFault` (the WSDL's fault `wsaw:Action`).
pub const REGISTRATION_FAULT_ACTION: &str =
    "http://example.com/userservice/RegisterUser/Fault/RegistrationFault";
/// The `Action` of a `RateLimitFault` (the WSDL's fault `wsaw:Action`).
pub const RATE_LIMIT_FAULT_ACTION: &str =
    "http://example.com/userservice/RegisterUser/Fault/RateLimitFault";

/// Whether the Body child is a registration: the WSDL's (and the front-end's)
/// `{http://example.com/user}RegisterUser`, or, as the original accepted, any wrapper
/// holding fields in the user namespace.
pub fn is_registration(body: &Element) -> bool {
    body.is(USER_NS, "RegisterUser")
        || Field::ALL
            .iter()
            .any(|field| !body.descendants_named(USER_NS, field.name()).is_empty())
}

/// Reads and validates the fields, found by namespace and local name at any depth
/// below the Body child, as the original's `//user:<name>` did; each exactly once.
pub fn read(body: &Element) -> Result<Registration, Invalid> {
    Registration::from_fields(|field| {
        match body.descendants_named(USER_NS, field.name()).as_slice() {
            [] => Err(Invalid::new(field, "is required")),
            [one] => Ok(one.text.as_str()),
            _ => Err(Invalid::new(field, "appears more than once")),
        }
    })
}

/// The original's success reply, byte for byte (indentation, single quotes, no XML
/// declaration, no trailing newline), in the request's envelope namespace.
pub fn success_reply(version: SoapVersion, id: &str) -> String {
    format!(
        "<soapenv:Envelope xmlns:soapenv='{ns}' xmlns:us='{SERVICE_NS}'>\n      <soapenv:Header/>\n      <soapenv:Body>\n        <us:registerUserResponse>\n          <us:message>User registered successfully</us:message>\n          <us:id>{id}</us:id>\n        </us:registerUserResponse>\n      </soapenv:Body>\n    </soapenv:Envelope>",
        ns = version.ns(),
        id = hub_soap::xml::escape(id)
    )
}

/// The original's 409 reply, byte for byte, in the request's envelope namespace.
pub fn duplicate_reply(version: SoapVersion) -> String {
    format!(
        "<soapenv:Envelope xmlns:soapenv='{ns}' xmlns:us='{SERVICE_NS}'>\n        <soapenv:Header/>\n        <soapenv:Body>\n          <us:registerUserResponse>\n            <us:message>Duplicate user information detected (username, dni, or email).</us:message>\n          </us:registerUserResponse>\n        </soapenv:Body>\n      </soapenv:Envelope>",
        ns = version.ns()
    )
}

#[cfg(test)]
mod tests {
    use hub_soap::xml::{Limits, parse};
    use secrecy::ExposeSecret as _;

    use super::*;

    fn body(fields: &str) -> Element {
        parse(
            &format!(r#"<u:RegisterUser xmlns:u="{USER_NS}">{fields}</u:RegisterUser>"#),
            &Limits::default(),
        )
        .unwrap()
    }

    const OK: &str = "<u:username> ana </u:username><u:password> p w </u:password><u:first_name>Ana</u:first_name><u:last_name>Peña</u:last_name><u:dni>123</u:dni><u:email>ana@example.com</u:email><u:city>Málaga</u:city>";

    #[test]
    fn fields_are_trimmed_except_the_password() {
        let r = read(&body(OK)).unwrap();
        assert_eq!(
            (
                r.username.as_str(),
                r.password.expose_secret(),
                r.last_name.as_str()
            ),
            ("ana", " p w ", "Peña")
        );
    }

    #[test]
    fn fields_are_found_at_any_depth_under_any_wrapper() {
        let legacy = parse(
            &format!(r#"<x:Anything xmlns:x="urn:other" xmlns:u="{USER_NS}"><x:inner>{OK}</x:inner></x:Anything>"#),
            &Limits::default(),
        )
        .unwrap();
        assert!(is_registration(&legacy));
        assert_eq!(read(&legacy).unwrap().city, "Málaga");
        let other = parse(
            r#"<x:Op xmlns:x="urn:other"><x:username>a</x:username></x:Op>"#,
            &Limits::default(),
        )
        .unwrap();
        assert!(!is_registration(&other));
    }

    fn field_error(fields: &str) -> String {
        read(&body(fields)).unwrap_err().to_string()
    }

    #[test]
    fn every_invalid_field_is_named() {
        let long_dni = "9".repeat(21);
        for (from, to, expected) in [
            ("<u:city>Málaga</u:city>", "", "Invalid city: is required"),
            (" ana ", "  ", "Invalid username: must not be empty"),
            (
                "123",
                &long_dni,
                "Invalid dni: must be at most 20 characters",
            ),
            (
                "ana@example.com",
                "ana.example.com",
                "Invalid email: is not an email address",
            ),
            (
                "ana@example.com",
                "ana@localhost",
                "Invalid email: is not an email address",
            ),
            (
                "Ana<",
                "A&#127;na<",
                "Invalid first_name: must not contain control characters",
            ),
        ] {
            assert_eq!(
                field_error(&OK.replace(from, to)),
                expected,
                "{from} -> {to}"
            );
        }
        assert_eq!(
            field_error(&format!("{OK}<u:dni>456</u:dni>")),
            "Invalid dni: appears more than once"
        );
        // 80 characters of non-ASCII are fine: limits count characters, as VARCHAR does.
        assert!(read(&body(&OK.replace(" ana ", &"ñ".repeat(80)))).is_ok());
    }

    #[test]
    fn replies_match_the_original_bytes() {
        let ok = success_reply(SoapVersion::V11, "3f1c");
        assert_eq!(
            ok,
            "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/' xmlns:us='http://example.com/userservice'>\n      <soapenv:Header/>\n      <soapenv:Body>\n        <us:registerUserResponse>\n          <us:message>User registered successfully</us:message>\n          <us:id>3f1c</us:id>\n        </us:registerUserResponse>\n      </soapenv:Body>\n    </soapenv:Envelope>"
        );
        let dup = duplicate_reply(SoapVersion::V11);
        let indents: Vec<usize> = dup
            .lines()
            .skip(1)
            .map(|l| l.len() - l.trim_start().len())
            .collect();
        assert_eq!(indents, [8, 8, 10, 12, 10, 8, 6]);
        assert!(!dup.ends_with('\n'));
    }
}
