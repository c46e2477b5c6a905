//! The state clock: Gun.js's `Gun.state()` with the wall clock passed in.

/// A property's state: milliseconds since the Unix epoch, possibly fractional.
pub type State = f64;

/// Gun.js's state generator (`D = 999`).
///
/// Returns `now` when the wall clock has moved past the last value, otherwise
/// `now + n/999` with `n` counting calls in that millisecond. States from one
/// clock are strictly increasing while the wall clock does not go back.
#[derive(Debug, Clone)]
pub struct StateClock {
    last: f64,
    n: u32,
    drift: f64,
}

impl Default for StateClock {
    fn default() -> Self {
        Self::new(0.0)
    }
}

impl StateClock {
    /// A clock with a fixed drift in milliseconds (Gun.js's `state.drift`).
    pub fn new(drift: f64) -> Self {
        Self {
            last: f64::NEG_INFINITY,
            n: 0,
            drift,
        }
    }

    /// The next state for wall time `unix_ms` (whole milliseconds are used, as
    /// `Date.now()` gives).
    pub fn next(&mut self, unix_ms: f64) -> State {
        let t = unix_ms.floor();
        if self.last < t {
            self.n = 0;
            self.last = t + self.drift;
            return self.last;
        }
        self.n += 1;
        // Evaluated left to right, as JavaScript does: `t + N / D + drift`.
        self.last = t + f64::from(self.n) / 999.0 + self.drift;
        self.last
    }

    /// The machine state HAM compares incoming states against at wall time
    /// `unix_ms`: the wall clock (with the drift), or the last state this
    /// clock gave if that is ahead (Gun.js compares against `State()`, so
    /// its own writes of one millisecond, at `now + n/999`, are never from
    /// the future to itself). Unlike [`StateClock::next`], it gives no
    /// new state.
    pub fn machine(&self, unix_ms: f64) -> f64 {
        (unix_ms + self.drift).max(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_gunjs_sequence() {
        let mut c = StateClock::default();
        let t = 1_795_541_784_376.0;
        assert_eq!(c.next(t), t);
        assert_eq!(crate::jstext::number_text(c.next(t)), "1795541784376.001");
        assert_eq!(crate::jstext::number_text(c.next(t)), "1795541784376.002");
        assert_eq!(c.next(t + 1.0), t + 1.0);
    }

    #[test]
    fn the_machine_state_is_never_behind_a_state_given() {
        let mut c = StateClock::default();
        let t = 1_795_541_784_376.0;
        assert_eq!(c.machine(t), t);
        let states: Vec<f64> = (0..1500).map(|_| c.next(t)).collect();
        assert!(states.iter().all(|s| *s <= c.machine(t)));
        assert!(c.machine(t) > t + 1.0);
        assert_eq!(c.machine(t + 5.0), t + 5.0);
    }

    #[test]
    fn strictly_increasing_within_a_millisecond() {
        let mut c = StateClock::default();
        let mut last = f64::NEG_INFINITY;
        for _ in 0..2000 {
            let s = c.next(1_700_000_000_000.4);
            assert!(s > last);
            last = s;
        }
    }
}
