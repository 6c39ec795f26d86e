//! The one retry policy of the hub: capped exponential backoff.
//!
//! * [`Backoff`]: the waits between attempts. The outbox relay and the consumer use it
//!   to reconnect to the broker ([`Backoff::default`]: 100 ms doubling to 5 s, reset
//!   after a success), and the consumer to retry a failed message in place
//!   (`CONSUMER_RETRY_BASE_MS` doubling to `CONSUMER_RETRY_MAX_MS`).
//! * [`until_ready`]: a start-up wait for a backing server (PostgreSQL, MongoDB, S3),
//!   retrying with [`Backoff::STARTUP`] (100 ms doubling to 2 s) and never waiting past
//!   its bound, so a server that does not come up is a clear error within the bound.

use std::{future::Future, time::Duration};

/// Waits that start at `first` and double after each, up to `cap`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
}

impl Default for Backoff {
    /// 100 ms, 200 ms, ... up to 5 s: reconnecting to the broker.
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

impl Backoff {
    /// 100 ms, 200 ms, ... up to 2 s: waiting for a backing server at start-up.
    pub const STARTUP: Self = Self::new(Duration::from_millis(100), Duration::from_secs(2));

    /// `first`, then twice the previous wait, at most `cap` (`first` itself is not
    /// capped).
    pub const fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap,
            next: first,
        }
    }

    /// The same wait every time.
    pub const fn constant(wait: Duration) -> Self {
        Self::new(wait, wait)
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.cap);
        d
    }

    /// An attempt succeeded: the next failure waits `first` again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Runs `attempt` until it succeeds, or fails with an error `retry` declines (it is
/// told each error, and logs it), or the next wait would end more than `within` after
/// the start; then returns that last result. The waits are `backoff`'s.
pub async fn until_ready<T, E, F, Fut>(
    within: Duration,
    mut backoff: Backoff,
    mut attempt: F,
    mut retry: impl FnMut(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = tokio::time::Instant::now();
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let delay = backoff.next_delay();
                if start.elapsed() + delay >= within || !retry(&e) {
                    return Err(e);
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_and_resets() {
        let mut b = Backoff::default();
        let seq: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(seq, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn the_first_wait_is_not_capped_and_a_constant_backoff_stays() {
        let mut b = Backoff::new(Duration::from_millis(300), Duration::from_millis(200));
        let seq: Vec<u128> = (0..3).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(seq, [300, 200, 200]);
        let mut c = Backoff::constant(Duration::from_millis(500));
        assert_eq!((c.next_delay(), c.next_delay()), (c.first, c.first));
        let mut s = Backoff::STARTUP;
        let seq: Vec<u128> = (0..7).map(|_| s.next_delay().as_millis()).collect();
        assert_eq!(seq, [100, 200, 400, 800, 1600, 2000, 2000]);
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn until_ready_retries_until_success() {
        let mut calls = 0;
        let out: Result<u32, &str> = runtime().block_on(until_ready(
            Duration::from_secs(5),
            Backoff::constant(Duration::from_millis(1)),
            || {
                calls += 1;
                let n = calls;
                async move { if n < 3 { Err("not yet") } else { Ok(n) } }
            },
            |_| true,
        ));
        assert_eq!(out, Ok(3));
    }

    #[test]
    fn until_ready_stops_at_an_error_it_declines_and_at_its_bound() {
        let mut calls = 0;
        let out: Result<(), &str> = runtime().block_on(until_ready(
            Duration::from_secs(5),
            Backoff::constant(Duration::from_millis(1)),
            || {
                calls += 1;
                async { Err("fatal") }
            },
            |e| *e != "fatal",
        ));
        assert_eq!((out, calls), (Err("fatal"), 1));

        // A bound shorter than the first wait: one attempt, no sleep.
        let mut calls = 0;
        let started = std::time::Instant::now();
        let out: Result<(), &str> = runtime().block_on(until_ready(
            Duration::from_millis(50),
            Backoff::constant(Duration::from_secs(60)),
            || {
                calls += 1;
                async { Err("down") }
            },
            |_| true,
        ));
        assert_eq!((out, calls), (Err("down"), 1));
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}
