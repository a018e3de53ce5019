//! A token in use and its `Bearer …` header: the slot's copy ([`Token`]) and what callers
//! get ([`CachedToken`]).

use crate::error::Error;
use crate::secret::RefreshToken;
use crate::token_store::TokenRecord;
use http::HeaderValue;
use secrecy::SecretString;
use std::fmt;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The endpoint named in errors about what the token endpoint sent.
pub(crate) const TOKEN_ENDPOINT: &str = "OAuth::create_access_token";

/// A token in use, in monotonic time.
#[derive(Clone)]
pub(crate) struct Token {
    /// `Bearer …`, marked sensitive.
    pub(crate) header: HeaderValue,
    /// When the server stops accepting it.
    pub(crate) expires_at: Instant,
    /// When it stops being handed out (a margin before `expires_at`).
    pub(crate) valid_until: Instant,
    /// When its renewal starts.
    pub(crate) refresh_at: Instant,
    /// Its wall-clock times, for the store.
    pub(crate) issued_wall: SystemTime,
    pub(crate) expires_wall: SystemTime,
    pub(crate) refresh_token: Option<RefreshToken>,
    pub(crate) version: u64,
}

impl Token {
    /// The record a store keeps.
    pub(crate) fn record(&self) -> TokenRecord {
        TokenRecord {
            access_token: SecretString::from(bearer_text(&self.header).to_owned()),
            refresh_token: self.refresh_token.clone(),
            issued_at: self.issued_wall,
            expires_at: self.expires_wall,
            version: self.version,
        }
    }

    /// A copy that is no longer handed out (after a 401) but keeps its refresh token.
    pub(crate) fn stale(&self) -> Token {
        let now = Instant::now();
        Token {
            header: self.header.clone(),
            valid_until: now,
            refresh_at: now,
            refresh_token: self.refresh_token.clone(),
            ..*self
        }
    }

    /// A copy whose grant is dead: handed out until it expires, never renewed.
    pub(crate) fn orphan(&self) -> Token {
        Token {
            header: self.header.clone(),
            refresh_at: self.valid_until,
            refresh_token: None,
            ..*self
        }
    }
}

/// `Bearer …`, marked sensitive; a token that cannot be a header value is the server's
/// mistake, not the user's configuration.
pub(crate) fn bearer_header(token: &str) -> Result<HeaderValue, Error> {
    let mut header =
        HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| Error::Protocol {
            endpoint: TOKEN_ENDPOINT,
            problem: "an access token that is not a valid header value",
        })?;
    header.set_sensitive(true);
    Ok(header)
}

/// The token text of a `Bearer …` header, exactly as it was given: it came from a `String`,
/// so its bytes are UTF-8 even where `HeaderValue::to_str` refuses them.
fn bearer_text(header: &HeaderValue) -> &str {
    header
        .as_bytes()
        .strip_prefix(b"Bearer ")
        .and_then(|text| std::str::from_utf8(text).ok())
        .unwrap_or_default()
}

/// A cached access token; the text is only reachable through `expose_secret`.
#[derive(Clone)]
pub struct CachedToken {
    /// `Bearer …`, sensitive.
    pub(crate) header: HeaderValue,
    expires_at: Instant,
    /// When its renewal starts: the hot path's one comparison.
    pub(crate) refresh_at: Instant,
    pub(crate) version: u64,
}

impl CachedToken {
    /// A token sharing the header's bytes (one reference count): for customer tokens, each
    /// read by few threads at a time.
    pub(crate) fn shared(token: &Token) -> Self {
        CachedToken {
            header: token.header.clone(),
            expires_at: token.expires_at,
            refresh_at: token.refresh_at,
            version: token.version,
        }
    }

    /// A token with a header of its own: for a thread's copy, which then shares nothing.
    pub(crate) fn owned(token: &Token) -> Self {
        let mut header = HeaderValue::from_bytes(token.header.as_bytes())
            .unwrap_or_else(|_| token.header.clone());
        header.set_sensitive(true);
        CachedToken {
            header,
            ..CachedToken::shared(token)
        }
    }

    /// The access token text, exactly as the server sent it.
    pub fn expose_secret(&self) -> &str {
        bearer_text(&self.header)
    }

    /// When it expires (monotonic time; tokio's clock, which tests can pause).
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    fn remaining(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("token", &"[REDACTED]")
            .field("remaining", &self.remaining())
            .field("version", &self.version)
            .finish()
    }
}

impl fmt::Display for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Bearer token [REDACTED], valid for another {} s",
            self.remaining().as_secs()
        )
    }
}
