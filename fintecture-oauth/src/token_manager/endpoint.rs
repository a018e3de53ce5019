//! The fetching side: what the token manager asks of the token endpoints, and which of
//! their errors mean the grant is dead.

use crate::error::Error;
use crate::scope::Scope;
use crate::secret::RefreshToken;
use crate::token::AccessToken;
use std::future::Future;

/// What the token manager asks of the token endpoints, and nothing more: renewals call
/// this, never a whole endpoint that could call back into the manager.
pub(crate) trait TokenEndpoint: Clone + Send + Sync + 'static {
    /// Requests a token with the app's client credentials.
    fn client_credentials(
        &self,
        scope: Scope,
    ) -> impl Future<Output = Result<AccessToken, Error>> + Send;

    /// Renews a token with its refresh token.
    fn refresh(
        &self,
        refresh_token: RefreshToken,
    ) -> impl Future<Output = Result<AccessToken, Error>> + Send;
}

/// Whether a refresh's error says the grant is dead: `invalid_grant` (in any of the places
/// a server puts it) or 401. Anything else may pass, and is retried.
pub(crate) fn is_terminal(error: &Error) -> bool {
    error.api().is_some_and(|api| {
        api.status() == http::StatusCode::UNAUTHORIZED
            || api.oauth_error() == Some("invalid_grant")
            || api.code() == Some("invalid_grant")
            || api
                .errors()
                .iter()
                .any(|e| e.code.as_deref() == Some("invalid_grant"))
    })
}
