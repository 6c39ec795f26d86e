//! The test's view of the environment that `scripts/backing.sh env` sets, and a
//! service's settings for one test.

use hub_runtime::config::fixed;

/// A required environment variable, with a hint when it is missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh (it starts the backing servers)")
    })
}

/// The broker URL (`AMQP_URL`, default the local guest account).
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The MongoDB URI of the test server (`MONGODB_URI`, set by `scripts/backing.sh env`).
pub fn mongodb_uri() -> String {
    env("MONGODB_URI")
}

/// The test virtualenv's Python (`HUB_PYTHON`, set by `scripts/backing.sh env`).
pub fn python() -> String {
    env("HUB_PYTHON")
}

/// A service's settings for one test: `base`, overridden by `extra`, read the way the
/// services read their environment (`Settings::from_source`).
pub fn config_source(
    base: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
    fixed(&pairs)
}

/// [`config_source`] for a service started by [`spawn`]: `HOST` 127.0.0.1 and `PORT` 0
/// (a free port), then `base`, then `extra`.
pub fn local_source(
    base: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> impl Fn(&str) -> Option<String> + use<> {
    let local = [("HOST", "127.0.0.1"), ("PORT", "0")];
    let base: Vec<(&str, &str)> = local.iter().chain(base).copied().collect();
    config_source(&base, extra)
}
