//! The consent leg of the OAuth flow (AIS), on the client: starting a consent (the URL the
//! customer goes to, and a fresh `state` to keep in their session), and completing it from
//! the redirect back (the state checked and used up, the code exchanged, the token checked
//! to be the customer's, then kept).

use crate::ais_consent::{AisConsent as _, AisConsentRequests, ConsentAnswer, ConsentQuery};
use crate::client::Client;
use crate::consent_error::ConsentError;
use crate::consent_request::{
    CONSENT_LIFETIME, ConsentProgress, ConsentRequest, ConsentStart, DecoupledConsent,
};
use crate::consent_state::ConsentState;
use crate::error::{BuildError, Error, one_line};
use crate::secret::AuthorizationCode;
use crate::token::AccessToken;
use crate::token_manager::cached::bearer_header;
use crate::token_manager::lease::store_error;
use http::{HeaderName, HeaderValue, StatusCode};
use secrecy::ExposeSecret as _;
use std::sync::Arc;

/// The most characters of the redirect's `error` or `error_description` an error quotes.
const QUOTED: usize = 200;

impl Client {
    /// Starts a customer's consent: a fresh `state` (256 random bits), kept in the token
    /// store for [`CONSENT_LIFETIME`] (so the redirect may come back to any replica that
    /// shares it; in memory without a store), and the consent URL from the service, asked
    /// with the app's `app_id` (signed in production, like every call).
    ///
    /// # Errors
    /// Without credentials ([`BuildError::NoCredentials`](crate::BuildError)); when the
    /// token store cannot keep the state ([`Error::Store`]); when the service refuses
    /// ([`Error::Api`], with each bad parameter in
    /// [`ErrorDetail::parameter`](crate::ErrorDetail::parameter)) or answers no URL
    /// ([`Error::Protocol`]; a decoupled request answers none); [`Error::Config`] when the
    /// operating system gives no randomness.
    pub async fn start_consent(&self, consent: &ConsentRequest) -> Result<ConsentStart, Error> {
        let (state, answer, endpoint) = self.begin(consent).await?;
        let url = answer
            .meta
            .url
            .filter(|url| {
                url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
            })
            .ok_or(Error::Protocol {
                endpoint,
                problem: "a consent answer without an http(s) meta.url",
            })?;
        Ok(ConsentStart {
            url,
            session_id: answer.meta.session_id,
            state,
        })
    }

    /// Starts a decoupled consent ([`ConsentRequest::decoupled`]): the customer answers in
    /// their bank's app, and [`poll_decoupled_consent`](Self::poll_decoupled_consent)
    /// follows it. Its `state` is kept as [`start_consent`](Self::start_consent) keeps it.
    ///
    /// # Errors
    /// As [`start_consent`](Self::start_consent); [`Error::Protocol`] when the service
    /// answers no polling id (a request that is not decoupled).
    pub async fn start_decoupled_consent(
        &self,
        consent: &ConsentRequest,
    ) -> Result<DecoupledConsent, Error> {
        let (state, answer, endpoint) = self.begin(consent).await?;
        let polling_id = answer.meta.polling_id.filter(|id| !id.is_empty());
        match (&consent.provider, polling_id) {
            (Some(provider), Some(polling_id)) => Ok(DecoupledConsent {
                provider: provider.clone(),
                polling_id,
                state,
            }),
            _ => Err(Error::Protocol {
                endpoint,
                problem: "a decoupled consent answer without meta.polling_id",
            }),
        }
    }

