//! `Debug` and `Display` of what users log — a built request, a raw response, a decoding
//! error — never show a value that may be a secret: query values, header arguments, cookies,
//! values the server sent in a body that failed to decode.

use fintecture_oauth::{Error, RawResponse, api};
use serde::Deserialize;
use tests::client_for;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A body with one enum field.
#[derive(Debug, Deserialize)]
pub struct Kind {
    /// The one field.
    pub kind: KindName,
}

/// The only variant the client knows.
#[derive(Debug, Deserialize)]
pub enum KindName {
    /// The one variant.
    Bearer,
}

/// Endpoints whose arguments and answers carry secrets.
#[api]
pub trait Leaky {
    /// A key in a header and a code in the query.
    #[endpoint(get = "/leaky")]
    async fn leaky(
        &self,
        #[query("code")] code: &str,
        #[header("X-Api-Key")] key: &str,
    ) -> Result<RawResponse, Error>;
    /// An answer that does not decode.
    #[endpoint(get = "/kind")]
    async fn kind(&self) -> Result<Kind, Error>;
}

#[tokio::test]
async fn requests_responses_and_decode_errors_hide_secret_values() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/leaky"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("set-cookie", "session=cookie-secret-1")
                .insert_header("x-request-id", "R-77")
                .insert_header("content-type", "text/plain"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/kind"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"kind": "sk_live_variant"}"#))
        .mount(&server)
        .await;
    let client = client_for(&server.uri());

    let request = LeakyRequests::leaky(&client, "code-secret-2", "key-secret-3").unwrap();
    let shown = format!("{request:?}");
    for secret in ["code-secret-2", "key-secret-3"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    // What was sent is still recognisable.
    assert!(
        shown.contains("code=[REDACTED]") && shown.contains("x-api-key"),
        "{shown}"
    );

    let response = client.leaky("c", "k").await.unwrap();
    let shown = format!("{response:?}");
    assert!(!shown.contains("cookie-secret-1"), "{shown}");
    assert!(
        shown.contains("set-cookie") && shown.contains("R-77") && shown.contains("text/plain"),
        "harmless values stay: {shown}"
    );

    let error = client.kind().await.unwrap_err();
    for shown in [format!("{error}"), format!("{error:?}")] {
        assert!(!shown.contains("sk_live_variant"), "{shown}");
        assert!(shown.contains("expected"), "the expectation stays: {shown}");
    }
}
