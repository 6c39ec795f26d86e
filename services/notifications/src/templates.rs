//! The mails' texts: templates kept in `services/notifications/templates/`, compiled into
//! the binary, rendered by placeholder substitution.
//!
//! Each mail is `<name>.txt` (first line `Subject: …`, a blank line, the text part) and
//! `<name>.html` (the HTML part). In both, `{{key}}` is replaced by the value of `key`,
//! escaped for HTML in the HTML part (`&`, `<`, `>`, `"`, `'`), as is in the text part;
//! `{{#key}}…{{/key}}` is kept only when `key` has a non-empty value (an optional link).
//! A placeholder without a value is an error, never an empty hole in a mail: the unit
//! tests render every template with the values its event gives.

use std::collections::BTreeMap;

/// One template: its name, and the text and HTML sources.
struct Source {
    name: &'static str,
    text: &'static str,
    html: &'static str,
}

macro_rules! sources {
    ($($name:literal),* $(,)?) => {
        &[$(Source {
            name: $name,
            text: include_str!(concat!("../templates/", $name, ".txt")),
            html: include_str!(concat!("../templates/", $name, ".html")),
        }),*]
    };
}

/// Every template, by name.
const SOURCES: &[Source] = sources![
    "welcome",
    "password_reset",
    "email_verification",
    "email_change_confirm",
    "password_changed",
    "email_changed",
];

/// The names of every template.
pub fn names() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|s| s.name)
}

/// A rendered mail, ready for [`crate::mail`].
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

// Never print a mail: it may hold a code or a link.
impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rendered { .. }")
    }
}

/// Why a template did not render (a programming error: names only, never values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No template of that name.
    #[error("no template {0}")]
    Unknown(String),
    /// A placeholder with no value.
    #[error("template {template}: no value for {{{{{key}}}}}")]
    Missing {
        /// The template.
        template: &'static str,
        /// The placeholder's key.
        key: String,
    },
    /// `{{` without its `}}`, or a section without its end.
    #[error("template {0}: unbalanced placeholder or section")]
    Unbalanced(&'static str),
    /// The text template does not start with `Subject: …` and a blank line.
    #[error("template {0}: the .txt must start with a Subject: line and a blank line")]
    NoSubject(&'static str),
}

/// The values a template is rendered with.
pub type Values<'a> = BTreeMap<&'static str, &'a str>;

/// Renders the template `name` with `values`.
pub fn render(name: &str, values: &Values<'_>) -> Result<Rendered, TemplateError> {
    let source = SOURCES
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| TemplateError::Unknown(name.to_owned()))?;
    let text = fill(source.name, source.text, values, false)?;
    let (subject, text) = text
        .strip_prefix("Subject: ")
        .and_then(|rest| rest.split_once("\n\n"))
        .ok_or(TemplateError::NoSubject(source.name))?;
    Ok(Rendered {
        subject: subject.trim().to_owned(),
        text: text.to_owned(),
        html: fill(source.name, source.html, values, true)?,
    })
}

/// Substitutes the placeholders and sections of `source`.
fn fill(
    template: &'static str,
    source: &str,
    values: &Values<'_>,
    html: bool,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(source.len() + 256);
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(TemplateError::Unbalanced(template))?;
        let tag = after[..end].trim();
        rest = &after[end + 2..];
        if let Some(key) = tag.strip_prefix('#') {
            let close = format!("{{{{/{key}}}}}");
            let body_end = rest
                .find(&close)
                .ok_or(TemplateError::Unbalanced(template))?;
            let body = &rest[..body_end];
            rest = &rest[body_end + close.len()..];
            if values.get(key).is_some_and(|v| !v.is_empty()) {
                out.push_str(&fill(template, body, values, html)?);
            }
        } else if tag.starts_with('/') {
            return Err(TemplateError::Unbalanced(template));
        } else {
            let value = values.get(tag).ok_or_else(|| TemplateError::Missing {
                template,
                key: tag.to_owned(),
            })?;
            if html {
                escape_into(&mut out, value);
            } else {
                out.push_str(value);
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Appends `value` escaped for HTML text and quoted attribute values.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn all_values() -> Values<'static> {
        BTreeMap::from([
            ("username", "ana"),
            ("first_name", "Ana"),
            ("code", "123456"),
            ("link", "https://example.com/reset?code=123456&x=1"),
            ("expires_in_minutes", "20"),
            ("new_email", "new@example.com"),
        ])
    }

    #[test]
    fn every_template_renders_with_a_subject_text_and_html_and_no_placeholder_left() {
        for name in names() {
            let r = render(name, &all_values()).unwrap();
            assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{name}");
            for part in [&r.subject, &r.text, &r.html] {
                assert!(
                    !part.contains("{{") && !part.contains("}}"),
                    "{name}: {part}"
                );
            }
            assert!(r.html.contains("<html") && r.html.contains("ana"), "{name}");
            assert!(r.text.contains("ana"), "{name}");
        }
    }

    #[test]
    fn values_are_escaped_in_html_only() {
        let mut v = all_values();
        v.insert("username", "<b>\"x\" & 'y'</b>");
        let r = render("welcome", &v).unwrap();
        assert!(
            r.html
                .contains("&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;")
        );
        assert!(!r.html.contains("<b>"));
        assert!(r.text.contains("<b>\"x\" & 'y'</b>"));
        // The link's `&` is escaped in the href too.
        let r = render("password_reset", &all_values()).unwrap();
        assert!(r.html.contains("code=123456&amp;x=1"), "{}", r.html);
    }

    #[test]
    fn sections_drop_out_without_their_value_and_missing_values_are_errors() {
        let mut v = all_values();
        v.insert("link", "");
        let r = render("password_reset", &v).unwrap();
        assert!(!r.text.contains("https://") && !r.html.contains("href"));
        assert!(r.text.contains("123456"));
        v.remove("code");
        assert!(matches!(
            render("password_reset", &v),
            Err(TemplateError::Missing { key, .. }) if key == "code"
        ));
        assert!(matches!(render("nope", &v), Err(TemplateError::Unknown(_))));
        let values = all_values();
        assert_eq!(
            fill("t", "a {{code", &values, false),
            Err(TemplateError::Unbalanced("t"))
        );
        assert_eq!(
            fill("t", "{{#link}} x", &values, false),
            Err(TemplateError::Unbalanced("t"))
        );
    }

    #[test]
    fn a_rendered_mail_never_prints_its_content() {
        let r = render("password_reset", &all_values()).unwrap();
        assert_eq!(format!("{r:?}"), "Rendered { .. }");
    }
}
