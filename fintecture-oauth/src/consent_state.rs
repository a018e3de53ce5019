//! A consent's `state` (RFC 6749 §10.12): 256 random bits from the operating system, kept
//! by the app in the user's session and compared in constant time when the redirect
//! returns; stores keep only its digest.

use base64::Engine as _;
use rsa::sha2::{Digest as _, Sha256};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use subtle::ConstantTimeEq as _;

/// The `state` of a consent this app started: keep it in the user's session (a signed,
/// `HttpOnly` cookie, say) and give it back to
/// [`Client::complete_consent`](crate::Client::complete_consent) with the redirect's query.
/// Never printed: `Debug` and `Display` show `[REDACTED]`.
#[derive(Clone)]
pub struct ConsentState(SecretString);

impl ConsentState {
    /// A fresh state: 32 bytes from the operating system's CSPRNG, base64url.
    pub(crate) fn generate() -> Result<ConsentState, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Ok(ConsentState(SecretString::from(text)))
    }

    /// The state as kept in the user's session, read back.
    pub fn from_kept(kept: impl Into<String>) -> ConsentState {
        ConsentState(SecretString::from(kept.into()))
    }

    /// The state's text, to keep in the user's session.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether `returned` is this state, in time that does not depend on where they differ.
    pub(crate) fn matches(&self, returned: &str) -> bool {
        let kept = self.0.expose_secret().as_bytes();
        kept.ct_eq(returned.as_bytes()).into()
    }

    /// The name stores keep it under: its SHA-256 (no secret in a key name), after the
    /// environment and app it belongs to.
    pub(crate) fn store_name(&self, environment: &str, app_id: &str) -> String {
        let digest = Sha256::digest(self.0.expose_secret().as_bytes());
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        format!("{environment}|{app_id}|{digest}")
    }
}

impl fmt::Debug for ConsentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsentState([REDACTED])")
    }
}
