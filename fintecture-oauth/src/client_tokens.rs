//! The client's token methods: its tokens from the token manager, a customer's
//! authorization and disconnection, and which grant a call needs.

use crate::client::Client;
use crate::error::{BuildError, Error};
use crate::scope::Scope;
use crate::secret::AuthorizationCode;
use crate::token::AccessToken;
use crate::token_manager::cached::CachedToken;
use crate::token_manager::manager::TokenManager;
use crate::token_manager::slots::GrantRef;
use std::sync::Arc;
use tokio::time::Instant;

/// Cached tokens on the client.
impl Client {
    /// A bearer token for `scope`: from the cache while it is valid, else fetched once
    /// however many callers ask at the same time. `Scope::Ais` is a customer's token: call
    /// it on [`Client::customer`].
    ///
    /// # Errors
    /// When the client has no credentials, an AIS token is asked of a client bound to no
    /// customer, the token request fails, or the grant is dead ([`Error::Reauthorize`]).
    pub async fn access_token(&self, scope: &Scope) -> Result<CachedToken, Error> {
        // Borrowed for the named scopes: a cached read allocates nothing.
        let scope = scope.as_str();
        let (manager, grant) = self
            .grant(&scope)
            .map_err(|missing| missing.error("Client::access_token"))?;
        manager.token(self, grant).await
    }

    /// The cached token for `scope` if it is valid; never any I/O, never a lock: what
    /// every declared bearer call reads first. Starts its renewal in the background once it
    /// is due (when called on a tokio runtime).
    pub fn cached_access_token(&self, scope: &Scope) -> Option<CachedToken> {
        let scope = scope.as_str();
        let (manager, grant) = self.grant(&scope).ok()?;
        manager.hot(self, grant)
    }

    /// Exchanges the authorization code from the redirect to your app, checks the token is
    /// this customer's (the service must take it for their accounts: a code bought by
    /// another customer never replaces this one's grant), and keeps the customer's token
    /// and refresh token, so that `scope = "AIS"` endpoints called on this client get them
    /// and renew them (with rotation). Call it on the customer's client:
    /// `client.customer(customer_id).authorize(code, None)`; from a redirect,
    /// [`Client::complete_consent`] also checks the `state` first.
    ///
    /// # Errors
    /// When the client has no credentials or is bound to no customer; the exchange fails
    /// ([`Error::CodeRejected`]: a code works once); the token is not this customer's
    /// ([`ConsentError::WrongCustomer`](crate::ConsentError), nothing kept, their grant
    /// untouched); the check fails otherwise (the code is spent then); or the token store
    /// fails.
    pub async fn authorize(
        &self,
        code: AuthorizationCode,
        redirect_uri: Option<String>,
    ) -> Result<AccessToken, Error> {
        let exchanged = self.exchange_for_customer(code, redirect_uri).await?;
        self.keep_exchanged(exchanged).await
    }

    /// The first half of [`authorize`](Self::authorize): the code exchanged (the code is
    /// spent once this succeeds, and perhaps when it fails).
    pub(crate) async fn exchange_for_customer(
        &self,
        code: AuthorizationCode,
        redirect_uri: Option<String>,
    ) -> Result<Exchanged, Error> {
        let (manager, _) = self.customer_grant("Client::authorize")?;
        let sent_at = Instant::now();
        let sent_wall = manager.clock().now();
        let token = self.exchange_code(code, redirect_uri).await?;
        Ok(Exchanged {
            token,
            sent_at,
            sent_wall,
        })
    }

    /// The second half of [`authorize`](Self::authorize): the token checked to be the
    /// customer's, then kept.
    pub(crate) async fn keep_exchanged(&self, exchanged: Exchanged) -> Result<AccessToken, Error> {
        let (manager, customer_id) = self.customer_grant("Client::authorize")?;
        let Exchanged {
            token,
            sent_at,
            sent_wall,
        } = exchanged;
        self.check_owner(customer_id, &token).await?;
        manager
            .authorized(customer_id, &token, sent_at, sent_wall)
            .await?;
        Ok(token)
    }

    /// Forgets the customer's grant (the customer disconnected), here and in the token
    /// store: their calls then fail with [`Error::Reauthorize`] until they authorize again.
    ///
    /// # Errors
    /// When the client is bound to no customer, or the token store fails.
    pub async fn disconnect(&self) -> Result<(), Error> {
        let (manager, customer_id) = self.customer_grant("Client::disconnect")?;
        manager.disconnect(customer_id).await
    }

    /// How many customer grants this client's token manager holds.
    pub fn cached_customers(&self) -> usize {
        self.token_manager()
            .map_or(0, |m| m.slots().customer_count())
    }

    /// The manager, and the grant whose token `scope` needs on this client: the bound
    /// customer's for AIS, the app's otherwise. What is missing is a small value, turned
    /// into an error naming the endpoint only when it happens (the hot path stays light).
    pub(crate) fn grant<'a>(
        &'a self,
        scope: &'a str,
    ) -> Result<(&'a Arc<TokenManager>, GrantRef<'a>), Missing> {
        let manager = self.token_manager().ok_or(Missing::Credentials)?;
        if scope.eq_ignore_ascii_case("AIS") {
            let customer_id = self.customer_id().ok_or(Missing::Customer)?;
            return Ok((manager, GrantRef::Customer(customer_id)));
        }
        Ok((manager, GrantRef::App(scope)))
    }

    pub(crate) fn customer_grant(
        &self,
        endpoint: &'static str,
    ) -> Result<(&Arc<TokenManager>, &str), Error> {
        match self.grant("AIS") {
            Ok((manager, GrantRef::Customer(customer_id))) => Ok((manager, customer_id)),
            Ok((_, GrantRef::App(_))) | Err(Missing::Customer) => {
                Err(Missing::Customer.error(endpoint))
            }
            Err(missing) => Err(missing.error(endpoint)),
        }
    }
}

/// A customer's token just bought with a code, and when it was asked for (its lifetime
/// counts from then).
pub(crate) struct Exchanged {
    token: AccessToken,
    sent_at: Instant,
    sent_wall: std::time::SystemTime,
}

/// What a client lacks to get the token a call needs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Missing {
    Credentials,
    Customer,
}

impl Missing {
    pub(crate) fn error(self, endpoint: &'static str) -> Error {
        Error::Build(match self {
            Missing::Credentials => BuildError::NoCredentials { endpoint },
            Missing::Customer => BuildError::NoCustomer { endpoint },
        })
    }
}
