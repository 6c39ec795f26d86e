//! A service built and run in-process on port 0.

use std::{net::SocketAddr, time::Duration};

use hub_runtime::{
    config::Env,
    service::{App, Service, Settings},
};

use crate::{Running, in_flight};

/// A service built and running on the test's runtime, on `127.0.0.1` port 0.
pub struct Spawned {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
    /// A client with a 30 s timeout.
    pub http: reqwest::Client,
    /// `App::run` on a task; dropping it shuts the service down.
    pub running: Running,
}

impl Spawned {
    /// `GET {base}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// `POST {base}{path}`, to be completed and sent.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }

    /// `<method> {base}{path}`, to be completed and sent with [`Go::go`].
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Requests to `route` being served now (the `http_requests_in_flight` gauge).
    pub async fn in_flight(&self, route: &str) -> f64 {
        in_flight(&self.http, &self.base, route).await
    }

    /// Cancels the shutdown token and waits for `App::run` to return.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.running.stop().await
    }
}

/// Reads `S`'s settings from `source` (which should set `HOST` and `PORT=0`), then
/// [`spawn_config`].
pub async fn spawn<S: Service>(source: impl Env) -> Spawned {
    let settings = Settings::from_source(&source, S::PORT).expect("valid test config");
    spawn_config::<S>(settings).await
}

/// Builds `S` from `settings` (binding its listener, reaching its backing servers) and
/// runs it on the test's runtime.
pub async fn spawn_config<S: Service>(settings: Settings<S::Config>) -> Spawned {
    let app = App::<S>::build(settings).await.expect("app builds");
    let addr = app.local_addr().unwrap();
    let running = Running::start(|token| app.run(token));
    Spawned {
        addr,
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        running,
    }
}
