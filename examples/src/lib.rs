//! Fintecture endpoints declared with the macro, shared by the runnable examples in
//! `examples/` (run one with `cargo run --example NAME`).
//!
//! This is what declaring the rest of the Fintecture API looks like: one trait, one
//! attribute per endpoint, serde types for the bodies.

pub mod merchant;

use fintecture_oauth::{Error, api};
use serde::{Deserialize, Serialize};

/// The query of `POST /pis/v2/connect`.
#[derive(Debug, Serialize)]
pub struct ConnectQuery<'a> {
    /// Echoed back on the redirect, to tie it to your session.
    pub state: &'a str,
    /// Where the payer is sent back.
    pub redirect_uri: &'a str,
}

/// The body of `POST /pis/v2/connect`: `{"meta": {...}, "data": {"type": "PIS",
/// "attributes": {...}}}` (the fields Fintecture needs; trimmed).
#[derive(Debug, Serialize)]
pub struct Connect {
    /// Who pays.
    pub meta: Payer,
    /// What is paid.
    pub data: ConnectData,
}

/// The payer (`meta` of a connect request).
#[derive(Debug, Serialize)]
pub struct Payer {
    /// Their name.
    pub psu_name: String,
    /// Their e-mail address.
    pub psu_email: String,
}

/// The `data` of a connect request.
#[derive(Debug, Serialize)]
pub struct ConnectData {
    /// `PIS`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The payment.
    pub attributes: PaymentAttributes,
}

/// What is paid, to whom, why.
#[derive(Debug, Serialize)]
pub struct PaymentAttributes {
    /// The amount, as a decimal string (`"12.50"`).
    pub amount: String,
    /// The ISO 4217 currency.
    pub currency: String,
    /// The remittance information shown to the payer.
    pub communication: String,
}

/// The answer of `POST /pis/v2/connect`.
#[derive(Debug, Deserialize)]
pub struct Session {
    /// The session's `meta`.
    pub meta: SessionMeta,
}

/// Identifies a payment session.
#[derive(Debug, Deserialize)]
pub struct SessionMeta {
    /// The session id.
    pub session_id: String,
    /// Where to send the payer.
    #[serde(default)]
    pub url: Option<String>,
    /// The payment status, on reads.
    #[serde(default)]
    pub status: Option<String>,
}

/// Payment initiation (PIS): bearer tokens of scope `PIS`, fetched and cached for you.
/// Checked against Fintecture's PIS document at compile time.
#[api(spec = "../../fintecture-oauth/spec/fintecture-pis.openapi.yaml")]
pub trait Pis {
    /// Creates a payment session and returns where to send the payer.
    #[endpoint(post = "/pis/v2/connect", json, scope = "PIS")]
    async fn connect(
        &self,
        #[query] query: &ConnectQuery<'_>,
        #[body] body: &Connect,
    ) -> Result<Session, Error>;

    /// Reads a payment session.
    #[endpoint(get = "/pis/v2/payments/{payment_id}", scope = "PIS")]
    async fn payment(&self, payment_id: &str) -> Result<Session, Error>;
}

/// Account information (AIS): bearer tokens of scope `AIS`, from an authorization code.
#[api(spec = "../../fintecture-oauth/spec/fintecture-ais.openapi.yaml")]
pub trait Ais {
    /// The customer's accounts.
    #[endpoint(get = "/ais/v1/customer/{customer_id}/accounts", scope = "AIS")]
    async fn accounts(&self, customer_id: &str) -> Result<serde_json::Value, Error>;
}

/// A payment of `amount` EUR, for the examples.
pub fn payment(amount: &str, communication: &str) -> Connect {
    Connect {
        meta: Payer {
            psu_name: "Julie Martin".into(),
            psu_email: "julie@example.com".into(),
        },
        data: ConnectData {
            kind: "PIS",
            attributes: PaymentAttributes {
                amount: amount.into(),
                currency: "EUR".into(),
                communication: communication.into(),
            },
        },
    }
}

/// The environment named by `FINTECTURE_BASE_URL` (wins) or `FINTECTURE_ENV`
/// (`sandbox`, the default, or `production`).
pub fn environment_from_env() -> Result<fintecture_oauth::Environment, String> {
    use fintecture_oauth::Environment;
    if let Ok(base_url) = std::env::var("FINTECTURE_BASE_URL") {
        let url = base_url
            .parse()
            .map_err(|e| format!("FINTECTURE_BASE_URL is not a URL: {e}"))?;
        return Ok(Environment::Custom(url));
    }
    match std::env::var("FINTECTURE_ENV").as_deref() {
        Err(_) | Ok("sandbox") => Ok(Environment::Sandbox),
        Ok("production") => Ok(Environment::Production),
        Ok(other) => Err(format!(
            "FINTECTURE_ENV must be sandbox or production, not `{other}`"
        )),
    }
}

/// The credentials in `FINTECTURE_APP_ID` and `FINTECTURE_APP_SECRET`, if both are set.
pub fn credentials_from_env() -> Option<fintecture_oauth::Credentials> {
    let app_id = std::env::var("FINTECTURE_APP_ID")
        .ok()
        .filter(|v| !v.is_empty())?;
    let app_secret = std::env::var("FINTECTURE_APP_SECRET")
        .ok()
        .filter(|v| !v.is_empty())?;
    Some(fintecture_oauth::Credentials::new(app_id, app_secret))
}
