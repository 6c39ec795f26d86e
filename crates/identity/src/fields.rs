//! The user's fields as registration checks them: one definition for every door that
//! writes them (user-soap's SOAP and JSON registration, auth's profile update and email
//! change), so a value one accepts the others accept too.

use std::borrow::Cow;

/// A field of the `"user"` row a client writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `username`.
    Username,
    /// `password`.
    Password,
    /// `first_name`.
    FirstName,
    /// `last_name`.
    LastName,
    /// `dni` (national id).
    Dni,
    /// `email`.
    Email,
    /// `city`.
    City,
}

impl Field {
    /// Every field, in the order registration checks them (the first problem is the one
    /// reported).
    pub const ALL: [Self; 7] = [
        Self::Username,
        Self::Password,
        Self::FirstName,
        Self::LastName,
        Self::Dni,
        Self::Email,
        Self::City,
    ];

    /// The field's name: the message element's, the JSON member's and the `"user"`
    /// column's.
    pub fn name(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Password => "password",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Dni => "dni",
            Self::Email => "email",
            Self::City => "city",
        }
    }

    /// The most characters accepted: the `"user"` column lengths; the password is
    /// hashed, its bound only keeps the hashing cost sane.
    fn max_chars(self) -> usize {
        match self {
            Self::Username => 80,
            Self::Password => 1024,
            Self::FirstName | Self::LastName | Self::City => 100,
            Self::Dni => 20,
            Self::Email => 120,
        }
    }
}

/// A refused field: which one and why, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid {}: {message}", field.name())]
pub struct Invalid {
    /// The field.
    pub field: Field,
    /// What is wrong with it (a fixed text).
    pub message: Cow<'static, str>,
}

impl Invalid {
    /// `field` refused because of `message`.
    pub fn new(field: Field, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// One field's value: trimmed (except the password, hashed exactly as sent), not
/// empty, within its length in characters (as VARCHAR counts), no control characters
/// (a password may hold tabs). The per-field rules beyond these ([`username`],
/// [`email`]) are separate.
pub fn checked(field: Field, raw: &str) -> Result<String, Invalid> {
    let value = if field == Field::Password {
        raw
    } else {
        raw.trim()
    };
    if value.trim().is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    let max = field.max_chars();
    if value.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(field == Field::Password && c == '\t'))
    {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// The username rules beyond [`checked`]: no `@` and no invisible characters.
///
/// A username that could be an email would let its owner answer logins meant for the
/// email's owner (auth accepts either): usernames hold no `@` (nor a form that NFKC
/// turns into one), and every new email holds one, so a new username and a new email
/// can never be equal, even canonically.
pub fn username(checked: &str) -> Result<(), Invalid> {
    if checked.contains(['@', '\u{FF20}', '\u{FE6B}']) {
        return Err(Invalid::new(Field::Username, "must not contain @"));
    }
    visible(Field::Username, checked)
}

/// The email rules beyond [`checked`]: no invisible characters, and the shape of an
/// address.
pub fn email(checked: &str) -> Result<(), Invalid> {
    visible(Field::Email, checked)?;
    if !is_email(checked) {
        return Err(Invalid::new(Field::Email, "is not an email address"));
    }
    Ok(())
}

/// An email as registration takes it: [`checked`], then [`email`].
pub fn checked_email(raw: &str) -> Result<String, Invalid> {
    let value = checked(Field::Email, raw)?;
    email(&value)?;
    Ok(value)
}

fn visible(field: Field, value: &str) -> Result<(), Invalid> {
    if value.chars().any(is_invisible) {
        return Err(Invalid::new(
            field,
            "must not contain invisible or bidirectional control characters",
        ));
    }
    Ok(())
}

/// Characters that change how an identity looks or reads without being seen: Unicode's
/// default-ignorable code points (zero-width spaces and joiners, soft hyphen, variation
/// selectors, tags, fillers) and the bidirectional controls. Two usernames differing
/// only by these would look the same.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(checked(Field::City, "  Lima ").unwrap(), "Lima");
        assert_eq!(
            checked(Field::FirstName, " \t ").unwrap_err().to_string(),
            "Invalid first_name: must not be empty"
        );
        assert_eq!(
            checked(Field::LastName, &"x".repeat(101))
                .unwrap_err()
                .to_string(),
            "Invalid last_name: must be at most 100 characters"
        );
        assert!(checked(Field::City, "a\u{7}b").is_err());
        assert_eq!(checked(Field::Password, "\tpw ").unwrap(), "\tpw ");
    }

    #[test]
    fn emails_need_a_dotted_domain_and_no_invisible_characters() {
        assert_eq!(
            checked_email(" ana@example.com ").unwrap(),
            "ana@example.com"
        );
        for bad in [
            "ana",
            "ana@example",
            "a b@example.com",
            "ana@@x.io",
            "an\u{200B}a@x.io",
        ] {
            assert!(checked_email(bad).is_err(), "{bad}");
        }
        assert!(username("ana@x").is_err());
        assert!(username("ana").is_ok());
    }
}
