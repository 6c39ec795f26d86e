//! Tokens checked by PyJWT, an independent implementation.

use std::process::Command;

use serde_json::Value;

use crate::python;

/// Decodes `token` with PyJWT, an independent implementation, using `secret`.
pub fn pyjwt_decode(token: &str, secret: &str) -> Result<Value, String> {
    python_json(
        Command::new(python())
            .args([
                "-c",
                "import jwt, json, os, sys; \
                 print(json.dumps(jwt.decode(sys.argv[1], os.environ['JWT_TEST_SECRET'], algorithms=['HS256'])))",
                token,
            ])
            .env("JWT_TEST_SECRET", secret),
    )
}

/// Runs a Python script that prints JSON: the JSON, or its standard error.
fn python_json(command: &mut Command) -> Result<Value, String> {
    let out = command.output().expect("run python with PyJWT");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Verifies `token` with PyJWT's `PyJWKClient`, which knows nothing but the JWKS at
/// `jwks_url` (it picks the key by the token's `kid`); EdDSA only. The claims, or
/// PyJWT's error. Runs Python off the test's runtime, so a service on that runtime can
/// answer its fetch.
pub async fn pyjwt_decode_with_jwks(token: &str, jwks_url: &str) -> Result<Value, String> {
    let mut command = Command::new(python());
    command.args([
        "-c",
        "import jwt, json, sys; \
         key = jwt.PyJWKClient(sys.argv[2], timeout=10).get_signing_key_from_jwt(sys.argv[1]); \
         print(json.dumps(jwt.decode(sys.argv[1], key.key, algorithms=['EdDSA'])))",
        token,
        jwks_url,
    ]);
    tokio::task::spawn_blocking(move || python_json(&mut command))
        .await
        .unwrap()
}
