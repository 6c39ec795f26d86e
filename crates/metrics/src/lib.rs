//! Scrape hooks. Gauges that are cheap to read but change constantly (a pool's
//! occupancy, the process's memory) are sampled just before Prometheus scrapes rather
//! than kept current on every change. A crate registers a hook with [`on_scrape`] and
//! records with the `metrics` macros as usual; `hub_runtime::metrics` runs the hooks
//! ([`sample`]) when it renders `GET /metrics`.
//!
//! This is its own crate so that the crates beneath the web stack (hub-db) can register
//! hooks without depending on `hub-runtime`, which builds axum and the exporter.

use std::sync::Mutex;

type Hook = Box<dyn Fn() + Send + Sync>;

static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Registers `hook` to run before each scrape, for the life of the process.
pub fn on_scrape(hook: impl Fn() + Send + Sync + 'static) {
    if let Ok(mut hooks) = HOOKS.lock() {
        hooks.push(Box::new(hook));
    }
}

/// Runs every registered hook, in the order they were registered.
pub fn sample() {
    if let Ok(hooks) = HOOKS.lock() {
        for hook in hooks.iter() {
            hook();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    #[test]
    fn every_hook_runs_at_each_sample() {
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let runs = runs.clone();
            on_scrape(move || {
                runs.fetch_add(1, Ordering::Relaxed);
            });
        }
        sample();
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        sample();
        assert_eq!(runs.load(Ordering::Relaxed), 4);
    }
}
