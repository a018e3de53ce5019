//! Getting a token: the request to the token endpoint a renewal makes, and turning what
//! comes back (or what a store holds) into a token in use, its lifetime bounded.

use crate::error::Error;
use crate::scope::Scope;
use crate::secret::RefreshToken;
use crate::token::AccessToken;
use crate::token_manager::cached::{TOKEN_ENDPOINT, Token, bearer_header};
use crate::token_manager::endpoint::{TokenEndpoint, is_terminal};
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::Slot;
use crate::token_manager::window::MAX_TOKEN_LIFETIME;
use crate::token_store::{Grant, TokenRecord};
use http::HeaderValue;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::time::Instant;

/// What a renewal starts from: the newest version known, and its refresh token.
pub(crate) struct Base {
    pub(crate) version: u64,
    pub(crate) refresh_token: Option<RefreshToken>,
}

impl Base {
    pub(crate) fn of(token: Option<&Token>) -> Base {
        Base {
            version: token.map_or(0, |t| t.version),
            refresh_token: token.and_then(|t| t.refresh_token.clone()),
        }
    }

    /// The newer of the token in use and the store's record.
    pub(crate) fn newest(token: Option<&Token>, record: Option<&TokenRecord>) -> Base {
        let mine = Base::of(token);
        match record {
            Some(record) if record.version >= mine.version => Base {
                version: record.version,
                refresh_token: record.refresh_token.clone().or(mine.refresh_token),
            },
            _ => mine,
        }
    }
}

/// What a token is made of, before its refresh times are worked out.
struct Parts {
    header: HeaderValue,
    issued_wall: SystemTime,
    expires_wall: SystemTime,
    expires_at: Option<Instant>,
    refresh_token: Option<RefreshToken>,
    version: u64,
}

impl TokenManager {
    /// A request to the token endpoint: the refresh token if there is one, else client
    /// credentials for an app grant; a dead or missing customer grant is `Reauthorize`.
    pub(crate) async fn fetch<E: TokenEndpoint>(
        &self,
        endpoint: &E,
        slot: &Slot,
        base: &Base,
    ) -> Result<Token, Error> {
        let sent_at = Instant::now();
        let sent_wall = self.clock.now();
        let reauthorize = |source: Option<Arc<Error>>| Error::Reauthorize {
            scope: slot.scope().to_owned(),
            customer: slot.customer_id().map(str::to_owned),
            source,
        };
        let fetched = match (&slot.grant, &base.refresh_token) {
            (_, Some(refresh_token)) => match endpoint.refresh(refresh_token.clone()).await {
                Err(error) if is_terminal(&error) => {
                    if self.store.is_none() {
                        self.slots.bury(slot);
                    }
                    return Err(reauthorize(Some(Arc::new(error))));
                }
                other => other?,
            },
            (Grant::App { scope }, None) => {
                let scope: Scope = scope.parse().unwrap_or_else(|never| match never {});
                endpoint.client_credentials(scope).await?
            }
            (Grant::Customer { .. }, None) => {
                self.slots.bury(slot);
                return Err(reauthorize(None));
            }
        };
        self.fetched(
            &fetched,
            sent_at,
            sent_wall,
            base.version,
            base.refresh_token.clone(),
        )
    }

    /// A token received from the token endpoint, its lifetime bounded and counted from when
    /// the request was sent.
    pub(crate) fn fetched(
        &self,
        fetched: &AccessToken,
        sent_at: Instant,
        sent_wall: SystemTime,
        previous_version: u64,
        previous_refresh: Option<RefreshToken>,
    ) -> Result<Token, Error> {
        let lifetime = fetched.lifetime().min(MAX_TOKEN_LIFETIME);
        let expires_wall = sent_wall.checked_add(lifetime).ok_or(Error::Protocol {
            endpoint: TOKEN_ENDPOINT,
            problem: "a token whose expiry is past the end of time",
        })?;
        let header = bearer_header(fetched.access_token.expose_secret())?;
        self.scheduled(Parts {
            header,
            issued_wall: sent_wall,
            expires_wall,
            expires_at: sent_at.checked_add(lifetime),
            // The service invalidates the old refresh token when it sends a new one; when it
            // sends none, the old one is still the one to use.
            refresh_token: fetched.refresh_token.clone().or(previous_refresh),
            version: previous_version.saturating_add(1),
        })
    }

    /// A record from the store as a token in use, if it is valid and still fresh.
    pub(crate) fn adopt(&self, record: &TokenRecord) -> Option<Token> {
        let remaining = record
            .expires_at
            .duration_since(self.clock.now())
            .ok()?
            .min(MAX_TOKEN_LIFETIME);
        let header = bearer_header(record.access_token.expose_secret()).ok()?;
        let token = self
            .scheduled(Parts {
                header,
                issued_wall: record.issued_at,
                expires_wall: record.expires_at,
                expires_at: Instant::now().checked_add(remaining),
                refresh_token: record.refresh_token.clone(),
                version: record.version,
            })
            .ok()?;
        (Instant::now() < token.valid_until).then_some(token)
    }

    /// The token, with when it stops being handed out and when it is renewed worked out.
    fn scheduled(&self, parts: Parts) -> Result<Token, Error> {
        let expires_at = parts.expires_at.ok_or(Error::Protocol {
            endpoint: TOKEN_ENDPOINT,
            problem: "a token whose expiry is past the end of time",
        })?;
        let lifetime = parts
            .expires_wall
            .duration_since(parts.issued_wall)
            .unwrap_or_default()
            .min(MAX_TOKEN_LIFETIME);
        let (valid_until, refresh_at) = self.schedule.times(expires_at, lifetime);
        Ok(Token {
            header: parts.header,
            expires_at,
            valid_until,
            refresh_at,
            issued_wall: parts.issued_wall,
            expires_wall: parts.expires_wall,
            refresh_token: parts.refresh_token,
            version: parts.version,
        })
    }
}
