//! Snapshot tests of whole replies with [insta]: the status line, the headers that
//! matter and the body as text, in reviewable `.snap` files that insta keeps beside
//! each service's `tests/it/snapshots.rs` (in `tests/it/snapshots/`).
//!
//! What changes from run to run is made deterministic before the comparison: first the
//! values the test knows are replaced literally (the service's base URL by
//! `[base-url]`, plus any given with [`Replies::known`]), then insta filters replace
//! JWTs, UUIDs, RFC 3339 timestamps and MongoDB object ids by placeholders (plus any
//! given with [`Replies::filter`]). The body is written as it came, closed by `[end]`
//! so that its trailing white space counts (insta trims the end of a snapshot); a
//! carriage return is shown as `\r` (insta would read `\r\n` as `\n`).

use reqwest::RequestBuilder;

use crate::Go as _;

/// Placeholders for what differs on every run: insta filters, applied in this order.
const FILTERS: [(&str, &str); 4] = [
    (
        r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
        "[jwt]",
    ),
    (
        r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "[uuid]",
    ),
    (
        r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?",
        "[timestamp]",
    ),
    (r"\b[0-9a-f]{24}\b", "[object-id]"),
];

/// How one service's replies are rendered and compared: the values to replace, the
/// headers to show and insta's settings.
pub struct Replies {
    known: Vec<(String, String)>,
    headers: Vec<&'static str>,
    settings: insta::Settings,
}

impl Replies {
    /// Replies of the service at `base` (`http://127.0.0.1:<port>`, shown as
    /// `[base-url]`: not `http://HOST`, the placeholder of the WSDL files), with their
    /// `content-type`.
    pub fn new(base: &str) -> Self {
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        for (regex, placeholder) in FILTERS {
            settings.add_filter(regex, placeholder);
        }
        Self {
            known: vec![(base.to_owned(), "[base-url]".to_owned())],
            headers: vec!["content-type"],
            settings,
        }
    }

    /// Also replaces `value` by `placeholder` wherever it appears (before the filters).
    pub fn known(mut self, value: &str, placeholder: &str) -> Self {
        self.known.push((value.to_owned(), placeholder.to_owned()));
        self
    }

    /// Also shows the header `name` (lower case) when the reply has it.
    pub fn header(mut self, name: &'static str) -> Self {
        self.headers.push(name);
        self
    }

    /// Also replaces what matches `regex` by `replacement` (an insta filter, applied
    /// after the common ones).
    pub fn filter(mut self, regex: &str, replacement: &str) -> Self {
        self.settings.add_filter(regex, replacement.to_owned());
        self
    }

    /// Sends `request` and renders its reply: the status line, the chosen headers
    /// present, a blank line, the body closed by `[end]`; known values replaced.
    pub async fn render(&self, request: RequestBuilder) -> String {
        let resp = request.go().await;
        let mut text = format!("{:?} {}\n", resp.version(), resp.status());
        for name in &self.headers {
            if let Some(value) = resp.headers().get(*name) {
                let value = String::from_utf8_lossy(value.as_bytes());
                text.push_str(&format!("{name}: {value}\n"));
            }
        }
        let body = resp.bytes().await.expect("the reply's body");
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&body).replace('\r', "\\r"));
        text.push_str("[end]");
        for (value, placeholder) in &self.known {
            text = text.replace(value.as_str(), placeholder);
        }
        text
    }

    /// Sends each `(name, request)` in turn and hands its rendering to `assert` with
    /// the settings bound. `assert` is `|name, reply| insta::assert_snapshot!(name,
    /// reply)`, written in the test so that insta finds that test's snapshots.
    pub async fn check<'a>(
        &self,
        cases: impl IntoIterator<Item = (&'a str, RequestBuilder)>,
        assert: impl Fn(&str, String),
    ) {
        for (name, request) in cases {
            let reply = self.render(request).await;
            self.settings.bind(|| assert(name, reply));
        }
    }
}
