//! Polling with a deadline: how tests wait, never a sleep standing in for
//! synchronisation.

use std::{
    fmt::Display,
    time::{Duration, Instant},
};

/// What a probe of [`eventually`] answers: done (with a value) or not yet (with why,
/// when it knows).
pub trait Outcome {
    /// What [`eventually`] returns once the probe is done.
    type Value;
    /// `Ok` when done; `Err` with the reason it is not, if any.
    fn settled(self) -> Result<Self::Value, Option<String>>;
}

impl Outcome for bool {
    type Value = ();
    fn settled(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn settled(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Display> Outcome for Result<T, E> {
    type Value = T;
    fn settled(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(e.to_string()))
    }
}

/// Polls `probe` (every 20 ms) until it answers `true`, `Some(value)` or `Ok(value)` and
/// returns the value; once `within` has passed, panics with the probe's last `Err`.
pub async fn eventually<O: Outcome>(
    within: Duration,
    mut probe: impl AsyncFnMut() -> O,
) -> O::Value {
    let deadline = Instant::now() + within;
    loop {
        match probe().await.settled() {
            Ok(value) => return value,
            Err(why) => assert!(
                Instant::now() < deadline,
                "not settled after {within:?}: {}",
                why.as_deref().unwrap_or("the probe never succeeded")
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
