//! Newtypes for the secrets the OAuth flows handle. Each prints as `[REDACTED]` in `Debug`
//! and `Display`, and is only readable through `expose_secret`.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serializer};
use std::fmt;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps the secret text.
            pub fn new(secret: impl Into<String>) -> Self {
                $name(SecretString::from(secret.into()))
            }

            /// The secret text, to be exposed deliberately.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[REDACTED]")
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                SecretString::deserialize(deserializer).map($name)
            }
        }

        impl From<String> for $name {
            fn from(secret: String) -> Self {
                $name::new(secret)
            }
        }
    };
}

secret_type! {
    /// An OAuth refresh token. Fintecture invalidates it once used: always keep the one the
    /// last refresh returned.
    RefreshToken
}

secret_type! {
    /// An authorization code, received as `code` on the redirect to the app (AIS). It works
    /// once.
    AuthorizationCode
}

/// Serializes a secret's text: only the request forms use this.
pub(crate) fn expose<S: Serializer>(secret: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret)
}
