//! The registration message: reading it (legacy and WSDL forms), validating it, and
//! the original's reply bytes.

use hub_soap::{Fault, SoapVersion, xml::Element};

/// Fields are read from this namespace, as the original did.
pub const USER_NS: &str = "http://example.com/user";
/// The response and fault-detail namespace.
pub const SERVICE_NS: &str = "http://example.com/userservice";

/// A registration as sent, every field present and valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Username (trimmed).
    pub username: String,
    /// Password, exactly as sent (not trimmed: the login compares it as typed).
    pub password: String,
    /// First name (trimmed).
    pub first_name: String,
    /// Last name (trimmed).
    pub last_name: String,
    /// National id (trimmed).
    pub dni: String,
    /// Email (trimmed).
    pub email: String,
    /// City (trimmed).
    pub city: String,
}

/// (field, maximum characters): the `"user"` column lengths; the password is hashed,
/// its bound only keeps hashing cost sane.
const FIELDS: [(&str, usize); 7] = [
    ("username", 80),
    ("password", 1024),
    ("first_name", 100),
    ("last_name", 100),
    ("dni", 20),
    ("email", 120),
    ("city", 100),
];

/// A Client fault naming `field`, with the WSDL's `RegistrationFault` detail.
pub fn invalid(version: SoapVersion, field: &str, message: &str) -> Fault {
    let detail = format!(
        "<us:RegistrationFault xmlns:us=\"{SERVICE_NS}\"><us:field>{}</us:field><us:message>{}</us:message></us:RegistrationFault>",
        hub_soap::xml::escape(field),
        hub_soap::xml::escape(message)
    );
    Fault::client(format!("Invalid {field}: {message}"))
        .with_version(version)
        .with_detail(detail)
}

/// Whether the Body child is a registration: the WSDL's (and the front-end's)
/// `{http://example.com/user}RegisterUser`, or, as the original accepted, any wrapper
/// holding fields in the user namespace.
pub fn is_registration(body: &Element) -> bool {
    body.is(USER_NS, "RegisterUser")
        || FIELDS
            .iter()
            .any(|(name, _)| !body.descendants_named(USER_NS, name).is_empty())
}

/// Reads and validates the fields, found by namespace and local name at any depth
/// below the Body child, as the original's `//user:<name>` did.
pub fn read(body: &Element, version: SoapVersion) -> Result<Registration, Fault> {
    let mut values = Vec::with_capacity(FIELDS.len());
    for (name, max) in FIELDS {
        let found = body.descendants_named(USER_NS, name);
        let raw = match found.as_slice() {
            [] => return Err(invalid(version, name, "is required")),
            [one] => one.text.as_str(),
            _ => return Err(invalid(version, name, "appears more than once")),
        };
        let value = if name == "password" { raw } else { raw.trim() };
        if value.trim().is_empty() {
            return Err(invalid(version, name, "must not be empty"));
        }
        if value.chars().count() > max {
            return Err(invalid(
                version,
                name,
                &format!("must be at most {max} characters"),
            ));
        }
        if value
            .chars()
            .any(|c| c.is_control() && !(name == "password" && matches!(c, '\t')))
        {
            return Err(invalid(
                version,
                name,
                "must not contain control characters",
            ));
        }
        values.push(value.to_owned());
    }
    let [username, password, first_name, last_name, dni, email, city]: [String; 7] = values
        .try_into()
        .map_err(|_| Fault::server("Internal error").with_version(version))?;
    if !is_email(&email) {
        return Err(invalid(version, "email", "is not an email address"));
    }
    Ok(Registration {
        username,
        password,
        first_name,
        last_name,
        dni,
        email,
        city,
    })
}

/// A pragmatic shape check: one `@`, a non-empty local part, a dotted domain, no spaces.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
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
        let r = read(&body(OK), SoapVersion::V11).unwrap();
        assert_eq!(
            (
                r.username.as_str(),
                r.password.as_str(),
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
        assert_eq!(read(&legacy, SoapVersion::V11).unwrap().city, "Málaga");
        let other = parse(
            r#"<x:Op xmlns:x="urn:other"><x:username>a</x:username></x:Op>"#,
            &Limits::default(),
        )
        .unwrap();
        assert!(!is_registration(&other));
    }

    fn field_error(fields: &str) -> String {
        read(&body(fields), SoapVersion::V11).unwrap_err().reason
    }

    #[test]
    fn every_invalid_field_is_named() {
        assert_eq!(
            field_error(&OK.replace("<u:city>Málaga</u:city>", "")),
            "Invalid city: is required"
        );
        assert_eq!(
            field_error(&OK.replace(" ana ", "  ")),
            "Invalid username: must not be empty"
        );
        assert_eq!(
            field_error(&OK.replace("123", &"9".repeat(21))),
            "Invalid dni: must be at most 20 characters"
        );
        assert_eq!(
            field_error(&OK.replace("ana@example.com", "ana.example.com")),
            "Invalid email: is not an email address"
        );
        assert_eq!(
            field_error(&OK.replace("ana@example.com", "ana@localhost")),
            "Invalid email: is not an email address"
        );
        assert_eq!(
            field_error(&format!("{OK}<u:dni>456</u:dni>")),
            "Invalid dni: appears more than once"
        );
        assert_eq!(
            field_error(&OK.replace("Ana<", "A&#127;na<")),
            "Invalid first_name: must not contain control characters"
        );
        // 80 characters of non-ASCII are fine: limits count characters, as VARCHAR does.
        assert!(
            read(
                &body(&OK.replace(" ana ", &"ñ".repeat(80))),
                SoapVersion::V11
            )
            .is_ok()
        );
    }

    #[test]
    fn the_detail_is_the_wsdl_registration_fault() {
        let f = invalid(SoapVersion::V12, "email", "is <bad>");
        assert!(
            f.detail
                .unwrap()
                .contains("<us:field>email</us:field><us:message>is &lt;bad&gt;</us:message>")
        );
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
