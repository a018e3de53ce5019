//! Faults the emulator can be told to inject.

use std::time::Duration;

/// A fault for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer with this status (e.g. 500 or 503) in the error envelope, with `Retry-After`
    /// (seconds) when given.
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Answer 200 with a truncated JSON body.
    MalformedJson,
    /// Send the status line and headers, then drop the connection mid-body.
    DropConnection,
}
