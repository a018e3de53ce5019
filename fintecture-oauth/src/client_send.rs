//! Sending a built request: the bearer token, signing, the timeout, retries, the body cap,
//! and the error a non-success status becomes.

use crate::client::Client;
use crate::error::{ApiError, BuildError, Error, transport_error};
use crate::request::{Auth, Request};
use crate::response::{RawResponse, read_capped};
use http::header::{AUTHORIZATION, HeaderValue, LOCATION};
use url::Url;

impl Client {
    /// Sends a built request: adds the bearer token if the endpoint needs one, applies the
    /// endpoint's timeout, refuses redirects, reads the body up to the cap, and turns a
    /// non-success status into [`Error::Api`].
    ///
    /// # Errors
    /// [`Error::Token`] or [`Error::Reauthorize`] when no bearer token can be had;
    /// [`Error::Connect`], [`Error::Transport`] or [`Error::Timeout`] when the exchange fails
    /// (after the endpoint's retries); [`Error::Redirect`] on a 3xx, [`Error::Api`] on any
    /// other non-success status; [`Error::BodyTooLarge`] past the body cap;
    /// [`Error::Sign`] when the request cannot be signed.
    pub async fn execute(&self, request: Request) -> Result<RawResponse, Error> {
        let Auth::Bearer { scope } = request.endpoint.auth else {
            return self.send(request, None).await;
        };
        if let Some(token) = &self.inner.bearer {
            return self.send(request, Some(token.clone())).await;
        }
        let endpoint = request.endpoint.name;
        if self.inner.tokens.is_none() {
            return Err(Error::Build(BuildError::NoBearer { endpoint }));
        }
        let scope = scope.unwrap_or(&self.inner.default_scope);
        let (manager, grant) = self
            .grant(scope)
            .map_err(|missing| missing.error(endpoint))?;
        let token = match manager.hot(self, grant) {
            Some(token) => token,
            None => manager.token(self, grant).await?,
        };
        // Kept for the one retry a 401 allows; the body is shared, not copied.
        let retry = request.clone();
        match self.send(request, Some(token.header.clone())).await {
            Err(error) if error.status() == Some(http::StatusCode::UNAUTHORIZED) => {
                manager.slots().invalidate(grant, token.version);
                let token = manager.token(self, grant).await?;
                self.send(retry, Some(token.header)).await
            }
            other => other,
        }
    }

    /// Sends, retrying as the endpoint allows; each attempt has a tracing span with the
    /// endpoint, method, path template, status and duration, never a header value, a URL
    /// parameter or a body.
    pub(crate) async fn send(
        &self,
        request: Request,
        bearer: Option<HeaderValue>,
    ) -> Result<RawResponse, Error> {
        let retries = request.endpoint.retries;
        if retries == 0 {
            return self.exchange(request, bearer).await;
        }
        let mut attempt = 0;
        loop {
            let result = self.exchange(request.clone(), bearer.clone()).await;
            let delay = match self.inner.retry.delay(&result, attempt) {
                Some(delay) if attempt < retries => delay,
                _ => return result,
            };
            attempt += 1;
            let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            tracing::debug!(
                endpoint = request.endpoint.name,
                attempt,
                delay_ms,
                "retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn exchange(
        &self,
        mut request: Request,
        bearer: Option<HeaderValue>,
    ) -> Result<RawResponse, Error> {
        let endpoint = request.endpoint;
        let span = tracing::debug_span!(
            "fintecture_request",
            endpoint = endpoint.name,
            method = %endpoint.method,
            path = endpoint.path,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let _timing = Timing {
            span: &span,
            // No clock reads when no subscriber wants the span.
            started: (!span.is_disabled()).then(std::time::Instant::now),
        };
        let url = Url::parse(&request.url).map_err(|_| {
            Error::Build(BuildError::Url {
                endpoint: endpoint.name,
            })
        })?;
        if let Some(signer) = &self.inner.signer
            && (endpoint.auth != Auth::Client || self.inner.sign_token_endpoints)
        {
            let body = request.body.as_deref();
            signer
                .sign(&endpoint.method, &url, body, &mut request.headers)
                .map_err(|source| Error::Sign {
                    endpoint: endpoint.name,
                    source,
                })?;
        }
        let mut outgoing = reqwest::Request::new(endpoint.method.clone(), url);
        *outgoing.headers_mut() = request.headers;
        if let Some(token) = bearer {
            outgoing.headers_mut().insert(AUTHORIZATION, token);
        }
        *outgoing.body_mut() = request.body.map(reqwest::Body::from);
        *outgoing.timeout_mut() = Some(endpoint.timeout.unwrap_or(self.inner.timeout));

        let mut response = self
            .inner
            .http
            .execute(outgoing)
            .await
            .map_err(|source| transport_error(endpoint.name, source))?;
        let status = response.status();
        span.record("status", status.as_u16());
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Err(Error::Redirect {
                endpoint: endpoint.name,
                status,
                location,
            });
        }
        let headers = std::mem::take(response.headers_mut());
        let limit = endpoint.max_body.unwrap_or(self.inner.max_body);
        let body = read_capped(endpoint.name, response, limit).await?;
        if !status.is_success() {
            return Err(Error::Api(Box::new(ApiError::from_response(
                endpoint.name,
                status,
                headers,
                body,
            ))));
        }
        Ok(RawResponse {
            status,
            headers,
            body,
            endpoint: endpoint.name,
        })
    }
}

/// Records a request span's duration however the attempt ends. The span is never entered:
/// it describes the request without wrapping its future (which would cost a copy of it).
struct Timing<'a> {
    span: &'a tracing::Span,
    started: Option<std::time::Instant>,
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.span.record("duration_ms", duration_ms);
        }
    }
}
