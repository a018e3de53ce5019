//! The consent leg of AIS: `GET /ais/v2/connect` (the hosted bank picker) and
//! `GET /ais/v1/provider/{provider_id}/authorize` (a chosen bank), the app named by its
//! `app_id` header and no token; the consent page they point at, which answers a browser
//! with a 302 to the app's `redirect_uri`; and the polling of a decoupled consent.

use super::consents::{NextConsent, Started};
use super::reply;
use super::state::State;
use axum::extract::{Path, RawQuery, State as Shared};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// Where the consent page lives, on the emulator itself.
pub(super) const CONSENT_PAGE: &str = "/__emulator/consent";

/// `GET /ais/v2/connect?redirect_uri=…&state=…`.
pub(super) async fn connect(
    Shared(state): Shared<Arc<State>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    start(&state, query.as_deref(), &headers, None)
}

/// `GET /ais/v1/provider/{provider_id}/authorize?response_type=code&redirect_uri=…&state=…`,
/// with `model=decoupled` for a consent on the customer's bank app, polled.
pub(super) async fn authorize(
    Shared(state): Shared<Arc<State>>,
    Path(provider_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    start(&state, query.as_deref(), &headers, Some(provider_id))
}

fn start(
    state: &State,
    query: Option<&str>,
    headers: &HeaderMap,
    provider: Option<String>,
) -> Response {
    if let Err(refused) = app(state, headers) {
        return refused;
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let field = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let redirect_uri = field("redirect_uri")
        .and_then(|uri| url::Url::parse(&uri).ok())
        .filter(|uri| matches!(uri.scheme(), "http" | "https"));
    let Some(redirect_uri) = redirect_uri else {
        return reply::parameter_errors(
            &state.ids,
            &[(
                "redirect_uri",
                "redirect_uri is required: an http(s) URL".into(),
            )],
        );
    };
    let id = state.ids.new_id("session");
    let decoupled = field("model").as_deref() == Some("decoupled");
    state.consents.start(
        &id,
        Started {
            redirect_uri,
            state: field("state"),
            provider,
        },
    );
    if decoupled {
        return reply::json(
            StatusCode::OK,
            serde_json::json!({ "meta": { "status": "PENDING", "polling_id": id, "session_id": id } }),
        );
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    let url = format!("http://{host}{CONSENT_PAGE}/{id}");
    reply::json(
        StatusCode::OK,
        serde_json::json!({ "meta": { "session_id": id, "url": url } }),
    )
}

/// `GET /ais/v1/provider/{provider_id}/authorize/decoupled/{polling_id}`: `PENDING` at the
/// first poll, then `COMPLETED` with the code and customer id (or `FAILED`).
pub(super) async fn decoupled(
    Shared(state): Shared<Arc<State>>,
    Path((_provider_id, polling_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = app(&state, &headers) {
        return refused;
    }
    if state.consents.first_poll(&polling_id) {
        return reply::json(
            StatusCode::OK,
            serde_json::json!({ "meta": { "status": "PENDING" } }),
        );
    }
    let Some((started, next)) = state.consents.end(&polling_id) else {
        return unknown(&state);
    };
    let meta = match ending(&state, next) {
        Ok((code, customer_id)) => serde_json::json!({
            "status": "COMPLETED", "code": code, "customer_id": customer_id, "state": started.state,
        }),
        Err((error, description)) => serde_json::json!({
            "status": "FAILED", "error": error, "error_description": description,
        }),
    };
    reply::json(StatusCode::OK, serde_json::json!({ "meta": meta }))
}

/// `GET /__emulator/consent/{session_id}`: the customer's visit, answered with the
/// redirect to the app (`code`, `customer_id`, `state`; or `error`). Works once.
pub(super) async fn page(
    Shared(state): Shared<Arc<State>>,
    Path(session_id): Path<String>,
) -> Response {
    let Some((started, next)) = state.consents.end(&session_id) else {
        return unknown(&state);
    };
    let mut location = started.redirect_uri;
    {
        let mut pairs = location.query_pairs_mut();
        match ending(&state, next) {
            Ok((code, customer_id)) => {
                pairs
                    .append_pair("code", &code)
                    .append_pair("customer_id", &customer_id);
                if let Some(provider) = &started.provider {
                    pairs.append_pair("provider", provider);
                }
            }
            Err((error, description)) => {
                pairs
                    .append_pair("error", &error)
                    .append_pair("error_description", &description);
            }
        }
        if let Some(kept) = &started.state {
            pairs.append_pair("state", kept);
        }
    }
    let mut response = reply::json(StatusCode::FOUND, serde_json::json!({}));
    if let Ok(value) = http::HeaderValue::try_from(location.as_str()) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}

/// How a consent ends: a code and the customer id, or the refusal.
fn ending(state: &State, next: NextConsent) -> Result<(String, String), (String, String)> {
    let customer_id = match next {
        NextConsent::Granted => state.ids.new_id("customer"),
        NextConsent::GrantedAs(customer_id) => customer_id,
        NextConsent::Refused { error, description } => return Err((error, description)),
    };
    Ok((state.issue_code(&customer_id), customer_id))
}

fn unknown(state: &State) -> Response {
    reply::error(
        &state.ids,
        StatusCode::NOT_FOUND,
        "session_not_found",
        "No such consent session, or it has ended",
    )
}

/// The app the `app_id` header names, which must be the emulator's.
fn app(state: &State, headers: &HeaderMap) -> Result<(), Response> {
    let sent = headers.get("app_id").map(http::HeaderValue::as_bytes);
    if sent == Some(state.config.credentials.app_id().as_bytes()) {
        return Ok(());
    }
    let message = match sent {
        None => "The app_id header is required",
        Some(_) => "Unknown app_id",
    };
    Err(reply::error(
        &state.ids,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        message,
    ))
}
