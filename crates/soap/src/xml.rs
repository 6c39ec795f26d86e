//! A bounded, namespace-aware XML reader producing a small element tree.

use std::borrow::Cow;

use quick_xml::{
    NsReader, XmlVersion,
    events::{BytesRef, Event},
    name::ResolveResult,
};

/// Limits applied while reading; a request over any of them is refused before it costs
/// anything. The defaults are far above what any legitimate call here needs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest element nesting (Envelope = 1).
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Attributes on one element (namespace declarations included).
    pub max_attributes: usize,
    /// Characters of text in one element.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_elements: 2_000,
            max_attributes: 64,
            max_text: 16 * 1024,
        }
    }
}

/// One attribute, with its resolved namespace (`None` for an unprefixed attribute).
/// Its `Debug` leaves out the value, as [`Element`]'s leaves out text.
#[derive(Clone, PartialEq, Eq)]
pub struct Attr {
    /// Namespace URI.
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Value, entities resolved.
    pub value: String,
}

/// An element with its resolved namespace, attributes, child elements and text.
///
/// Its `Debug` leaves out text and attribute values: they may hold a password.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Namespace URI (`None` when unqualified).
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Attributes other than namespace declarations.
    pub attrs: Vec<Attr>,
    /// Child elements, in order.
    pub children: Vec<Element>,
    /// All text directly inside this element (CDATA included), concatenated.
    pub text: String,
}

impl std::fmt::Debug for Attr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attr")
            .field("ns", &self.ns)
            .field("local", &self.local)
            .field("value_bytes", &self.value.len())
            .finish()
    }
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element")
            .field("ns", &self.ns)
            .field("local", &self.local)
            .field("attrs", &self.attrs)
            .field("children", &self.children)
            .field("text_bytes", &self.text.len())
            .finish()
    }
}

impl Element {
    /// `{namespace}local`, the name messages and logs use (`{}local` when unqualified).
    pub fn qname(&self) -> String {
        format!("{{{}}}{}", self.ns.as_deref().unwrap_or(""), self.local)
    }

    /// Whether this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// The value of the attribute `{ns}local` (`ns` `None`: unqualified).
    pub fn attr(&self, ns: Option<&str>, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.local == local && a.ns.as_deref() == ns)
            .map(|a| a.value.as_str())
    }

    /// Child elements named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// This element and every element below it named `{ns}local`, in document order.
    pub fn descendants_named<'a>(&'a self, ns: &'a str, local: &'a str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            if e.is(ns, local) {
                out.push(e);
            }
            stack.extend(e.children.iter().rev());
        }
        out
    }
}

/// Why a document was refused. Messages are fixed texts: parser output, which can echo
/// the input (a DTD, a password), never reaches the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// Empty body.
    Empty,
    /// Not UTF-8 (nor UTF-16 with a byte-order mark).
    Encoding,
    /// A DOCTYPE declaration (DTDs are how XXE and entity bombs start).
    Doctype,
    /// A processing instruction other than the XML declaration.
    ProcessingInstruction,
    /// A reference to an entity other than the five predefined ones, or an illegal
    /// character reference.
    Entity,
    /// A prefix with no namespace declaration in scope.
    UndeclaredPrefix,
    /// Nesting deeper than the limit.
    TooDeep,
    /// More elements than the limit.
    TooManyElements,
    /// More attributes on one element than the limit.
    TooManyAttributes,
    /// More text in one element than the limit.
    TextTooLong,
    /// Elements or text after the root element, or text before it.
    TrailingContent,
    /// The document ends inside an element (or has no root).
    Truncated,
    /// Anything else that is not well-formed XML (mismatched tags, bad syntax,
    /// duplicate attributes).
    Malformed,
}

impl XmlError {
    /// A message safe to show the caller.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Empty => "The request body is empty",
            Self::Encoding => "The request body must be UTF-8 or UTF-16 with a byte-order mark",
            Self::Doctype => "DOCTYPE declarations are not allowed",
            Self::ProcessingInstruction => "Processing instructions are not allowed",
            Self::Entity => {
                "Only the predefined XML entities and valid character references are allowed"
            }
            Self::UndeclaredPrefix => "An element or attribute uses an undeclared namespace prefix",
            Self::TooDeep => "The document is nested too deeply",
            Self::TooManyElements => "The document has too many elements",
            Self::TooManyAttributes => "An element has too many attributes",
            Self::TextTooLong => "An element's text is too long",
            Self::TrailingContent => "Only one root element is allowed, with nothing after it",
            Self::Truncated => "The XML document is truncated",
            Self::Malformed => "The request is not well-formed XML",
        }
    }
}

