//! `POST /oauth/accesstoken` and `POST /oauth/refreshtoken`, as the real service answers.

use super::reply;
use super::state::{Grant, State, credentials_of};
use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::response::Response;
use base64::Engine as _;
use fintecture_oauth::ExposeSecret;
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// The client-credentials scopes the emulator grants (OAC sub-scopes contain `:`).
const CLIENT_CREDENTIALS_SCOPES: &[&str] = &["PIS", "customer", "e-mandate"];

type Form = Vec<(String, String)>;

fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn bad_request(state: &State, code: &str, message: &str) -> Response {
    reply::error(&state.ids, StatusCode::BAD_REQUEST, code, message)
}

/// Client authentication: Basic or the body's `client_id`/`client_secret`, never both.
fn authenticate(state: &State, headers: &HeaderMap, form: &Form) -> Result<(), Response> {
    let credentials = &state.config.credentials;
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| credentials_of(v, "Basic"));
    let body_id = field(form, "client_id");
    let body_secret = field(form, "client_secret");
    let unauthorized = || {
        reply::error(
            &state.ids,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        )
    };
    match (basic, body_id.or(body_secret)) {
        (Some(_), Some(_)) => Err(bad_request(
            state,
            "invalid_request",
            "Use one client authentication method, not both",
        )),
        (Some(encoded), None) => {
            let expected = format!(
                "{}:{}",
                credentials.app_id(),
                credentials.app_secret().expose_secret()
            );
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok();
            if decoded.as_deref() == Some(expected.as_bytes()) {
                Ok(())
            } else {
                Err(unauthorized())
            }
        }
        (None, Some(_)) => {
            let matches = body_id == Some(credentials.app_id())
                && body_secret == Some(credentials.app_secret().expose_secret());
            if matches { Ok(()) } else { Err(unauthorized()) }
        }
        (None, None) => Err(unauthorized()),
    }
}

fn parse_form(state: &State, headers: &HeaderMap, body: &Bytes) -> Result<Form, Response> {
    let form_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(bad_request(
            state,
            "invalid_request",
            "Expected an application/x-www-form-urlencoded body",
        ));
    }
    Ok(url::form_urlencoded::parse(body).into_owned().collect())
}

/// The form body of a token request whose client authentication checks out.
fn authenticated_form(state: &State, headers: &HeaderMap, body: &Bytes) -> Result<Form, Response> {
    let form = parse_form(state, headers, body)?;
    authenticate(state, headers, &form)?;
    Ok(form)
}

pub(super) async fn access_token(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match authenticated_form(&state, &headers, &body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    match field(&form, "grant_type") {
        Some("client_credentials") => {
            if let Some(app_id) = field(&form, "app_id")
                && app_id != state.config.credentials.app_id()
            {
                return reply::error(
                    &state.ids,
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Unknown app_id",
                );
            }
            let scope = field(&form, "scope").unwrap_or_default();
            let oac = scope.contains(':');
            if !oac && !CLIENT_CREDENTIALS_SCOPES.contains(&scope) {
                return bad_request(
                    &state,
                    "invalid_scope",
                    "Unsupported scope for client_credentials",
                );
            }
            let grant = Grant {
                scope: scope.to_owned(),
                customer_id: None,
            };
            // OAC tokens come with a refresh token; PIS and the others are re-requested.
            reply::json(StatusCode::OK, state.issue_token(grant, oac))
        }
        Some("authorization_code") => {
            if field(&form, "scope").is_some_and(|scope| scope != "AIS") {
                return bad_request(
                    &state,
                    "invalid_scope",
                    "authorization_code is for the AIS scope",
                );
            }
            let customer_id = field(&form, "code").and_then(|code| state.redeem_code(code));
            match customer_id {
                Some(customer_id) => {
                    let grant = Grant {
                        scope: "AIS".into(),
                        customer_id: Some(customer_id),
                    };
                    reply::json(StatusCode::OK, state.issue_token(grant, true))
                }
                None => bad_request(
                    &state,
                    "invalid_grant",
                    "The authorization code is invalid or was already used",
                ),
            }
        }
        Some(_) => bad_request(&state, "unsupported_grant_type", "Unsupported grant_type"),
        None => bad_request(&state, "invalid_request", "grant_type is required"),
    }
}

pub(super) async fn refresh_token(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match authenticated_form(&state, &headers, &body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    if field(&form, "grant_type") != Some("refresh_token") {
        return bad_request(
            &state,
            "unsupported_grant_type",
            "Expected grant_type=refresh_token",
        );
    }
    match field(&form, "refresh_token").and_then(|token| state.redeem_refresh_token(token)) {
        Some(grant) => reply::json(StatusCode::OK, state.issue_token(grant, true)),
        None => bad_request(
            &state,
            "invalid_grant",
            "The refresh token is invalid or was already used",
        ),
    }
}
