//! A service's `App::run` on a task of the test's runtime, and async clean-up from a
//! `Drop`.

use std::{future::Future, time::Duration};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A service's `App::run` on a task of the test's runtime. Dropping it cancels the
/// shutdown token; [`Running::stop`] also waits for `run` to return.
pub struct Running {
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Spawns `run(token)`; the token is cancelled by [`Running::stop`] or on drop.
    pub fn start<F>(run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(run(shutdown.clone()));
        Self {
            shutdown,
            handle: Some(handle),
        }
    }

    /// Cancels the token without waiting.
    pub fn cancel(&self) {
        self.shutdown.cancel();
    }

    /// Cancels the token and waits (at most 15 s) for `run` to return its result.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let handle = self.handle.take().expect("stopped once");
        tokio::time::timeout(Duration::from_secs(15), handle)
            .await
            .expect("shutdown within 15 s")
            .unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs `work` on a runtime of its own, on a thread of its own, and waits for it: async
/// clean-up from a `Drop`, where the test's runtime cannot be awaited on (so `work` makes
/// its own clients). Best effort: if no runtime can be built, nothing runs.
pub fn block_on_own_thread(work: impl Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(work);
        }
    })
    .join();
}
