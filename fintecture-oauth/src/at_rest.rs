//! How the Redis store keeps token values: sealed with AES-256-GCM, bound to their key name,
//! or in plain text when asked in so many words.

use crate::secret::RefreshToken;
use crate::token_store::{StoreError, TokenRecord};
use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, SystemTime};

/// How token values are kept in Redis.
#[derive(Clone)]
#[non_exhaustive]
pub enum AtRest {
    /// Encrypted with AES-256-GCM under this key (32 bytes), bound to the grant's key name.
    Encrypted(Box<Aes256Gcm>),
    /// In plain text: anyone who can read Redis can use the tokens. An explicit choice.
    Plaintext,
}

impl AtRest {
    /// AES-256-GCM with a 32-byte key (from your secret manager; keep it out of the
    /// code and of Redis).
    ///
    /// # Errors
    /// When the key is not 32 bytes long.
    pub fn aes_256_gcm(key: &[u8]) -> Result<AtRest, StoreError> {
        Aes256Gcm::new_from_slice(key)
            .map(|cipher| AtRest::Encrypted(Box::new(cipher)))
            .map_err(|_| StoreError::new("an AES-256-GCM key is 32 bytes"))
    }
}

impl fmt::Debug for AtRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AtRest::Encrypted(_) => f.write_str("Encrypted([REDACTED])"),
            AtRest::Plaintext => f.write_str("Plaintext"),
        }
    }
}

impl AtRest {
    /// The `data` field of a record stored under the key `name`.
    pub(crate) fn seal(&self, name: &str, record: &TokenRecord) -> Result<String, StoreError> {
        let data = Sealed {
            access_token: record.access_token.expose_secret().to_owned(),
            refresh_token: record
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            issued_at_ms: epoch_millis(record.issued_at),
            expires_at_ms: epoch_millis(record.expires_at),
        };
        let json = serde_json::to_vec(&data).map_err(StoreError::new)?;
        let engine = base64::engine::general_purpose::STANDARD;
        Ok(match self {
            AtRest::Plaintext => String::from_utf8(json).map_err(StoreError::new)?,
            AtRest::Encrypted(cipher) => {
                let nonce = Nonce::generate();
                let payload = Payload {
                    msg: &json,
                    aad: name.as_bytes(),
                };
                let sealed = cipher
                    .encrypt(&nonce, payload)
                    .map_err(|_| StoreError::new("could not encrypt a token record"))?;
                let mut bytes = nonce.to_vec();
                bytes.extend_from_slice(&sealed);
                format!("v1:{}", engine.encode(bytes))
            }
        })
    }

    /// The record whose `data` field, stored under the key `name`, is `data`.
    pub(crate) fn open(
        &self,
        name: &str,
        version: u64,
        data: &str,
    ) -> Result<TokenRecord, StoreError> {
        let json = match (self, data.strip_prefix("v1:")) {
            (AtRest::Encrypted(cipher), Some(encoded)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|_| StoreError::new("a token record is not valid base64"))?;
                let (nonce, sealed) = bytes
                    .split_at_checked(12)
                    .ok_or_else(|| StoreError::new("a token record is too short"))?;
                let nonce = Nonce::try_from(nonce)
                    .map_err(|_| StoreError::new("a token record's nonce is malformed"))?;
                let payload = Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                };
                cipher.decrypt(&nonce, payload).map_err(|_| {
                    StoreError::new(
                        "a token record does not decrypt with this key (wrong key, or moved)",
                    )
                })?
            }
            (AtRest::Encrypted(_), None) => {
                return Err(StoreError::new(
                    "a token record is in plain text but the store expects encryption",
                ));
            }
            (AtRest::Plaintext, Some(_)) => {
                return Err(StoreError::new(
                    "a token record is encrypted but the store has no key",
                ));
            }
            (AtRest::Plaintext, None) => data.as_bytes().to_vec(),
        };
        let sealed: Sealed = serde_json::from_slice(&json)
            .map_err(|_| StoreError::new("a token record is malformed"))?;
        Ok(TokenRecord {
            access_token: SecretString::from(sealed.access_token),
            refresh_token: sealed.refresh_token.map(RefreshToken::new),
            issued_at: from_millis(sealed.issued_at_ms),
            expires_at: from_millis(sealed.expires_at_ms),
            version,
        })
    }
}

/// What the `data` field holds, before encryption.
#[derive(Serialize, Deserialize)]
struct Sealed {
    access_token: String,
    refresh_token: Option<String>,
    issued_at_ms: u64,
    expires_at_ms: u64,
}

/// A time as milliseconds since the epoch (0 before it).
pub(crate) fn epoch_millis(time: SystemTime) -> u64 {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A time from the store, bounded: a record that says "the end of time" is read as the
/// latest time this platform can hold, which the manager bounds again.
fn from_millis(millis: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_millis(millis))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}
