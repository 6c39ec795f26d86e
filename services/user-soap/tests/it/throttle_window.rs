//! The registration limit's fixed window as a property, against the real database: any
//! sequence of registrations, passing time and prunes gives, attempt by attempt, what a
//! reference fixed-window counter gives (admitted, or over the limit with the seconds left).
//!
//! Time passes by moving the row's `window_started` back (what the clock would do to it),
//! so a case of minutes runs in milliseconds; the statements' own real time, well under a
//! second, is what makes a window that has run exactly its length count as ended, as the
//! SQL's `<=` says.

use std::time::Duration;

use proptest::prelude::*;
use sqlx::PgPool;
use user_soap::store::throttle::{self, Counted, Limit};

#[derive(Debug, Clone)]
enum Step {
    /// One registration from the case's client.
    Attempt,
    /// This many seconds pass.
    Elapse(u32),
    /// The chore prunes rows whose window ended more than this many seconds ago.
    Prune(u32),
}

/// The reference: one client's window, in whole seconds since the case began.
#[derive(Debug, Default)]
struct Model {
    now: u64,
    /// When the window began, and its attempts; `None` when there is no row.
    window: Option<(u64, i32)>,
}

impl Model {
    fn attempt(&mut self, limit: Limit) -> Counted {
        let length = limit.window.as_secs();
        let (started, attempts) = match self.window {
            Some((started, attempts)) if self.now - started < length => (started, attempts + 1),
            _ => (self.now, 1),
        };
        self.window = Some((started, attempts));
        if attempts > limit.max {
            Counted::OverLimit {
                retry_after: (started + length - self.now).max(1),
            }
        } else {
            Counted::Admitted
        }
    }

    fn prune(&mut self, older_than: u64) {
        // `window_started < now() - older_than`, with the statement's real time on top.
        if matches!(self.window, Some((started, _)) if self.now - started >= older_than) {
            self.window = None;
        }
    }
}

fn case() -> impl Strategy<Value = (i32, u32, Vec<Step>)> {
    (1..=5i32, 1..=120u32).prop_flat_map(|(max, window)| {
        let step = prop_oneof![
            4 => Just(Step::Attempt),
            2 => (0..=2 * window).prop_map(Step::Elapse),
            1 => (0..=2 * window).prop_map(Step::Prune),
        ];
        (Just(max), Just(window), prop::collection::vec(step, 1..40))
    })
}

async fn run_case(pool: &PgPool, client: &str, limit: Limit, steps: &[Step]) {
    let mut model = Model::default();
    let mut conn = pool.acquire().await.unwrap();
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Attempt => {
                let got = throttle::count(&mut conn, client, limit).await.unwrap();
                let want = model.attempt(limit);
                assert_eq!(got, want, "step {i} of {steps:?} with {limit:?}");
            }
            Step::Elapse(secs) => {
                model.now += u64::from(secs);
                sqlx::query(
                    "UPDATE registration_throttle
                        SET window_started = window_started - make_interval(secs => $2)
                      WHERE key = $1",
                )
                .bind(format!("addr:{client}"))
                .bind(f64::from(secs))
                .execute(&mut *conn)
                .await
                .unwrap();
            }
            Step::Prune(secs) => {
                model.prune(u64::from(secs));
                throttle::prune(&mut conn, Duration::from_secs(secs.into()))
                    .await
                    .unwrap();
            }
        }
    }
}

#[test]
fn the_window_counts_as_a_fixed_window_counter_through_any_sequence() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = rt.block_on(async {
        let url = hub_testkit::create_database("us_window").await;
        let pool = PgPool::connect(&url).await.unwrap();
        hub_db::migrator().run(&pool).await.unwrap();
        pool
    });
    let cases = std::cell::Cell::new(0u32);
    proptest!(ProptestConfig::with_cases(64), |((max, window, steps) in case())| {
        cases.set(cases.get() + 1);
        // A client of its own per case (earlier cases' rows stay, until a prune).
        let client = format!("case-{}", cases.get());
        let limit = Limit { max, window: Duration::from_secs(window.into()) };
        rt.block_on(run_case(&pool, &client, limit, &steps));
    });
}
