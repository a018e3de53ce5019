//! The two token endpoints of the Fintecture OAuth API, declared with the endpoint macro,
//! and the typed grants they take.
//!
//! The wire format is the real service's (Fintecture's SDKs and docs), which differs from
//! the OpenAPI spec in places; the README lists the differences.

use crate::api;
use crate::client::Client;
use crate::error::{BuildError, Error};
use crate::scope::Scope;
use crate::secret::{AuthorizationCode, RefreshToken, expose};
use crate::token::AccessToken;
use crate::token_manager::endpoint::TokenEndpoint;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::fmt;

/// The token endpoints, checked against the OAuth document at compile time (feature `spec`).
#[cfg_attr(feature = "spec", api(spec = "../spec/fintecture-oauth.openapi.yaml"))]
#[cfg_attr(not(feature = "spec"), api)]
pub trait OAuth {
    /// `POST /oauth/accesstoken`: a token for the client-credentials grant (PIS and the other
    /// scopes) or the authorization-code grant (AIS).
    #[endpoint(post = "/oauth/accesstoken", form, auth = client)]
    async fn create_access_token(
        &self,
        #[body] grant: &AccessTokenGrant,
    ) -> Result<AccessToken, Error>;

    /// `POST /oauth/refreshtoken`: a new token from a refresh token. The service invalidates
    /// the previous one.
    #[endpoint(post = "/oauth/refreshtoken", form, auth = client)]
    async fn create_refresh_token(
        &self,
        #[body] grant: &RefreshTokenGrant,
    ) -> Result<AccessToken, Error>;
}

/// The body of `POST /oauth/accesstoken`. Each variant holds exactly what its grant needs,
/// so an authorization-code request without a code cannot be built.
#[derive(Clone)]
#[non_exhaustive]
pub enum AccessTokenGrant {
    /// `grant_type=client_credentials&app_id=…&scope=…`.
    ClientCredentials {
        /// The app id.
        app_id: String,
        /// The scope asked for.
        scope: Scope,
    },
    /// `grant_type=authorization_code&code=…&scope=AIS[&redirect_uri=…]`.
    AuthorizationCode {
        /// The code from the redirect to the app.
        code: AuthorizationCode,
        /// The redirect URI, sent only when given.
        redirect_uri: Option<String>,
    },
}

impl AccessTokenGrant {
    /// A client-credentials grant.
    pub fn client_credentials(app_id: impl Into<String>, scope: Scope) -> Self {
        AccessTokenGrant::ClientCredentials {
            app_id: app_id.into(),
            scope,
        }
    }

    /// An authorization-code grant (AIS).
    pub fn authorization_code(code: AuthorizationCode, redirect_uri: Option<String>) -> Self {
        AccessTokenGrant::AuthorizationCode { code, redirect_uri }
    }

    /// The `grant_type` this sends.
    pub fn grant_type(&self) -> &'static str {
        match self {
            AccessTokenGrant::ClientCredentials { .. } => "client_credentials",
            AccessTokenGrant::AuthorizationCode { .. } => "authorization_code",
        }
    }
}

impl Serialize for AccessTokenGrant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AccessTokenGrant::ClientCredentials { app_id, scope } => {
                let mut form = serializer.serialize_struct("AccessTokenGrant", 3)?;
                form.serialize_field("grant_type", self.grant_type())?;
                form.serialize_field("app_id", app_id)?;
                form.serialize_field("scope", scope)?;
                form.end()
            }
            AccessTokenGrant::AuthorizationCode { code, redirect_uri } => {
                let mut form = serializer.serialize_struct("AccessTokenGrant", 4)?;
                form.serialize_field("grant_type", self.grant_type())?;
                form.serialize_field("code", &Exposed(code.expose_secret()))?;
                form.serialize_field("scope", &Scope::Ais)?;
                if let Some(redirect_uri) = redirect_uri {
                    form.serialize_field("redirect_uri", redirect_uri)?;
                }
                form.end()
            }
        }
    }
}

impl fmt::Debug for AccessTokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessTokenGrant::ClientCredentials { app_id, scope } => f
                .debug_struct("ClientCredentials")
                .field("app_id", app_id)
                .field("scope", scope)
                .finish(),
            AccessTokenGrant::AuthorizationCode { code, redirect_uri } => f
                .debug_struct("AuthorizationCode")
                .field("code", code)
                .field("redirect_uri", redirect_uri)
                .finish(),
        }
    }
}

/// The body of `POST /oauth/refreshtoken`: `grant_type=refresh_token&refresh_token=…`.
#[derive(Clone, Debug)]
pub struct RefreshTokenGrant {
    /// The refresh token of the last token issued.
    pub refresh_token: RefreshToken,
}

