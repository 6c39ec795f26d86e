//! moment.js 2.30 `fromNow()` in English, reproduced exactly, because clients of the
//! original display `lastConnection` as it is ("a few seconds ago", "21 days ago").
//!
//! moment does not simply divide a millisecond difference. It takes the whole calendar
//! months between the two instants (clamping the day as `setMonth` does: Jan 31 + 1
//! month = Feb 28), plus the remaining milliseconds; each unit is then derived from
//! that pair with moment's own conversion (a month is 146097/4800 days), rounded with
//! `Math.round`, and the first threshold that matches picks the words
//! (docs/LEGACY.md, connected). The original ran with `TZ=UTC`, so months are counted
//! in UTC here too. chrono-humanize is not used: it differs from moment on most
//! thresholds ("now", "44 seconds", "3 weeks").

use chrono::{DateTime, Months, Utc};

/// `then` relative to `now` as moment 2.30's `moment(then).fromNow()` words it when
/// the clock reads `now`: "a few seconds ago", "5 minutes ago", "in a day", ...
/// Both instants count in whole milliseconds, as JavaScript dates do.
pub fn from_now(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let (then, now) = (whole_millis(then), whole_millis(now));
    // moment's sign rule: a positive duration is the future; zero reads as the past.
    if then > now {
        let (months, millis) = calendar_difference(now, then);
        format!("in {}", words(months, millis))
    } else {
        let (months, millis) = calendar_difference(then, now);
        format!("{} ago", words(months, millis))
    }
}

fn whole_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// moment's `positiveMomentsDifference(base, other)` for `base <= other`: whole
/// calendar months, then the milliseconds left.
fn calendar_difference(base: DateTime<Utc>, other: DateTime<Utc>) -> (u32, i64) {
    use chrono::Datelike;
    let span = i64::from(other.year() - base.year()) * 12 + i64::from(other.month0())
        - i64::from(base.month0());
    let mut months = u32::try_from(span).unwrap_or(0);
    if add_months(base, months) > other {
        months = months.saturating_sub(1);
    }
    let millis = (other - add_months(base, months)).num_milliseconds();
    (months, millis)
}

/// `base + months` with the day clamped to the target month's length (as moment's
/// `setMonth`); beyond chrono's range (years past 262 000) the instant stays put.
fn add_months(base: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    base.checked_add_months(Months::new(months)).unwrap_or(base)
}

/// JavaScript's `Math.round`: halves go up.
fn js_round(x: f64) -> f64 {
    let floor = x.floor();
    if x - floor >= 0.5 { floor + 1.0 } else { floor }
}

