//! What a crate that records metrics registers for `GET /metrics`: the descriptions of
//! its metrics, and scrape hooks.
//!
//! - **Descriptions.** Each crate describes the metrics it records, in a function of
//!   `describe_counter!` / `describe_gauge!` / `describe_histogram!` calls (the HELP text
//!   and unit) beside the code that records them, and registers that function with
//!   [`describe`] where it starts recording (a pool made, a relay started). No crate
//!   holds a list of the others' metrics.
//! - **Scrape hooks.** Gauges that are cheap to read but change constantly (a pool's
//!   occupancy, the process's memory) are sampled just before Prometheus scrapes rather
//!   than kept current on every change: a crate registers a hook with [`on_scrape`].
//!
//! A crate records with the `metrics` macros as usual. `hub_runtime::metrics` installs
//! the recorder and then calls [`recorder_installed`], which gives it the descriptions
//! registered so far (later ones go to it at once), and runs the hooks ([`sample`]) when
//! it renders `GET /metrics`.
//!
//! This is its own crate so that the crates beneath the web stack (hub-db, hub-events,
//! hub-soap) can register without depending on `hub-runtime`, which builds axum and the
//! exporter.

use std::sync::Mutex;

type Hook = Box<dyn Fn() + Send + Sync>;

static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Every description function registered, and whether the recorder is there to take
/// them.
struct Descriptions {
    all: Vec<fn()>,
    installed: bool,
}

static DESCRIPTIONS: Mutex<Descriptions> = Mutex::new(Descriptions {
    all: Vec::new(),
    installed: false,
});

/// Registers `describe`, a crate's function of `describe_*!` calls, and runs it as soon
/// as the recorder is installed: at once if it is (so a crate that registers before it
/// records never has a metric scraped without HELP), else when it is (a description
/// given to no recorder would be lost). Each function runs once; registering it again
/// (one call per pool made, say) does nothing.
pub fn describe(describe: fn()) {
    let Ok(mut descriptions) = DESCRIPTIONS.lock() else {
        return;
    };
    if descriptions
        .all
        .iter()
        .any(|known| std::ptr::fn_addr_eq(*known, describe))
    {
        return;
    }
    descriptions.all.push(describe);
    if descriptions.installed {
        describe();
    }
}

/// Says the recorder is installed: runs every description registered so far, and from
/// now on each one as it is registered. Called once, by whoever installs the recorder.
pub fn recorder_installed() {
    if let Ok(mut descriptions) = DESCRIPTIONS.lock()
        && !descriptions.installed
    {
        descriptions.installed = true;
        for describe in &descriptions.all {
            describe();
        }
    }
}

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

    /// Held by each test: the registries are process-wide, and `cargo test` runs the
    /// tests on threads of one process.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    static DESCRIBED: AtomicUsize = AtomicUsize::new(0);

    fn count_a_description() {
        DESCRIBED.fetch_add(1, Ordering::Relaxed);
    }

    fn count_another_description() {
        DESCRIBED.fetch_add(10, Ordering::Relaxed);
    }

    #[test]
    fn each_description_runs_once_when_the_recorder_is_there() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        describe(count_a_description);
        describe(count_a_description);
        assert_eq!(DESCRIBED.load(Ordering::Relaxed), 0, "no recorder yet");
        recorder_installed();
        assert_eq!(DESCRIBED.load(Ordering::Relaxed), 1);
        recorder_installed();
        describe(count_a_description);
        assert_eq!(
            DESCRIBED.load(Ordering::Relaxed),
            1,
            "registered once, run once"
        );

        describe(count_another_description);
        assert_eq!(
            DESCRIBED.load(Ordering::Relaxed),
            11,
            "at once, once the recorder is there"
        );
    }

    #[test]
    fn every_hook_runs_at_each_sample() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
