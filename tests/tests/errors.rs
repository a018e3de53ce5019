//! How errors read: one line saying what happened, the API's specific error codes in it, and
//! every cause reachable through `source()` once, never repeated in a `Display`.

use fintecture_emulator::{Emulator, TokenSelector};
use fintecture_oauth::{Error, api};
use std::collections::BTreeMap;
use tests::{Sample, client_for};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every error in the chain, outermost first.
fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut all = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(error) = cause {
        all.push(error.to_string());
        cause = error.source();
    }
    all
}

/// `anyhow`'s `{:#}` is the chain joined by `: `, and no message repeats its cause's.
fn assert_each_cause_once(error: Error, expected_links: usize) {
    let links = chain(&error);
    assert_eq!(links.len(), expected_links, "{links:#?}");
    for pair in links.windows(2) {
        if let [outer, inner] = pair {
            assert!(
                !outer.contains(inner.as_str()),
                "`{outer}` repeats its cause `{inner}`"
            );
        }
    }
    let printed = format!("{:#}", anyhow::Error::from(error));
    assert_eq!(printed, links.join(": "));
}

#[tokio::test]
async fn an_api_error_line_names_the_specific_error_codes() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "code": "unauthorized",
            "errors": [{ "code": "invalid_app_id", "message": "The app_id is invalid" }],
        })))
        .mount(&server)
        .await;
    let error = client_for(&server.uri())
        .delete_thing("1")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Sample::delete_thing: HTTP 401 Unauthorized unauthorized [invalid_app_id]: \
         The app_id is invalid"
    );
}

#[tokio::test]
async fn a_failed_token_request_names_each_cause_once() {
    // Nobody listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = client_for(&format!("http://127.0.0.1:{port}"))
        .maybe(None)
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Token { .. }), "{error:?}");
    assert_eq!(error.to_string(), "could not get a `PIS` token");
    // The token error, the connection error, then reqwest's and the OS's causes.
    let links = chain(&error);
    assert_eq!(links[1], "OAuth::create_access_token: could not connect");
    assert!(links.len() >= 4, "{links:#?}");
    let expected = links.len();
    assert_each_cause_once(error, expected);
}

#[tokio::test]
async fn a_dead_customer_grant_names_each_cause_once() {
    let emulator = Emulator::start().await.unwrap();
    let customer = emulator.client().unwrap().customer("c1");
    customer
        .authorize(emulator.issue_code("c1"), None)
        .await
        .unwrap();
    emulator.revoke(&TokenSelector::CustomerId("c1".into()));
    let error = customer.customer_accounts("c1").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the `AIS` authorization of customer `c1` is missing or expired: re-authorize"
    );
    // The refresh's API error is the one cause.
    assert_each_cause_once(error, 2);
}

/// A query that cannot be a query string: a map of maps.
#[api]
pub trait Nested {
    /// Sends a nested map as the query.
    #[endpoint(get = "/n")]
    async fn nested(&self, #[query] q: &BTreeMap<&str, BTreeMap<&str, u8>>) -> Result<(), Error>;
}

#[test]
fn an_encoding_error_names_its_cause_once() {
    let client = client_for("http://127.0.0.1:9");
    let query = BTreeMap::from([("a", BTreeMap::from([("b", 1)]))]);
    let error = NestedRequests::nested(&client, &query).unwrap_err();
    assert_eq!(error.to_string(), "Nested::nested: cannot encode the query");
    assert_eq!(error.endpoint(), Some("Nested::nested"));
    assert_each_cause_once(error, 2);
}