impl RefreshTokenGrant {
    /// A refresh grant.
    pub fn new(refresh_token: RefreshToken) -> Self {
        RefreshTokenGrant { refresh_token }
    }
}

impl Serialize for RefreshTokenGrant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut form = serializer.serialize_struct("RefreshTokenGrant", 2)?;
        form.serialize_field("grant_type", "refresh_token")?;
        form.serialize_field(
            "refresh_token",
            &Exposed(self.refresh_token.expose_secret()),
        )?;
        form.end()
    }
}

/// A secret's text for the form encoder, and nowhere else.
struct Exposed<'a>(&'a str);

impl Serialize for Exposed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        expose(self.0, serializer)
    }
}

/// The typed token calls, for when the token manager is not what you want.
impl Client {
    /// A client-credentials token for `scope` (PIS, customer, e-mandate, OAC, ...), with the
    /// app id of the configured credentials. Unlike declared endpoints, which get their
    /// tokens from the token manager, this always makes a request.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), fintecture_oauth::Error> {
    /// use fintecture_oauth::{Client, Credentials, Environment, ExposeSecret, Scope};
    ///
    /// let client = Client::builder(Environment::Sandbox)
    ///     .credentials(Credentials::new("my-app-id", "my-app-secret"))
    ///     .build()?;
    /// let token = client.client_credentials_token(Scope::Pis).await?;
    /// println!("valid for {} s", token.expires_in);
    /// let header = format!("Bearer {}", token.access_token.expose_secret());
    /// # let _ = header; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`BuildError::NoCredentials`] without credentials; otherwise as
    /// [`Client::execute`] (an [`Error::Api`] for refused credentials or scope) and
    /// [`Error::Decode`] for a body that is not a token.
    pub async fn client_credentials_token(&self, scope: Scope) -> Result<AccessToken, Error> {
        self.create_access_token(&self.client_credentials_grant(scope)?)
            .await
    }

    /// The client-credentials grant of the configured app.
    fn client_credentials_grant(&self, scope: Scope) -> Result<AccessTokenGrant, Error> {
        let credentials = self
            .credentials()
            .ok_or(Error::Build(BuildError::NoCredentials {
                endpoint: "OAuth::create_access_token",
            }))?;
        Ok(AccessTokenGrant::client_credentials(
            credentials.app_id(),
            scope,
        ))
    }

    /// Exchanges an authorization code (AIS) for a token. Give `redirect_uri` only if the
    /// authorization request had one. To keep a customer's token and refresh it as needed,
    /// use `client.customer(id).authorize(code, redirect_uri)` instead.
    ///
    /// # Errors
    /// [`Error::CodeRejected`] for a code the token endpoint refuses (`invalid_grant`:
    /// unknown, expired or already used); otherwise as [`Client::execute`], with
    /// [`Error::Decode`] for a body that is not a token.
    pub async fn exchange_code(
        &self,
        code: AuthorizationCode,
        redirect_uri: Option<String>,
    ) -> Result<AccessToken, Error> {
        let grant = AccessTokenGrant::authorization_code(code, redirect_uri);
        self.create_access_token(&grant)
            .await
            .map_err(|error| match error {
                Error::Api(api) if api.code() == Some("invalid_grant") => Error::CodeRejected(api),
                other => other,
            })
    }

    /// Refreshes a token. The service invalidates `refresh_token`: keep the returned token's
    /// refresh token (or this one, if it returned none).
    ///
    /// # Errors
    /// As [`Client::execute`]: an [`Error::Api`] with code `invalid_grant` for a refresh
    /// token that is unknown or was already used (the customer must consent again);
    /// [`Error::Decode`] for a body that is not a token.
    pub async fn refresh(&self, refresh_token: RefreshToken) -> Result<AccessToken, Error> {
        self.create_refresh_token(&RefreshTokenGrant::new(refresh_token))
            .await
    }
}

/// The token manager's way to the token endpoints: the requests the macro builds, sent
/// without the bearer-token layer (these endpoints authenticate the app, not a grant), so a
/// renewal never calls back into the manager.
impl TokenEndpoint for Client {
    async fn client_credentials(&self, scope: Scope) -> Result<AccessToken, Error> {
        let grant = self.client_credentials_grant(scope)?;
        let request = OAuthRequests::create_access_token(self, &grant)?;
        self.send(request, None).await?.json()
    }

    async fn refresh(&self, refresh_token: RefreshToken) -> Result<AccessToken, Error> {
        let request =
            OAuthRequests::create_refresh_token(self, &RefreshTokenGrant::new(refresh_token))?;
        self.send(request, None).await?.json()
    }
}
