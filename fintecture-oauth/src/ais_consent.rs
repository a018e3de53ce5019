//! The AIS endpoints around a customer's consent, declared with the macro: the two that
//! start one (the app names itself with `app_id`, no token, as Fintecture's SDKs do), and
//! the customer's accounts, read once with a new token to make sure it is that customer's.

use crate::api;
use crate::error::Error;
use crate::response::RawResponse;
use serde::{Deserialize, Serialize};

/// The consent endpoints.
#[cfg_attr(feature = "spec", api(spec = "../spec/fintecture-ais.openapi.yaml"))]
#[cfg_attr(not(feature = "spec"), api)]
#[expect(
    dead_code,
    reason = "the client sends these through their request builders, to add the optional \
              headers and, for the owner check, a token of its choosing"
)]
pub(crate) trait AisConsent {
    /// `GET /ais/v2/connect`: a session of Fintecture's hosted bank picker.
    #[endpoint(get = "/ais/v2/connect", auth = app)]
    async fn ais_connect(&self, #[query] query: &ConsentQuery<'_>) -> Result<ConsentAnswer, Error>;

    /// `GET /ais/v1/provider/{provider_id}/authorize`: a consent at a chosen bank.
    #[endpoint(get = "/ais/v1/provider/{provider_id}/authorize", auth = app)]
    async fn ais_authorize(
        &self,
        provider_id: &str,
        #[query] query: &ConsentQuery<'_>,
    ) -> Result<ConsentAnswer, Error>;

    /// `GET /ais/v1/provider/{provider_id}/authorize/decoupled/{polling_id}`: where a
    /// decoupled consent stands.
    #[endpoint(
        get = "/ais/v1/provider/{provider_id}/authorize/decoupled/{polling_id}",
        auth = app
    )]
    async fn ais_decoupled(
        &self,
        provider_id: &str,
        polling_id: &str,
    ) -> Result<ConsentAnswer, Error>;

    /// `GET /ais/v1/customer/{customer_id}/accounts`, sent with a token of the caller's
    /// choosing: whether the service takes it for this customer. Retried when no
    /// connection could be made: the code is spent by then, and a lost check loses the
    /// consent.
    #[endpoint(
        get = "/ais/v1/customer/{customer_id}/accounts",
        auth = bearer,
        retry = 2
    )]
    async fn ais_owner_check(&self, customer_id: &str) -> Result<RawResponse, Error>;
}

/// The query of both start endpoints.
#[derive(Serialize)]
pub(crate) struct ConsentQuery<'a> {
    /// `code`, which the chosen-provider endpoint takes, as the SDKs send it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response_type: Option<&'static str>,
    pub(crate) redirect_uri: &'a str,
    pub(crate) state: &'a str,
    /// `decoupled` for a consent in the customer's bank app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<&'static str>,
}

/// What the start and polling endpoints answer: `{"meta": {"url": …, "session_id": …}}`;
/// decoupled, `{"meta": {"status": "PENDING", "polling_id": …}}`, then `COMPLETED` with
/// `code` and `customer_id`, or `FAILED`.
#[derive(Deserialize)]
pub(crate) struct ConsentAnswer {
    pub(crate) meta: ConsentMeta,
}

/// The `meta` of a start answer.
#[derive(Deserialize)]
pub(crate) struct ConsentMeta {
    pub(crate) url: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) polling_id: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) customer_id: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}
