//! Requests and replies: sending, reading status and body, raw requests cut short.

use std::{future::Future, net::SocketAddr, time::Duration};

use serde_json::Value;
use uuid::Uuid;

/// Sends a request built by the test, failing the test when no response comes back
/// (connection refused, reset, timeout): `app.req(Method::PUT, "/x").header(..).go().await`.
pub trait Go {
    /// `send().await.unwrap()`.
    fn go(self) -> impl Future<Output = reqwest::Response> + Send;
}

impl Go for reqwest::RequestBuilder {
    async fn go(self) -> reqwest::Response {
        self.send().await.unwrap()
    }
}

/// (status, content type, body) of `resp`.
pub async fn parts(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

/// The body of `GET url`, whatever the status.
pub async fn get_text(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Requests to `route` the service at `base` is serving now (its
/// `http_requests_in_flight` gauge; 0 when absent).
pub async fn in_flight(http: &reqwest::Client, base: &str, route: &str) -> f64 {
    let needle = format!("http_requests_in_flight{{route=\"{route}\"}} ");
    get_text(http, &format!("{base}/metrics"))
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Status and JSON body of an answer, whatever its content type says.
pub async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Status and body of a REST answer, asserting the body is JSON whatever the status.
pub async fn json_body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        ct.as_deref(),
        Some("application/json"),
        "status {status}: body must be JSON"
    );
    (status, resp.json().await.unwrap())
}

/// `(token, refresh_token)` of auth's answer to a login or a refresh.
pub fn token_pair(body: &Value) -> (String, String) {
    (
        body["token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// A whole HTTP/1.1 `POST path` to `addr`, as raw bytes for [`send_and_hang_up`].
pub fn raw_post(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Sends the whole `request`, waits a random 0 to `max_ms` milliseconds and hangs up
/// without reading the answer, as a client stopped mid-request does: the server drops
/// the handler wherever it is.
pub async fn send_and_hang_up(addr: SocketAddr, request: String, max_ms: u64) {
    use tokio::io::AsyncWriteExt as _;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let wait = u64::try_from(Uuid::new_v4().as_u128() % u128::from(max_ms + 1)).unwrap();
    tokio::time::sleep(Duration::from_millis(wait)).await;
    drop(stream);
}
