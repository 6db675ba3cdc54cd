//! Whether an endpoint answers, measured rather than assumed: a quick `GET /models` when the last
//! word is old, and the outcome of every real request in between.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use cabin_openai_compatible::ChatClient;

/// How long a measurement stands. A car drives in and out of coverage; a minute is long.
const FRESH_FOR: Duration = Duration::from_secs(15);
/// A probe that takes longer than this says "not usefully reachable".
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

#[derive(Debug)]
pub struct Reachability {
    last: Mutex<Option<(bool, Instant)>>,
}

impl Default for Reachability {
    fn default() -> Self {
        Reachability { last: Mutex::new(None) }
    }
}

impl Reachability {
    pub async fn is_up(&self, client: &ChatClient) -> bool {
        let known = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((up, at)) = known {
            if at.elapsed() < FRESH_FOR {
                return up;
            }
        }
        let up = match client.models(PROBE_TIMEOUT).await {
            Ok(_) => true,
            Err(error) => {
                tracing::info!(%error, "endpoint not reachable");
                false
            }
        };
        self.record(up);
        up
    }

    pub fn record(&self, up: bool) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((up, Instant::now()));
    }
}
