//! Fault tests: a shared backing server stopped, and started again when dropped.

use std::{path::PathBuf, process::Command};

/// Runs `scripts/backing.sh <cmd>` (fault tests stop and start shared servers).
pub fn backing(cmd: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/backing.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(cmd)
        .status()
        .expect("run scripts/backing.sh");
    assert!(status.success(), "backing.sh {cmd} failed");
}

/// A shared backing server that fault tests stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// RabbitMQ.
    Broker,
    /// PostgreSQL: the whole cluster.
    Postgres,
    /// MongoDB: mongod shut down.
    Mongo,
    /// The S3 server. The test server (moto) keeps data in memory: buckets are gone
    /// after the restart.
    S3,
}

impl Server {
    /// Its name in `scripts/backing.sh`, which has a `<name>-stop` and a `<name>-start`
    /// for each.
    fn name(self) -> &'static str {
        match self {
            Self::Broker => "rabbitmq",
            Self::Postgres => "postgres",
            Self::Mongo => "mongo",
            Self::S3 => "s3",
        }
    }
}

/// A backing server stopped by [`Down::stop`], started again when this is dropped, even
/// if the test fails.
#[must_use = "the server starts again when this is dropped"]
pub struct Down(Server);

impl Down {
    /// Stops `server` (returns once its port refuses connections).
    pub fn stop(server: Server) -> Self {
        backing(&format!("{}-stop", server.name()));
        Self(server)
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        backing(&format!("{}-start", self.0.name()));
    }
}
