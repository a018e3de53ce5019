//! `Debug` views that never show a secret: header values and query values are shown only
//! when they are known to be harmless (a header may be a key, a cookie or a token; a query
//! value may be a code).

use http::HeaderMap;
use std::fmt;

const REDACTED: &str = "[REDACTED]";

/// Headers whose values carry no secret, and help debugging.
const SHOWN: &[&str] = &[
    "accept",
    "content-length",
    "content-type",
    "date",
    "retry-after",
    "user-agent",
    "x-request-id",
];

/// A header map: every name, and the values of the harmless ones.
pub(crate) struct Headers<'a>(pub(crate) &'a HeaderMap);

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if SHOWN.contains(&name.as_str()) && !value.is_sensitive() {
                map.entry(&name.as_str(), &value);
            } else {
                map.entry(&name.as_str(), &REDACTED);
            }
        }
        map.finish()
    }
}

/// A URL with every query value replaced: the names stay, to show what was sent.
pub(crate) fn url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let names: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={REDACTED}"),
            None => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", names.join("&"))
}
