//! The wall clock of token records, injectable so tests can move it.

use std::fmt;
use std::time::SystemTime;

/// Tells the wall-clock time. Token records carry wall-clock expiries, so that a record
/// means the same in another process and after a restart; the in-memory copies of tokens
/// expire by the monotonic clock (tokio's, which tests can pause and advance).
///
/// The default is [`SystemClock`]; a test can give the client a clock it controls
/// ([`ClientBuilder::clock`](crate::ClientBuilder::clock)).
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
