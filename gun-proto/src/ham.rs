//! HAM, the Hypothetical Amnesia Machine: whether an incoming property wins.

use std::cmp::Ordering;

use crate::state::State;
#[cfg(test)]
use crate::value::Value;
use crate::value::ValueRef;

/// What HAM decided about one incoming `(value, state)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The state is ahead of the local clock: hold it until then.
    Defer,
    /// Older than what is stored: drop it.
    Historical,
    /// Same state, and not strictly greater JSON text: the stored value stays.
    /// This includes the idempotent case of the very same value.
    Lose,
    /// Newer, or the same state with strictly greater JSON text: store it.
    Accept,
}

/// Decides one property, as Gun.js's `ham()` does.
///
/// `now` is the local wall clock in ms; `current` is the stored value and its
/// state, if any (`None` acts as `-Infinity`).
pub fn decide(
    now: f64,
    value: ValueRef<'_>,
    state: State,
    current: Option<(ValueRef<'_>, State)>,
) -> Decision {
    if state > now {
        return Decision::Defer;
    }
    let Some((known, was)) = current else {
        return Decision::Accept;
    };
    if state < was {
        return Decision::Historical;
    }
    if state > was {
        return Decision::Accept;
    }
    match value.cmp_tie(known) {
        Ordering::Greater => Decision::Accept,
        _ => Decision::Lose,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000_000.0;

    fn s(x: &str) -> Value {
        Value::String(x.to_owned())
    }

    /// [`super::decide`] on owned values.
    fn decide(now: f64, v: &Value, state: State, cur: Option<(&Value, State)>) -> Decision {
        super::decide(now, v.view(), state, cur.map(|(c, s)| (c.view(), s)))
    }

    #[test]
    fn every_branch() {
        let known = s("Bob");
        let cur = Some((&known, 10.0));
        assert_eq!(decide(NOW, &s("x"), NOW + 1.0, cur), Decision::Defer);
        assert_eq!(decide(NOW, &s("x"), 9.0, cur), Decision::Historical);
        assert_eq!(decide(NOW, &s("x"), 11.0, cur), Decision::Accept);
        assert_eq!(decide(NOW, &s("Bz"), 10.0, cur), Decision::Accept);
        assert_eq!(decide(NOW, &s("Ba"), 10.0, cur), Decision::Lose);
        assert_eq!(decide(NOW, &s("Bob"), 10.0, cur), Decision::Lose);
        assert_eq!(decide(NOW, &s("x"), 1.0, None), Decision::Accept);
        // A state exactly at the clock is not from the future.
        assert_eq!(decide(NOW, &s("x"), NOW, None), Decision::Accept);
    }

    #[test]
    fn tie_break_in_utf16_order() {
        // In UTF-8 "😀" (F0..) sorts after "\u{FFFF}" (EF..); in UTF-16 it is
        // D83D.. and sorts before FFFF. Gun.js uses UTF-16.
        let emoji = s("😀");
        let high = s("\u{FFFF}");
        assert_eq!(
            decide(NOW, &high, 5.0, Some((&emoji, 5.0))),
            Decision::Accept
        );
        assert_eq!(decide(NOW, &emoji, 5.0, Some((&high, 5.0))), Decision::Lose);
    }

    #[test]
    fn null_tombstone_is_an_ordinary_value() {
        let v = s("v");
        // A newer delete wins; an older one is historical; on a tie `null` (n)
        // beats a string (") but loses to a link ({).
        assert_eq!(
            decide(NOW, &Value::Null, 6.0, Some((&v, 5.0))),
            Decision::Accept
        );
        assert_eq!(
            decide(NOW, &Value::Null, 4.0, Some((&v, 5.0))),
            Decision::Historical
        );
        assert_eq!(
            decide(NOW, &Value::Null, 5.0, Some((&v, 5.0))),
            Decision::Accept
        );
        let link = Value::Link("x".into());
        assert_eq!(
            decide(NOW, &Value::Null, 5.0, Some((&link, 5.0))),
            Decision::Lose
        );
        // A value written after the delete brings the key back.
        assert_eq!(
            decide(NOW, &v, 7.0, Some((&Value::Null, 6.0))),
            Decision::Accept
        );
    }
}
