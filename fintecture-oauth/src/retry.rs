//! Opt-in retries (`retry = N` on an endpoint): only when the request cannot have done
//! anything yet (the connection failed) or the server said to come back (429, 503).

use crate::error::{ApiError, Error};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

/// How retries wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The first backoff; each retry doubles it (with jitter).
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy: the first backoff (doubled per retry, with jitter), the longest backoff,
    /// and the longest `Retry-After` honoured (a longer one ends the retries).
    pub fn new(base_delay: Duration, max_delay: Duration, max_retry_after: Duration) -> Self {
        RetryPolicy {
            base_delay,
            max_delay,
            max_retry_after,
        }
    }

    /// How long to wait before retry number `attempt` (0-based) after `result`, or `None`
    /// when the result is final.
    pub(crate) fn delay<T>(&self, result: &Result<T, Error>, attempt: u32) -> Option<Duration> {
        match result {
            Err(Error::Connect { .. }) => Some(self.backoff(attempt)),
            Err(Error::Api(api)) if matches!(api.status().as_u16(), 429 | 503) => {
                match retry_after(api) {
                    Some(wait) if wait > self.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.backoff(attempt)),
                }
            }
            _ => None,
        }
    }

    /// Exponential backoff with jitter: a random point in the upper half of the window, so
    /// that many clients failing together do not come back together.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let window = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let half = window / 2;
        half + random_below(half)
    }
}

/// A random duration from zero to `limit`, in thousandths of it: jitter, so that many
/// clients that fail or renew together do not come back together.
pub(crate) fn random_below(limit: Duration) -> Duration {
    let random = RandomState::new().hash_one(std::thread::current().id());
    limit.mul_f64((random % 1_000) as f64 / 1_000.0)
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(api: &ApiError) -> Option<Duration> {
    let value = api
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}