    /// Where a decoupled consent stands: pending, or done (its state used up, the code
    /// exchanged and checked as [`complete_consent`](Self::complete_consent) does, the
    /// customer's client returned).
    ///
    /// # Errors
    /// [`ConsentError::Refused`] when the customer refused or the bank failed;
    /// [`ConsentError::StateUsed`] when it was completed already or expired; otherwise as
    /// [`complete_consent`](Self::complete_consent).
    pub async fn poll_decoupled_consent(
        &self,
        consent: &DecoupledConsent,
    ) -> Result<ConsentProgress, Error> {
        let answer = self
            .ais_decoupled(&consent.provider, &consent.polling_id)
            .await?;
        let meta = answer.meta;
        let finished = match meta.status.as_deref() {
            Some("PENDING") => return Ok(ConsentProgress::Pending),
            Some("COMPLETED") => Ok((meta.code, meta.customer_id)),
            Some("FAILED") => Err(ConsentError::Refused {
                error: quoted(meta.error.as_deref().unwrap_or("failed")),
                description: meta.error_description.as_deref().map(quoted),
            }),
            _ => {
                return Err(Error::Protocol {
                    endpoint: "AisConsent::ais_decoupled",
                    problem: "a decoupled status other than PENDING, COMPLETED or FAILED",
                });
            }
        };
        self.use_state(&consent.state).await?;
        let (code, customer_id) = finished?;
        let code = code.ok_or(ConsentError::Incomplete("code"))?;
        let customer_id = customer_id.ok_or(ConsentError::Incomplete("customer_id"))?;
        let customer = self
            .keep_consent(&customer_id, &code, &consent.state)
            .await?;
        Ok(ConsentProgress::Done(customer))
    }

    /// Completes a consent from the `state` kept in the customer's session and the query
    /// of the redirect back to the app (`code=…&customer_id=…&state=…`, or `error=…`; the
    /// whole redirect URL or path will do too): the
    /// state is compared in constant time and used up (once across every client sharing
    /// the token store), the code exchanged, the token checked to be the customer's (their
    /// accounts read with it), and only then kept under their id. Returns the customer's
    /// client.
    ///
    /// # Errors
    /// [`Error::Consent`] for a state missing, wrong, used or expired (no token request is
    /// made), a consent refused (`error` in the redirect), a redirect without code or
    /// customer id, or a token that is not the customer's (nothing kept; their grant is
    /// untouched); [`Error::CodeRejected`] for a code used already or expired;
    /// [`Error::Store`] when the token store cannot be reached; what the token endpoint or
    /// the accounts read fail with otherwise. When the token endpoint could not be reached
    /// or answered 429 or 503, the code was not used and the state is kept again: the same
    /// redirect can be completed later. Otherwise the code is spent and the customer must
    /// consent again.
    pub async fn complete_consent(
        &self,
        kept: &ConsentState,
        redirect_query: &str,
    ) -> Result<Client, Error> {
        let query = Redirect::parse(redirect_query);
        let returned = query.field("state").filter(|state| !state.is_empty());
        let returned = returned.ok_or(ConsentError::MissingState)?;
        if !kept.matches(returned) {
            return Err(ConsentError::WrongState.into());
        }
        self.use_state(kept).await?;
        if let Some(error) = query.field("error") {
            return Err(ConsentError::Refused {
                error: quoted(error),
                description: query.field("error_description").map(quoted),
            }
            .into());
        }
        let code = query
            .field("code")
            .ok_or(ConsentError::Incomplete("code"))?;
        let customer_id = query
            .field("customer_id")
            .ok_or(ConsentError::Incomplete("customer_id"))?;
        self.keep_consent(customer_id, code, kept).await
    }

    /// A fresh state, kept; and the service's answer to the start request.
    async fn begin(
        &self,
        consent: &ConsentRequest,
    ) -> Result<(ConsentState, ConsentAnswer, &'static str), Error> {
        let state = ConsentState::generate()
            .map_err(|e| Error::Config(format!("no randomness for a consent state: {e}")))?;
        let query = ConsentQuery {
            response_type: consent.provider.as_ref().map(|_| "code"),
            redirect_uri: &consent.redirect_uri,
            state: state.expose_secret(),
            model: consent.decoupled.then_some("decoupled"),
        };
        let mut request = match &consent.provider {
            None => AisConsentRequests::ais_connect(self, &query)?,
            Some(provider) => AisConsentRequests::ais_authorize(self, provider, &query)?,
        };
        let endpoint = request.endpoint.name();
        for (name, value) in &consent.headers {
            let name = HeaderName::from_static(name);
            let value = HeaderValue::try_from(value.as_str()).map_err(|_| {
                Error::Build(BuildError::HeaderValue {
                    endpoint,
                    name: name.clone(),
                })
            })?;
            request.headers.insert(name, value);
        }
        self.consent_states()
            .keep_state(&self.state_name(&state), CONSENT_LIFETIME)
            .await
            .map_err(store_error)?;
        let answer: ConsentAnswer = self.execute(request).await?.json()?;
        Ok((state, answer, endpoint))
    }

