//! What stands between a request and the car, besides its MAC: the clock window, nonces seen
//! before, a rate per phone, and the answers already given (a redelivered request is answered
//! again from here and never re-run).
//!
//! The nonces seen are also written to a journal in the link's state folder before a request is
//! acted on: a request recorded off the broker and sent again after the link restarted, inside
//! the clock window, is still a replay.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
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

/// The journal of nonces seen, in the link's state folder: one `timestamp nonce` line each.
pub const NONCE_JOURNAL: &str = "seen-requests";

#[derive(Debug, Default)]
pub struct Guard {
    /// nonce -> request timestamp, forgotten once outside the clock window.
    nonces: HashMap<String, u64>,
    /// Where the nonces are kept across restarts; none in tests of the guard alone.
    journal: Option<PathBuf>,
    /// Lines in the journal, to know when it is worth rewriting with the fresh ones only.
    journal_lines: usize,
    buckets: HashMap<String, TokenBucket>,
    answers: HashMap<(String, String), Response>,
    answer_order: VecDeque<(String, String)>,
    /// Requests being acted on: a redelivery waits for their answer instead of running again
    /// or being refused as a replay.
    in_progress: HashSet<(String, String)>,
}

impl Guard {
    /// A guard that keeps the nonces it sees in `dir`'s journal, starting from those of it
    /// still inside the clock window. A line it cannot read is skipped: a nonce lost that way
    /// can only make a replay possible again, which the journal exists to stop, so the file is
    /// written whole, a line at a time, and synced.
    pub fn keeping_nonces_in(dir: &Path, now: u64) -> Guard {
        let path = dir.join(NONCE_JOURNAL);
        let mut guard = Guard { journal: Some(path.clone()), ..Guard::default() };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            if let (Some(Ok(ts)), Some(nonce)) = (fields.next().map(str::parse::<u64>), fields.next()) {
                if ts.abs_diff(now) <= CLOCK_WINDOW_S {
                    guard.nonces.insert(nonce.to_string(), ts);
                }
            }
        }
        guard.journal_lines = text.lines().count();
        if guard.journal_lines > guard.nonces.len() {
            // What it cannot write now fails the first request, which must write too.
            let _ = guard.rewrite_journal();
        }
        guard
    }

    /// The journal rewritten with the nonces still inside the clock window alone.
    fn rewrite_journal(&mut self) -> std::io::Result<()> {
        let Some(path) = &self.journal else { return Ok(()) };
        let partial = path.with_extension("partial");
        let fresh: String = self.nonces.iter().map(|(nonce, ts)| format!("{ts} {nonce}\n")).collect();
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(fresh.as_bytes())?;
        file.sync_data()?;
        std::fs::rename(&partial, path)?;
        self.journal_lines = self.nonces.len();
        Ok(())
    }

    /// Adds `nonce` to the journal (rewritten first when it holds many more lines than fresh
    /// nonces), synced before the request is acted on.
    fn journal(&mut self, nonce: &str, ts: u64) -> std::io::Result<()> {
        if self.journal_lines > 2 * self.nonces.len() + 64 {
            self.rewrite_journal()?;
        }
        let Some(path) = &self.journal else { return Ok(()) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(format!("{ts} {nonce}\n").as_bytes())?;
        file.sync_data()?;
        self.journal_lines += 1;
        Ok(())
    }

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
        // A nonce not kept would be acted on again after a restart: no action without it.
        self.journal(nonce, ts).map_err(|error| (ErrorKind::Unavailable, format!("the car cannot keep this request's nonce: {error}")))
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

    #[test]
    fn a_nonce_seen_before_a_restart_is_still_a_replay_and_the_journal_keeps_only_fresh_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut guard = Guard::keeping_nonces_in(dir.path(), 1000);
        guard.admit("p", "before", 1000, 1000).unwrap();
        let mut restarted = Guard::keeping_nonces_in(dir.path(), 1030);
        assert_eq!(restarted.admit("p", "before", 1000, 1030).unwrap_err().0, ErrorKind::Replay);
        restarted.admit("p", "after", 1030, 1030).unwrap();

        // Much later: old nonces are forgotten, and the journal is rewritten with the fresh.
        let later = 1000 + 10 * CLOCK_WINDOW_S;
        let mut guard = Guard::keeping_nonces_in(dir.path(), later);
        for i in 0..200 {
            guard.admit(&format!("phone {i}"), &format!("n{i}"), later, later).unwrap();
        }
        let journal = std::fs::read_to_string(dir.path().join(NONCE_JOURNAL)).unwrap();
        assert!(!journal.contains("before") && journal.lines().count() < 200 + 64, "{} lines", journal.lines().count());
        assert_eq!(Guard::keeping_nonces_in(dir.path(), later).admit("p", "n7", later, later).unwrap_err().0, ErrorKind::Replay);
    }
}
