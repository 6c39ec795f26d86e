//! A REST service's OpenAPI document checked against its routes.

use serde_json::Value;
use uuid::Uuid;

use crate::Go as _;

/// The paths an OpenAPI document lists, sorted.
pub fn openapi_paths(doc: &Value) -> Vec<&str> {
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    paths
}

/// Checks that the OpenAPI document a REST service serves at `{base}/openapi.json`
/// matches its routes: every documented path answers every documented method with
/// something other than 405 or the router's own 404 (`{"<error_key>":"Not found"}`),
/// and an undocumented path gets that 404. Path parameters are filled with `x`; no
/// body, no token. Returns the document.
pub async fn assert_openapi_matches_routes(base: &str, error_key: &str) -> Value {
    let http = reqwest::Client::new();
    let resp = http.get(format!("{base}/openapi.json")).go().await;
    assert_eq!(resp.status(), 200, "GET /openapi.json");
    let doc: Value = resp.json().await.unwrap();
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3."),
        "{doc}"
    );
    assert_eq!(
        hub_runtime::openapi::undefined_schema(&doc),
        None,
        "the document refers to a schema it does not define"
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty(), "no paths documented");
    let router_404 = |status: u16, body: &Value| status == 404 && body[error_key] == "Not found";
    for (path, item) in paths {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue; // `parameters`, `summary`, ... are not methods
            };
            if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&m.as_str()) {
                continue;
            }
            let resp = http
                .request(m.clone(), format!("{base}{concrete}"))
                .go()
                .await;
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(
                status != 405 && !router_404(status, &body),
                "{m} {path} is documented but not routed: {status} {body}"
            );
        }
    }
    let resp = http
        .get(format!("{base}/no-such-path-{}", Uuid::new_v4().simple()))
        .go()
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(router_404(status, &body), "unknown path: {status} {body}");
    doc
}

/// [`assert_openapi_matches_routes`], then asserts that the document lists exactly
/// `paths` (sorted). Returns the document.
pub async fn assert_openapi_lists(base: &str, error_key: &str, paths: &[&str]) -> Value {
    let doc = assert_openapi_matches_routes(base, error_key).await;
    assert_eq!(openapi_paths(&doc), paths);
    doc
}
