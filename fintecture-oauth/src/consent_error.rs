//! Why the redirect back from a consent could not be completed.

/// Why [`Client::complete_consent`](crate::Client::complete_consent) kept no token. What the
/// redirect carried is untrusted: it is quoted only where it names no secret (never the
/// code or the state), cut to a bounded length.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The redirect carries no `state`: it does not come back from a consent this app
    /// started. No token request was made.
    #[error("the redirect carries no `state`: refused")]
    MissingState,
    /// The redirect's `state` is not the one kept for this user's session (a forged
    /// redirect, or one meant for another session). No token request was made.
    #[error("the redirect's `state` is not the one kept for this session: refused")]
    WrongState,
    /// The `state` was used already, or expired, or was never started by this app (or
    /// another client sharing its token store). No token request was made.
    #[error("the consent's `state` was used already or expired: start a new consent")]
    StateUsed,
    /// The customer refused, or their bank failed: the redirect carries `error`.
    #[error("the consent did not succeed: {error}{}", describe(description))]
    Refused {
        /// The redirect's `error` (`access_denied`, say).
        error: String,
        /// The redirect's `error_description`, if any.
        description: Option<String>,
    },
    /// The redirect carries a `state` but lacks this field (`code` or `customer_id`).
    #[error("the redirect carries no `{0}`")]
    Incomplete(&'static str),
    /// The token the code bought is not this customer's: the service refused it for the
    /// customer id the redirect names (a redirect edited to another customer's id, say), or
    /// that [`Client::authorize`](crate::Client::authorize) was called for. Nothing was
    /// kept, and that customer's grant is untouched.
    #[error("the consent's token is not customer `{customer_id}`'s: nothing was kept")]
    WrongCustomer {
        /// The customer id the token was to be kept under.
        customer_id: String,
    },
}

fn describe(description: &Option<String>) -> String {
    description
        .as_ref()
        .map(|description| format!(" ({description})"))
        .unwrap_or_default()
}
