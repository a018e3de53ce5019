//! The `AccessToken` schema, read the way real servers send it.

use crate::secret::RefreshToken;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, MapAccess, Visitor};
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
#[derive(Clone)]
#[non_exhaustive]
pub struct AccessToken {
    /// The access token, sent as `Authorization: Bearer …`.
    pub access_token: SecretString,
    /// The token type (`Bearer`).
    pub token_type: TokenType,
    /// The lifetime in seconds, counted from when the token was requested.
    pub expires_in: u64,
    /// The refresh token, for grants that come with one (AIS, OAC).
    pub refresh_token: Option<RefreshToken>,
    /// The granted scope, when the server says.
    pub scope: Option<String>,
    /// Any other field the server sent (OAC answers `"type": "oac_token"`).
    pub extra: Map<String, Value>,
}

impl AccessToken {
    /// Parses a token response body, as the token endpoints do (for tokens received by other
    /// means, and for fuzzing). The error never quotes the body.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) when the body is not a token: not JSON, no
    /// `access_token`, or an `expires_in` that is not a number.
    pub fn from_json(body: &[u8]) -> Result<Self, crate::error::Error> {
        let body = bytes::Bytes::copy_from_slice(body);
        crate::decode::decode_bytes("AccessToken::from_json", &body)
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
#[non_exhaustive]
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

// Deserialized by hand: known keys are matched without allocating and read straight into
// their fields, unknown ones land in `extra` (serde's `flatten` would buffer every field).
impl<'de> Deserialize<'de> for AccessToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TokenVisitor)
    }
}

struct TokenVisitor;

impl<'de> Visitor<'de> for TokenVisitor {
    type Value = AccessToken;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AccessToken, A::Error> {
        let mut access_token: Option<SecretString> = None;
        let mut token = AccessToken {
            access_token: SecretString::from(String::new()),
            token_type: TokenType::Bearer,
            expires_in: DEFAULT_EXPIRES_IN,
            refresh_token: None,
            scope: None,
            extra: Map::new(),
        };
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::AccessToken => access_token = Some(map.next_value()?),
                Field::TokenType => token.token_type = map.next_value()?,
                Field::ExpiresIn => token.expires_in = map.next_value::<Seconds>()?.0,
                Field::RefreshToken => {
                    token.refresh_token = map
                        .next_value::<Option<RefreshToken>>()?
                        .filter(|t| !t.expose_secret().is_empty());
                }
                Field::Scope => token.scope = map.next_value()?,
                Field::Other(name) => {
                    token.extra.insert(name, map.next_value()?);
                }
            }
        }
        token.access_token =
            access_token.ok_or_else(|| de::Error::missing_field("access_token"))?;
        Ok(token)
    }
}

enum Field {
    AccessToken,
    TokenType,
    ExpiresIn,
    RefreshToken,
    Scope,
    Other(String),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "access_token" => Field::AccessToken,
                    "token_type" => Field::TokenType,
                    "expires_in" => Field::ExpiresIn,
                    "refresh_token" => Field::RefreshToken,
                    "scope" => Field::Scope,
                    other => Field::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

/// `Bearer` in any case, or absent (null), is [`TokenType::Bearer`].
impl<'de> Deserialize<'de> for TokenType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TypeVisitor;
        impl<'de> Visitor<'de> for TypeVisitor {
            type Value = TokenType;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token type")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<TokenType, E> {
                Ok(if text.eq_ignore_ascii_case("bearer") {
                    TokenType::Bearer
                } else {
                    TokenType::Other(text.to_owned())
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<TokenType, E> {
                Ok(TokenType::Bearer)
            }
            fn visit_none<E: de::Error>(self) -> Result<TokenType, E> {
                Ok(TokenType::Bearer)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<TokenType, D::Error> {
                d.deserialize_any(self)
            }
        }
        deserializer.deserialize_option(TypeVisitor)
    }
}

/// `expires_in`: a whole number, a numeric string, or null (the default).
struct Seconds(u64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecondsVisitor;
        impl<'de> Visitor<'de> for SecondsVisitor {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("seconds as a whole number or numeric string")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Seconds, E> {
                Ok(Seconds(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Seconds, E> {
                u64::try_from(n)
                    .map(Seconds)
                    .map_err(|_| E::custom("expires_in is negative"))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Seconds, E> {
                text.trim()
                    .parse()
                    .map(Seconds)
                    .map_err(|_| E::custom("expected seconds as a whole number or numeric string"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Seconds, E> {
                Ok(Seconds(DEFAULT_EXPIRES_IN))
            }
            fn visit_none<E: de::Error>(self) -> Result<Seconds, E> {
                Ok(Seconds(DEFAULT_EXPIRES_IN))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Seconds, D::Error> {
                d.deserialize_any(self)
            }
        }
        deserializer.deserialize_option(SecondsVisitor)
    }
}
