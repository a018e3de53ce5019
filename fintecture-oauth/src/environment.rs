//! Which Fintecture deployment a client talks to.

use url::Url;

/// Where requests go: Fintecture's sandbox, production, or any base URL (an emulator, a
/// proxy, a test server).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api-sandbox.fintecture.com`.
    Sandbox,
    /// `https://api.fintecture.com`.
    Production,
    /// Any base URL; its path, if any, prefixes every endpoint path.
    Custom(Url),
}

impl Environment {
    /// The base URL of this environment as text.
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Sandbox => "https://api-sandbox.fintecture.com",
            Environment::Production => "https://api.fintecture.com",
            Environment::Custom(url) => url.as_str(),
        }
    }
}