/// Turns the raw body into text: UTF-8 (a BOM is dropped), or UTF-16 announced by its BOM.
pub fn decode(body: &[u8]) -> Result<Cow<'_, str>, XmlError> {
    if body.is_empty() {
        return Err(XmlError::Empty);
    }
    let utf16 = |bytes: &[u8], be: bool| -> Result<Cow<'_, str>, XmlError> {
        if !bytes.len().is_multiple_of(2) {
            return Err(XmlError::Encoding);
        }
        let units = bytes.chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(Cow::Owned)
            .map_err(|_| XmlError::Encoding)
    };
    match body {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest)
            .map(Cow::Borrowed)
            .map_err(|_| XmlError::Encoding),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        _ => std::str::from_utf8(body)
            .map(Cow::Borrowed)
            .map_err(|_| XmlError::Encoding),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<char, XmlError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            _ => Err(XmlError::Entity),
        };
    }
    match &**r {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(XmlError::Entity),
    }
}

fn namespace(res: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match res {
        ResolveResult::Bound(ns) => Ok(Some(ns.0.to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(_) => Err(XmlError::UndeclaredPrefix),
    }
}

/// Reads `text` into a tree, enforcing `limits` while streaming.
pub fn parse(text: &str, limits: &Limits) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let (res, event) = reader.read_resolved_event().map_err(classify)?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::TrailingContent);
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(XmlError::TooDeep);
                }
                let ns = namespace(res)?;
                let local = start.local_name().as_ref().to_owned();
                let mut attrs = Vec::new();
                let mut count = 0usize;
                let mut iter = start.attributes();
                iter.with_checks(true);
                for attr in iter {
                    let attr = attr.map_err(|_| XmlError::Malformed)?;
                    count += 1;
                    if count > limits.max_attributes {
                        return Err(XmlError::TooManyAttributes);
                    }
                    let key = attr.key.as_ref();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let (ares, alocal) = reader.resolver().resolve_attribute(attr.key);
                    let ans = namespace(ares)?;
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|_| XmlError::Entity)?;
                    attrs.push(Attr {
                        ns: ans,
                        local: alocal.as_ref().to_owned(),
                        value: value.into_owned(),
                    });
                }
                stack.push(Element {
                    ns,
                    local,
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::End(_) => {
                let done = stack.pop().ok_or(XmlError::Malformed)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => append_text(&mut stack, root.is_some(), &t.xml10_content(), limits)?,
            Event::CData(c) => append_text(&mut stack, root.is_some(), &c.xml10_content(), limits)?,
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r)?;
                append_text(
                    &mut stack,
                    root.is_some(),
                    c.encode_utf8(&mut [0u8; 4]),
                    limits,
                )?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(_) => return Err(XmlError::ProcessingInstruction),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Empty(_) => return Err(XmlError::Malformed), // expanded by config
            Event::Eof => {
                return match (root, stack.is_empty()) {
                    (Some(r), true) => Ok(r),
                    _ => Err(XmlError::Truncated),
                };
            }
        }
    }
}

/// Input that simply stops (an open element, tag, comment or attribute at the end) is
/// "truncated"; every other parser error is "malformed".
fn classify(e: quick_xml::Error) -> XmlError {
    use quick_xml::errors::{IllFormedError, SyntaxError};
    match e {
        quick_xml::Error::IllFormed(IllFormedError::MissingEndTag(_))
        | quick_xml::Error::Syntax(_) => match e {
            quick_xml::Error::Syntax(SyntaxError::InvalidBangMarkup) => XmlError::Malformed,
            _ => XmlError::Truncated,
        },
        _ => XmlError::Malformed,
    }
}

fn append_text(
    stack: &mut [Element],
    after_root: bool,
    text: &str,
    limits: &Limits,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(e) => {
            if e.text.len() + text.len() > limits.max_text {
                return Err(XmlError::TextTooLong);
            }
            e.text.push_str(text);
            Ok(())
        }
        // Outside the root only whitespace may appear.
        None if text.chars().all(|c| c.is_ascii_whitespace()) => Ok(()),
        None if after_root => Err(XmlError::TrailingContent),
        None => Err(XmlError::Malformed),
    }
}

