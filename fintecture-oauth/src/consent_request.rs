//! What starting a consent takes and gives: which consent (hosted picker, chosen bank,
//! decoupled), and what comes back (the URL and the `state` to keep, or the polling id).

use crate::consent_state::ConsentState;
use std::fmt;
use std::time::Duration;

/// How long a started consent's `state` is kept: a customer who takes longer at their bank
/// starts again.
pub const CONSENT_LIFETIME: Duration = Duration::from_secs(3600);

/// Which consent to start: Fintecture's hosted bank picker, or a bank the app chose.
#[derive(Clone, Debug)]
pub struct ConsentRequest {
    pub(crate) redirect_uri: String,
    pub(crate) provider: Option<String>,
    pub(crate) decoupled: bool,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl ConsentRequest {
    /// The hosted bank picker (`GET /ais/v2/connect`); the customer comes back to
    /// `redirect_uri`.
    pub fn connect(redirect_uri: impl Into<String>) -> Self {
        ConsentRequest {
            redirect_uri: redirect_uri.into(),
            provider: None,
            decoupled: false,
            headers: Vec::new(),
        }
    }

    /// The bank `provider_id` (`cmcifrpp`, say; `GET /ais/v1/provider/{id}/authorize`);
    /// the customer comes back to `redirect_uri`.
    pub fn provider(provider_id: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        ConsentRequest {
            provider: Some(provider_id.into()),
            ..ConsentRequest::connect(redirect_uri)
        }
    }

    /// The bank `provider_id`, in its decoupled model: the customer consents in their
    /// bank's app, identified by `psu_id` (`x-psu-id`) from `psu_ip_address`
    /// (`x-psu-ip-address`); start it with
    /// [`Client::start_decoupled_consent`](crate::Client::start_decoupled_consent) and poll
    /// it. `redirect_uri` is where banks that fall back to a redirect send the customer.
    pub fn decoupled(
        provider_id: impl Into<String>,
        redirect_uri: impl Into<String>,
        psu_id: impl Into<String>,
        psu_ip_address: impl Into<String>,
    ) -> Self {
        let request = ConsentRequest {
            decoupled: true,
            ..ConsentRequest::provider(provider_id, redirect_uri)
        };
        request
            .header("x-psu-id", psu_id.into())
            .header("x-psu-ip-address", psu_ip_address.into())
    }

    /// `x-psu-type`: `retail` or `corporate`.
    #[must_use]
    pub fn psu_type(self, psu_type: impl Into<String>) -> Self {
        self.header("x-psu-type", psu_type.into())
    }

    /// `x-country`: the banks of this country (ISO 3166, `FR`).
    #[must_use]
    pub fn country(self, country: impl Into<String>) -> Self {
        self.header("x-country", country.into())
    }

    /// `x-language`: the pages' language (`fr`, `en`).
    #[must_use]
    pub fn language(self, language: impl Into<String>) -> Self {
        self.header("x-language", language.into())
    }

    /// `x-provider`: the hosted picker opened on this bank.
    #[must_use]
    pub fn preselect(self, provider_id: impl Into<String>) -> Self {
        self.header("x-provider", provider_id.into())
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A consent started: send the customer to [`url`](Self::url), and keep
/// [`state`](Self::state) in their session for
/// [`Client::complete_consent`](crate::Client::complete_consent). `Debug` shows the URL
/// without its query (it may carry the state) and never the state.
pub struct ConsentStart {
    pub(crate) url: String,
    pub(crate) session_id: Option<String>,
    pub(crate) state: ConsentState,
}

impl ConsentStart {
    /// Where the customer consents (redirect their browser there).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The service's session id, when it gives one.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The `state` to keep in the customer's session.
    pub fn state(&self) -> &ConsentState {
        &self.state
    }
}

impl fmt::Debug for ConsentStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (url, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        f.debug_struct("ConsentStart")
            .field("url", &url)
            .field("query", &(!query.is_empty()).then_some("[REDACTED]"))
            .field("session_id", &self.session_id)
            .field("state", &self.state)
            .finish()
    }
}

/// A decoupled consent started: the customer consents in their bank's app; poll it with
/// [`Client::poll_decoupled_consent`](crate::Client::poll_decoupled_consent) until it ends.
#[derive(Debug)]
pub struct DecoupledConsent {
    pub(crate) provider: String,
    pub(crate) polling_id: String,
    pub(crate) state: ConsentState,
}

impl DecoupledConsent {
    /// The id the service polls this consent by.
    pub fn polling_id(&self) -> &str {
        &self.polling_id
    }
}

/// Where a decoupled consent stands.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConsentProgress {
    /// The customer has not answered in their bank's app yet: poll again later.
    Pending,
    /// The customer consented: their client, whose grant is kept.
    Done(crate::Client),
}