/// moment's `relativeTime$1` with the default thresholds and the English strings,
/// without the suffix. Arithmetic in `f64` in moment's order of operations, so the
/// roundings agree to the last bit.
fn words(months: u32, millis: i64) -> String {
    let (months, millis) = (f64::from(months), millis as f64);
    // Duration#as for days and smaller: whole days from the months, then the millis.
    let days_of_months = js_round(months * 146097.0 / 4800.0);
    let seconds = js_round(days_of_months * 86400.0 + millis / 1000.0);
    let minutes = js_round(days_of_months * 1440.0 + millis / 6e4);
    let hours = js_round(days_of_months * 24.0 + millis / 36e5);
    let days = js_round(days_of_months + millis / 864e5);
    // Duration#as for months and years: the millis converted to (fractional) months.
    let exact_months = months + (millis / 864e5) * 4800.0 / 146097.0;
    let months = js_round(exact_months);
    let years = js_round(exact_months / 12.0);
    let n = |x: f64| format!("{x}");
    if seconds <= 44.0 {
        "a few seconds".to_owned()
    } else if seconds < 45.0 {
        // moment's "%d seconds": unreachable with whole seconds, kept for fidelity.
        format!("{} seconds", n(seconds))
    } else if minutes <= 1.0 {
        "a minute".to_owned()
    } else if minutes < 45.0 {
        format!("{} minutes", n(minutes))
    } else if hours <= 1.0 {
        "an hour".to_owned()
    } else if hours < 22.0 {
        format!("{} hours", n(hours))
    } else if days <= 1.0 {
        "a day".to_owned()
    } else if days < 26.0 {
        format!("{} days", n(days))
    } else if months <= 1.0 {
        "a month".to_owned()
    } else if months < 11.0 {
        format!("{} months", n(months))
    } else if years <= 1.0 {
        "a year".to_owned()
    } else {
        format!("{} years", n(years))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// Past and future words for `d` before and after the reference instant.
    fn both(d: Duration) -> (String, String) {
        (from_now(now() - d, now()), from_now(now() + d, now()))
    }

    #[track_caller]
    fn pins(d: Duration, words: &str) {
        let (past, future) = both(d);
        assert_eq!(past, format!("{words} ago"), "{d:?} in the past");
        assert_eq!(future, format!("in {words}"), "{d:?} in the future");
    }

    #[test]
    fn the_same_instant_reads_as_a_few_seconds_ago() {
        assert_eq!(from_now(now(), now()), "a few seconds ago");
    }

    #[test]
    fn seconds_turn_into_a_minute_at_44_and_a_half_seconds() {
        pins(Duration::seconds(1), "a few seconds");
        pins(Duration::seconds(44), "a few seconds");
        pins(Duration::milliseconds(44_499), "a few seconds");
        pins(Duration::milliseconds(44_500), "a minute");
        pins(Duration::seconds(45), "a minute");
    }

    #[test]
    fn a_minute_turns_into_2_minutes_at_90_seconds() {
        pins(Duration::seconds(89), "a minute");
        pins(Duration::milliseconds(89_999), "a minute");
        pins(Duration::seconds(90), "2 minutes");
    }

    #[test]
    fn minutes_turn_into_an_hour_at_44_and_a_half_minutes() {
        pins(Duration::minutes(5), "5 minutes");
        pins(Duration::minutes(44), "44 minutes");
        pins(Duration::seconds(44 * 60 + 29), "44 minutes");
        pins(Duration::seconds(44 * 60 + 30), "an hour");
        pins(Duration::minutes(45), "an hour");
    }

    #[test]
    fn an_hour_turns_into_2_hours_at_90_minutes() {
        pins(Duration::minutes(89), "an hour");
        pins(Duration::minutes(90), "2 hours");
        pins(Duration::hours(3), "3 hours");
    }

    #[test]
    fn hours_turn_into_a_day_at_21_and_a_half_hours() {
        pins(Duration::hours(21), "21 hours");
        pins(Duration::minutes(21 * 60 + 29), "21 hours");
        pins(Duration::minutes(21 * 60 + 30), "a day");
        pins(Duration::hours(22), "a day");
    }

    #[test]
    fn a_day_turns_into_2_days_at_36_hours() {
        pins(Duration::hours(35), "a day");
        pins(Duration::minutes(35 * 60 + 59), "a day");
        pins(Duration::hours(36), "2 days");
    }

    #[test]
    fn days_turn_into_a_month_at_25_and_a_half_days_not_weeks() {
        pins(Duration::days(12), "12 days");
        pins(Duration::days(21), "21 days");
        pins(Duration::days(25), "25 days");
        pins(Duration::hours(25 * 24 + 11), "25 days");
        pins(Duration::hours(25 * 24 + 12), "a month");
        pins(Duration::days(26), "a month");
    }

    #[test]
    fn a_month_turns_into_2_months_half_way_through_the_second_month() {
        // From 2026-06-15: May 1 is one calendar month and 14 days (1.46 months),
        // Apr 30 one month and 16 days (1.53); the same in the future.
        let now = now();
        assert_eq!(from_now(at(2026, 5, 1, 12, 0, 0), now), "a month ago");
        assert_eq!(from_now(at(2026, 4, 30, 12, 0, 0), now), "2 months ago");
        assert_eq!(from_now(at(2026, 7, 30, 12, 0, 0), now), "in a month");
        assert_eq!(from_now(at(2026, 7, 31, 12, 0, 0), now), "in 2 months");
    }

    #[test]
    fn months_turn_into_a_year_at_10_and_a_half_months() {
        let now = now();
        // 10 months + 15 days: 10 + 15·4800/146097 = 10.49 → 10.
        assert_eq!(from_now(at(2025, 7, 31, 12, 0, 0), now), "10 months ago");
        // 10 months + 16 days: 10.53 → 11 months, which is "a year".
        assert_eq!(from_now(at(2025, 7, 30, 12, 0, 0), now), "a year ago");
        assert_eq!(from_now(at(2027, 4, 30, 12, 0, 0), now), "in 10 months");
        assert_eq!(from_now(at(2027, 5, 1, 12, 0, 0), now), "in a year");
    }

    #[test]
    fn a_year_turns_into_2_years_at_18_months() {
        let now = now();
        assert_eq!(from_now(at(2025, 6, 15, 12, 0, 0), now), "a year ago");
        assert_eq!(from_now(at(2024, 12, 16, 12, 0, 0), now), "a year ago");
        assert_eq!(from_now(at(2024, 12, 15, 12, 0, 0), now), "2 years ago");
        assert_eq!(from_now(at(2023, 6, 15, 12, 0, 0), now), "3 years ago");
        assert_eq!(from_now(at(2027, 12, 14, 12, 0, 0), now), "in a year");
        assert_eq!(from_now(at(2027, 12, 15, 12, 0, 0), now), "in 2 years");
    }

    #[test]
    fn month_lengths_count_as_moment_counts_them() {
        // Jan 31 → Mar 1 (29 days): one calendar month (to Feb 28, clamped) and a day,
        // which moment reads as 31 days, i.e. "a month", both ways.
        let (jan31, mar1) = (at(2026, 1, 31, 0, 0, 0), at(2026, 3, 1, 0, 0, 0));
        assert_eq!(from_now(jan31, mar1), "a month ago");
        assert_eq!(from_now(mar1, jan31), "in a month");
        // Feb 1 → Feb 27 (26 days, no whole month): "a month"; Feb 2 → Feb 27: "25 days".
        let feb27 = at(2026, 2, 27, 0, 0, 0);
        assert_eq!(from_now(at(2026, 2, 1, 0, 0, 0), feb27), "a month ago");
        assert_eq!(from_now(at(2026, 2, 2, 0, 0, 0), feb27), "25 days ago");
        // Jan 31 → Mar 16 is only 44 days, but one calendar month (to Feb 28) and 16
        // days: 1.53 months, "2 months". Dividing 44 days would say "a month".
        assert_eq!(from_now(jan31, at(2026, 3, 16, 0, 0, 0)), "2 months ago");
        assert_eq!(from_now(jan31, at(2026, 3, 15, 0, 0, 0)), "a month ago");
    }

    #[test]
    fn sub_millisecond_precision_is_ignored_as_in_javascript() {
        let t = now() + Duration::microseconds(999);
        assert_eq!(from_now(t, now()), "a few seconds ago");
        assert_eq!(from_now(now(), t), "a few seconds ago");
    }

    #[test]
    fn js_round_rounds_halves_up() {
        assert_eq!(js_round(0.5), 1.0);
        assert_eq!(js_round(1.4999), 1.0);
        assert_eq!(js_round(0.49999999999999994), 0.0);
        assert_eq!(js_round(2.5), 3.0);
    }
}
