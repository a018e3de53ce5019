//! Percent-encoding of path parameters, written straight into the URL being built.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt;

/// Everything but RFC 3986's unreserved characters: a value becomes exactly one path
/// segment, whatever it holds (`/`, `?`, `#`, `%`, spaces, non-ASCII text).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A `fmt::Write` that percent-encodes what it is given, so a `Display` value is encoded
/// without an intermediate string.
pub(crate) struct SegmentWriter<'a>(pub(crate) &'a mut String);

impl fmt::Write for SegmentWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in utf8_percent_encode(s, SEGMENT) {
            self.0.push_str(chunk);
        }
        Ok(())
    }
}