    /// Uses up a kept state: once, across every client sharing the store.
    async fn use_state(&self, state: &ConsentState) -> Result<(), Error> {
        let name = self.state_name(state);
        let taken = self.consent_states().take_state(&name).await;
        if !taken.map_err(store_error)? {
            return Err(ConsentError::StateUsed.into());
        }
        Ok(())
    }

    /// Exchanges `code`, checks the token is `customer_id`'s, keeps it: the customer's
    /// client. When the code was surely not used (the token endpoint could not be reached,
    /// or asked to come back later), `state` is kept again, so that the same redirect can
    /// be completed once more (the customer reloading the page, say) instead of the
    /// customer consenting again at their bank.
    async fn keep_consent(
        &self,
        customer_id: &str,
        code: &str,
        state: &ConsentState,
    ) -> Result<Client, Error> {
        if customer_id.is_empty() {
            return Err(ConsentError::Incomplete("customer_id").into());
        }
        let customer = self.customer(customer_id);
        let code = AuthorizationCode::new(code.to_owned());
        let exchanged = match customer.exchange_for_customer(code, None).await {
            Ok(exchanged) => exchanged,
            Err(error) => {
                if code_unused(&error) {
                    self.give_back(state).await;
                }
                return Err(error);
            }
        };
        customer.keep_exchanged(exchanged).await?;
        Ok(customer)
    }

    /// Keeps a used state again, for another [`CONSENT_LIFETIME`]; if the store cannot,
    /// the redirect cannot be completed again, which is what the caller's error says.
    async fn give_back(&self, state: &ConsentState) {
        let kept = self
            .consent_states()
            .keep_state(&self.state_name(state), CONSENT_LIFETIME)
            .await;
        if let Err(error) = kept {
            tracing::warn!(error = %error, "could not keep a consent state again");
        }
    }

    /// Whether the service takes `token` for `customer_id`'s accounts: a token bought with
    /// another customer's code is refused (401 or 403).
    pub(crate) async fn check_owner(
        &self,
        customer_id: &str,
        token: &AccessToken,
    ) -> Result<(), Error> {
        let request = AisConsentRequests::ais_owner_check(self, customer_id)?;
        let bearer = bearer_header(token.access_token.expose_secret())?;
        match self.send(request, Some(bearer)).await {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.status(),
                    Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                ) =>
            {
                Err(ConsentError::WrongCustomer {
                    customer_id: customer_id.to_owned(),
                }
                .into())
            }
            Err(error) => Err(error),
        }
    }

    /// Where started consents' states are kept: the token store, or this client's memory.
    fn consent_states(&self) -> &Arc<dyn crate::token_store::TokenStore> {
        &self.inner.consent_states
    }

    /// The name a state is kept under: this environment's, this app's, its digest.
    fn state_name(&self, state: &ConsentState) -> String {
        let app_id = self
            .inner
            .credentials
            .as_ref()
            .map_or("", |credentials| credentials.app_id());
        state.store_name(&self.inner.base.url, app_id)
    }
}

/// Whether the token endpoint surely did not use the code: it was never reached, or it
/// refused to work on the request now (429, 503).
fn code_unused(error: &Error) -> bool {
    error.is_connect()
        || matches!(
            error,
            Error::Api(api) if matches!(api.status(), StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE)
        )
}

/// The redirect's query: the first value of each field.
struct Redirect(Vec<(String, String)>);

impl Redirect {
    /// From the query (`code=…&state=…`, with or without its `?`), or the whole redirect
    /// URL or path it ends (`https://shop.example/bank/callback?code=…`), which is what an
    /// app most easily has at hand; a fragment is no part of it.
    fn parse(redirect: &str) -> Redirect {
        let redirect = redirect
            .split_once('#')
            .map_or(redirect, |(before, _)| before);
        let whole = redirect.starts_with('/')
            || url::Url::parse(redirect).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
        let query = match redirect.split_once('?') {
            Some((_, query)) if whole => query,
            _ => redirect.strip_prefix('?').unwrap_or(redirect),
        };
        Redirect(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn field(&self, name: &str) -> Option<&str> {
        let value = self.0.iter().find(|(key, _)| key == name);
        value.map(|(_, value)| value.as_str())
    }
}

/// Untrusted text from the redirect, on one line and cut to [`QUOTED`] characters.
fn quoted(text: &str) -> String {
    one_line(text).chars().take(QUOTED).collect()
}
