//! What stands between a request and the car, besides its MAC: the clock window, nonces seen
//! before, a rate per phone, and the answers already given (a redelivered request is answered
//! again from here and never re-run).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use cabin_phone_protocol::{ErrorKind, Response, CLOCK_WINDOW_S};

/// Requests a phone may send per second, on average, and in a burst.
pub const RATE_PER_S: f64 = 10.0;
pub const BURST: f64 = 20.0;
/// Answers kept for redeliveries.
const ANSWERS_KEPT: usize = 1024;

/// So many requests per second on average, and bursts of so many.
#[derive(Debug)]
pub struct TokenBucket {
    rate_per_s: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_s: f64, burst: f64) -> TokenBucket {
        TokenBucket { rate_per_s, burst, tokens: burst, last: Instant::now() }
    }

    /// Takes a token; false when there is none.
    pub fn take(&mut self) -> bool {
        self.tokens = (self.tokens + self.last.elapsed().as_secs_f64() * self.rate_per_s).min(self.burst);
        self.last = Instant::now();
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

#[derive(Debug, Default)]
pub struct Guard {
    /// nonce -> request timestamp, forgotten once outside the clock window.
    nonces: HashMap<String, u64>,
    buckets: HashMap<String, TokenBucket>,
    answers: HashMap<(String, String), Response>,
    answer_order: VecDeque<(String, String)>,
    /// Requests being acted on: a redelivery waits for their answer instead of running again
    /// or being refused as a replay.
    in_progress: HashSet<(String, String)>,
}

impl Guard {
    /// The answer already given to this phone's request id, if any.
    pub fn answered(&self, phone: &str, id: &str) -> Option<Response> {
        self.answers.get(&(phone.to_string(), id.to_string())).cloned()
    }

    /// Marks a request as being acted on; false when it already is.
    pub fn begin(&mut self, phone: &str, id: &str) -> bool {
        self.in_progress.insert((phone.to_string(), id.to_string()))
    }

    pub fn in_progress(&self, phone: &str, id: &str) -> bool {
        self.in_progress.contains(&(phone.to_string(), id.to_string()))
    }

    pub fn remember(&mut self, phone: &str, id: &str, response: &Response) {
        let key = (phone.to_string(), id.to_string());
        self.in_progress.remove(&key);
        if self.answers.insert(key.clone(), response.clone()).is_none() {
            self.answer_order.push_back(key);
        }
        while self.answer_order.len() > ANSWERS_KEPT {
            if let Some(old) = self.answer_order.pop_front() {
                self.answers.remove(&old);
            }
        }
    }

    /// Checks the timestamp, the nonce and the rate; records the nonce when all pass.
    pub fn admit(&mut self, phone: &str, nonce: &str, ts: u64, now: u64) -> Result<(), (ErrorKind, String)> {
        if ts.abs_diff(now) > CLOCK_WINDOW_S {
            return Err((
                ErrorKind::Stale,
                format!("the request is {} s from the car's clock (at most {CLOCK_WINDOW_S} s)", ts.abs_diff(now)),
            ));
        }
        self.nonces.retain(|_, seen| seen.abs_diff(now) <= CLOCK_WINDOW_S);
        if self.nonces.contains_key(nonce) {
            return Err((ErrorKind::Replay, "this request was already received (nonce seen before)".into()));
        }
        if !self.buckets.entry(phone.to_string()).or_insert_with(|| TokenBucket::new(RATE_PER_S, BURST)).take() {
            return Err((ErrorKind::RateLimited, format!("more than {RATE_PER_S} requests per second from this phone")));
        }
        self.nonces.insert(nonce.to_string(), ts);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_replayed_and_flooding_requests_are_refused() {
        let mut guard = Guard::default();
        assert_eq!(guard.admit("p", "n0", 1000, 1000 + CLOCK_WINDOW_S + 1).unwrap_err().0, ErrorKind::Stale);
        guard.admit("p", "n1", 1000, 1000).unwrap();
        assert_eq!(guard.admit("p", "n1", 1000, 1000).unwrap_err().0, ErrorKind::Replay);
        let refused = (0..100).filter_map(|i| guard.admit("p", &format!("m{i}"), 1000, 1000).err()).next();
        assert_eq!(refused.map(|e| e.0), Some(ErrorKind::RateLimited));
        assert!(guard.admit("another phone", "x", 1000, 1000).is_ok(), "the rate is per phone");
    }
}
