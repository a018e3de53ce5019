//! The `AccessToken` schema, read the way real servers send it.

use crate::secret::RefreshToken;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// The lifetime Fintecture documents when `expires_in` is absent.
pub const DEFAULT_EXPIRES_IN: u64 = 3600;

/// A token issued by `/oauth/accesstoken` or `/oauth/refreshtoken`.
///
/// Lenient where real servers vary: `expires_in` as a number or numeric string (3600 when
/// absent), `token_type` in any case or absent, unknown fields kept in `extra`. `Debug` and
/// `Display` never show the tokens.
#[derive(Clone, Deserialize)]
pub struct AccessToken {
    /// The access token, sent as `Authorization: Bearer …`.
    pub access_token: SecretString,
    /// The token type (`Bearer`).
    #[serde(default, deserialize_with = "token_type")]
    pub token_type: TokenType,
    /// The lifetime in seconds, counted from when the token was requested.
    #[serde(default = "default_expires_in", deserialize_with = "seconds")]
    pub expires_in: u64,
    /// The refresh token, for grants that come with one (AIS, OAC).
    #[serde(default, deserialize_with = "non_empty_refresh_token")]
    pub refresh_token: Option<RefreshToken>,
    /// The granted scope, when the server says.
    #[serde(default)]
    pub scope: Option<String>,
    /// Any other field the server sent (OAC answers `"type": "oac_token"`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AccessToken {
    /// Parses a token response body, as the token endpoints do (for tokens received by other
    /// means, and for fuzzing). The error never quotes the body.
    pub fn from_json(body: &[u8]) -> Result<Self, crate::Error> {
        let body = bytes::Bytes::copy_from_slice(body);
        crate::response::decode_bytes("AccessToken::from_json", &body)
    }

    /// The lifetime as a `Duration`.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.expires_in)
    }

    /// The token as the JSON object the server sent, secrets included: for handing it to
    /// another program on purpose (the `token` example prints it). Not `Serialize`, so that
    /// it never ends up in a log by accident.
    pub fn expose_json(&self) -> Value {
        let mut object = self.extra.clone();
        object.insert(
            "access_token".into(),
            self.access_token.expose_secret().into(),
        );
        object.insert("token_type".into(), self.token_type.to_string().into());
        object.insert("expires_in".into(), self.expires_in.into());
        if let Some(refresh_token) = &self.refresh_token {
            object.insert("refresh_token".into(), refresh_token.expose_secret().into());
        }
        if let Some(scope) = &self.scope {
            object.insert("scope".into(), scope.clone().into());
        }
        Value::Object(object)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("scope", &self.scope)
            // Only the names: an unknown field may be another secret (an id_token, say).
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} token [REDACTED], expires in {} s",
            self.token_type, self.expires_in
        )?;
        if let Some(scope) = &self.scope {
            write!(f, ", scope {scope}")?;
        }
        if self.refresh_token.is_some() {
            f.write_str(", with a refresh token")?;
        }
        Ok(())
    }
}

/// The `token_type` of an access token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TokenType {
    /// `Bearer`, in any case, or absent.
    #[default]
    Bearer,
    /// Anything else, as sent.
    Other(String),
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenType::Bearer => f.write_str("Bearer"),
            TokenType::Other(other) => f.write_str(other),
        }
    }
}

fn default_expires_in() -> u64 {
    DEFAULT_EXPIRES_IN
}

fn token_type<'de, D: Deserializer<'de>>(d: D) -> Result<TokenType, D::Error> {
    Ok(match Option::<String>::deserialize(d)? {
        None => TokenType::Bearer,
        Some(text) if text.eq_ignore_ascii_case("bearer") => TokenType::Bearer,
        Some(other) => TokenType::Other(other),
    })
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
        Null(()),
    }
    let invalid =
        || serde::de::Error::custom("expected seconds as a whole number or numeric string");
    match Seconds::deserialize(d).map_err(|_: D::Error| invalid())? {
        Seconds::Number(n) => Ok(n),
        Seconds::Text(text) => text.trim().parse().map_err(|_| invalid()),
        Seconds::Null(()) => Ok(DEFAULT_EXPIRES_IN),
    }
}

fn non_empty_refresh_token<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<RefreshToken>, D::Error> {
    Ok(Option::<RefreshToken>::deserialize(d)?.filter(|t| !t.expose_secret().is_empty()))
}
