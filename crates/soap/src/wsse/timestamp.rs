//! A `wsu:Timestamp` and the instants of a `Security` header: `xsd:dateTime` read, and
//! checked against our clock within the allowed skew.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::{WSU_NS, refusal::Refusal, token::distinct_children};
use crate::xml::Element;

/// A `wsu:Timestamp`: its `Created` within the skew, its `Expires` not passed (with
/// the skew as leeway for clocks that differ).
pub(super) fn check_timestamp(
    timestamp: &Element,
    skew: TimeDelta,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let [created, expires] = distinct_children(
        timestamp,
        [(WSU_NS, "Created"), (WSU_NS, "Expires")],
        "the Timestamp holds an unsupported element",
        "an element of the Timestamp is repeated",
    )?;
    if let Some(created) = created {
        fresh(
            instant(&created.text)?,
            skew,
            now,
            "the Timestamp's Created is outside the allowed clock skew",
        )?;
    }
    if let Some(expires) = expires
        && instant(&expires.text)? + skew < now
    {
        return Err(Refusal::Expired("the Timestamp's Expires has passed"));
    }
    Ok(())
}

/// Refuses `at` further than `skew` from `now`, either way.
pub(super) fn fresh(
    at: DateTime<Utc>,
    skew: TimeDelta,
    now: DateTime<Utc>,
    why: &'static str,
) -> Result<(), Refusal> {
    if (now - at).abs() > skew {
        Err(Refusal::Expired(why))
    } else {
        Ok(())
    }
}

/// An `xsd:dateTime`: with a zone (`Z` or an offset) as sent by every client, or
/// without one, read as UTC.
pub(super) fn instant(text: &str) -> Result<DateTime<Utc>, Refusal> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
        })
        .map_err(|_| Refusal::Invalid("a Created or Expires is not an xsd:dateTime"))
}
