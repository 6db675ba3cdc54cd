//! How long to wait before trying the broker again: doubling from a first wait to a longest,
//! each wait drawn at random from its upper half, so that a fleet of cars (and their owners'
//! phones) does not reconnect to a restarted broker at the same instant.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    longest: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, longest: Duration) -> Backoff {
        Backoff { first, longest, next: first }
    }

    /// The broker's default: from 0.3 s up to 5 s.
    pub fn for_broker() -> Backoff {
        Backoff::new(Duration::from_millis(300), Duration::from_secs(5))
    }

    /// The wait before the next attempt, between half of the current step and all of it.
    pub fn next_wait(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.longest);
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).expect("the OS random source works");
        let fraction = f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX);
        step / 2 + step.mul_f64(0.5 * fraction)
    }

    /// After a success: the next failure starts again from the first wait.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_longest_spread_over_their_upper_half_and_start_again_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let waits: Vec<Duration> = (0..6).map(|_| backoff.next_wait()).collect();
        for (wait, step) in waits.iter().zip([100, 200, 400, 800, 800, 800]) {
            let step = Duration::from_millis(step);
            assert!(*wait >= step / 2 && *wait <= step, "{wait:?} for a step of {step:?}");
        }
        let spread: std::collections::BTreeSet<Duration> = (0..20).map(|_| Backoff::for_broker().next_wait()).collect();
        assert!(spread.len() > 10, "two cars rarely wait alike: {spread:?}");
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(100));
    }
}