/// Escapes text for an element or a double- or single-quoted attribute.
pub fn escape(s: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, XmlError> {
        parse(s, &Limits::default())
    }

    #[test]
    fn namespaces_resolve_whatever_the_prefix() {
        let a = p(r#"<a:x xmlns:a="urn:n"><a:y>1</a:y></a:x>"#).unwrap();
        let b = p(r#"<x xmlns="urn:n"><y>1</y></x>"#).unwrap();
        assert_eq!(a, b);
        assert!(a.is("urn:n", "x"));
        assert_eq!(a.children_named("urn:n", "y").next().unwrap().text, "1");
    }

    #[test]
    fn entities_and_character_references_decode_and_others_are_refused() {
        let e = p("<x>&lt;&amp;&gt;&quot;&apos;&#233;&#x00F1;<![CDATA[<raw>]]></x>").unwrap();
        assert_eq!(e.text, "<&>\"'éñ<raw>");
        assert_eq!(p("<x>&nbsp;</x>"), Err(XmlError::Entity));
        assert_eq!(p("<x>&#0;</x>"), Err(XmlError::Entity));
        assert_eq!(p("<x>&#xFFFE;</x>"), Err(XmlError::Entity));
    }

    #[test]
    fn dtds_and_processing_instructions_are_refused() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
        assert_eq!(p(xxe), Err(XmlError::Doctype));
        let no_ref = r#"<!DOCTYPE x [<!ENTITY % e SYSTEM "http://127.0.0.1:9/x"> %e;]><x/>"#;
        assert_eq!(p(no_ref), Err(XmlError::Doctype));
        assert_eq!(p("<?pi x?><x/>"), Err(XmlError::ProcessingInstruction));
        assert!(p("<?xml version='1.0' standalone='yes'?>\n<x/>").is_ok());
    }

    #[test]
    fn limits_stop_hostile_shapes_early() {
        let deep = "<a>".repeat(100_000);
        assert_eq!(p(&deep), Err(XmlError::TooDeep));
        let many = format!("<r>{}</r>", "<a/>".repeat(5_000));
        assert_eq!(p(&many), Err(XmlError::TooManyElements));
        let attrs: String = (0..100).map(|i| format!(" a{i}='1'")).collect();
        assert_eq!(p(&format!("<x{attrs}/>")), Err(XmlError::TooManyAttributes));
        assert_eq!(
            p(&format!("<x>{}</x>", "a".repeat(20_000))),
            Err(XmlError::TextTooLong)
        );
    }

    #[test]
    fn malformed_truncated_and_trailing_documents_are_refused() {
        assert_eq!(p("<x><y></x>"), Err(XmlError::Malformed));
        assert_eq!(p("<x><y>"), Err(XmlError::Truncated));
        assert_eq!(p("<x/><y/>"), Err(XmlError::TrailingContent));
        assert_eq!(p("<x/>junk"), Err(XmlError::TrailingContent));
        assert_eq!(p("<p:x/>"), Err(XmlError::UndeclaredPrefix));
        assert_eq!(p("<x a='1' a='2'/>"), Err(XmlError::Malformed));
        assert!(p("<x/>\n<!-- trailing comment -->\n").is_ok());
    }

    #[test]
    fn utf8_bom_and_utf16_are_decoded_and_other_bytes_refused() {
        assert_eq!(decode(b"\xEF\xBB\xBF<x/>").unwrap(), "<x/>");
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<x>é</x>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&utf16le).unwrap(), "<x>é</x>");
        assert_eq!(decode(b"<x>\xE9</x>"), Err(XmlError::Encoding));
        assert_eq!(decode(b""), Err(XmlError::Empty));
    }

    #[test]
    fn debug_output_leaves_out_text_and_attribute_values() {
        let e = p(r#"<x xmlns="urn:n" secret="hunter2"><pw>hunter2</pw></x>"#).unwrap();
        let shown = format!("{e:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("\"pw\""), "{shown}");
        assert_eq!(e.qname(), "{urn:n}x");
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape(r#"<&>"'"#), "&lt;&amp;&gt;&quot;&apos;");
    }
}
