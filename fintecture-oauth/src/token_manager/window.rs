//! When a token stops being handed out (the margin) and when it is renewed (the refresh
//! window).

use crate::retry::random_below;
use std::time::Duration;
use tokio::time::Instant;

/// How long before expiry a token stops being handed out, by default: long enough for a
/// request to reach the server before the token dies on the way.
pub const DEFAULT_TOKEN_MARGIN: Duration = Duration::from_secs(10);

/// The longest lifetime a token is trusted for: a longer `expires_in` counts as this.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// When tokens are renewed: this long before they expire, plus a random jitter, so that
/// many processes holding the same kind of token do not all renew at the same instant.
///
/// By default the larger of 60 s and 10% of the token's lifetime, plus up to half as much
/// again at random. Never more than half the lifetime, so a short-lived token is not
/// renewed as soon as it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshWindow {
    minimum: Duration,
    lifetime_percent: u32,
    jitter_percent: u32,
}

impl Default for RefreshWindow {
    fn default() -> Self {
        RefreshWindow::new(Duration::from_secs(60), 10)
    }
}

impl RefreshWindow {
    /// Renew `max(minimum, lifetime_percent% of the lifetime)` before expiry (percentages
    /// above 100 count as 100), with the default jitter of 50% of that.
    pub const fn new(minimum: Duration, lifetime_percent: u32) -> Self {
        RefreshWindow {
            minimum,
            lifetime_percent,
            jitter_percent: 50,
        }
    }

    /// The largest random extra, as a percentage of the window (0 for none).
    pub const fn with_jitter_percent(mut self, jitter_percent: u32) -> Self {
        self.jitter_percent = jitter_percent;
        self
    }

    /// How long before expiry to renew a token of this lifetime.
    fn ahead(&self, lifetime: Duration) -> Duration {
        let window = self.minimum.max(percent(lifetime, self.lifetime_percent));
        let jitter = random_below(percent(window, self.jitter_percent));
        window.saturating_add(jitter).min(lifetime / 2)
    }
}

fn percent(duration: Duration, percent: u32) -> Duration {
    duration / 100 * percent.min(100)
}

/// A client's margin and refresh window, applied to each token it gets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schedule {
    pub(crate) margin: Duration,
    pub(crate) window: RefreshWindow,
}

impl Schedule {
    /// When a token expiring at `expires_at`, with this lifetime, stops being handed out
    /// (`valid_until`: the margin before, at most a quarter of the lifetime) and when its
    /// renewal starts (`refresh_at`, never after `valid_until`).
    pub(crate) fn times(&self, expires_at: Instant, lifetime: Duration) -> (Instant, Instant) {
        let before = |ahead: Duration| expires_at.checked_sub(ahead).unwrap_or(expires_at);
        let valid_until = before(self.margin.min(lifetime / 4));
        let refresh_at = before(self.window.ahead(lifetime)).min(valid_until);
        (valid_until, refresh_at)
    }
}
