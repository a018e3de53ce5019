//! OAuth scopes of the Fintecture API.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// The scope a token is requested for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Payment initiation (`PIS`), client credentials.
    Pis,
    /// Account information (`AIS`), obtained through an authorization code.
    Ais,
    /// Customers (`customer`, as the spec spells it; Fintecture's prose says "customers").
    Customer,
    /// E-mandates (`e-mandate`, as the spec spells it; the prose says "e-mandates").
    EMandate,
    /// Organisation Access Credentials: space-separated sub-scopes such as
    /// `organisations:read`.
    Oac(Vec<String>),
    /// Any other scope string, sent as is.
    Custom(String),
}

impl Scope {
    /// An OAC scope from its sub-scopes.
    pub fn oac<I, S>(sub_scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Scope::Oac(sub_scopes.into_iter().map(Into::into).collect())
    }
}

impl Scope {
    /// The scope as sent; borrowed except for OAC, whose sub-scopes are joined.
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            Scope::Pis => Cow::Borrowed("PIS"),
            Scope::Ais => Cow::Borrowed("AIS"),
            Scope::Customer => Cow::Borrowed("customer"),
            Scope::EMandate => Cow::Borrowed("e-mandate"),
            Scope::Oac(sub_scopes) => Cow::Owned(sub_scopes.join(" ")),
            Scope::Custom(scope) => Cow::Borrowed(scope),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Infallible;

    /// Reads the spellings above (case-insensitively for `PIS` and `AIS`); text with `:`
    /// is OAC sub-scopes; anything else is kept as a custom scope.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        Ok(match text {
            _ if text.eq_ignore_ascii_case("PIS") => Scope::Pis,
            _ if text.eq_ignore_ascii_case("AIS") => Scope::Ais,
            "customer" => Scope::Customer,
            "e-mandate" => Scope::EMandate,
            _ if text.contains(':') => Scope::oac(text.split_whitespace()),
            _ => Scope::Custom(text.to_owned()),
        })
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
