//! Declarations checked against OpenAPI documents at compile time (`#[api(spec = ...)]`,
//! feature `spec`) that pass every check: the same trait against the 3.1 YAML, the 3.0
//! YAML and the JSON form of one document. That this file compiles is the test of the
//! checks' passing side (each failing side is a case of `tests/ui/spec_*.rs`); the requests
//! built here show the declarations are the ones the document describes.

use fintecture_oauth::{Error, api};
use serde::Serialize;
use tests::client_for;

/// The query of the connect endpoint, as a struct: it covers every query parameter.
#[derive(Serialize)]
pub struct ConnectQuery<'a> {
    /// Required by the document.
    pub redirect_uri: &'a str,
}

/// Each check's passing side, once per document form.
macro_rules! shop {
    ($name:ident, $spec:literal) => {
        /// The shop's endpoints, checked against one form of its document.
        #[api(spec = $spec)]
        pub trait $name {
            /// A required query parameter named, a declared header, a required JSON body, a
            /// bearer token where the document requires authentication.
            #[endpoint(post = "/pis/v2/connect", json, scope = "PIS")]
            async fn connect(
                &self,
                #[query] redirect_uri: &str,
                #[query("state")] state: &str,
                #[header("x-psu-type")] psu_type: &str,
                #[body] body: &serde_json::Value,
            ) -> Result<(), Error>;

            /// The required query parameters covered by a `#[query]` struct.
            #[endpoint(post = "/pis/v2/connect", json, scope = "PIS", operation = "connect")]
            async fn connect_with_struct(
                &self,
                #[query] query: &ConnectQuery<'_>,
                #[body] body: &serde_json::Value,
            ) -> Result<(), Error>;

            /// The placeholder named as the document names it (on the path item).
            #[endpoint(get = "/pis/v2/payments/{session_id}", scope = "PIS")]
            async fn payment(&self, session_id: &str) -> Result<(), Error>;

            /// No body where the document takes none.
            #[endpoint(post = "/pis/v2/refund", scope = "PIS")]
            async fn refund(&self) -> Result<(), Error>;

            /// A form where the document takes a form; no authentication where it requires
            /// none (`security: []`).
            #[endpoint(post = "/oauth/accesstoken", form, auth = none)]
            async fn token(&self, #[body] body: &serde_json::Value) -> Result<(), Error>;

            /// A required header given as an argument.
            #[endpoint(get = "/res/v1/providers", auth = none)]
            async fn providers(&self, #[header("X-Country")] country: &str) -> Result<(), Error>;

            /// A required header given as a static header.
            #[endpoint(get = "/res/v1/providers", auth = none, header("x-country" = "FR"))]
            async fn french_providers(&self) -> Result<(), Error>;

            /// Not in the document, and said so.
            #[endpoint(get = "/not/documented", scope = "PIS", spec = skip)]
            async fn undocumented(&self) -> Result<(), Error>;
        }
    };
}

shop!(Shop31, "../ui/spec/shop.yaml");
shop!(Shop30, "../spec/shop-3.0.yaml");
shop!(ShopJson, "../spec/shop.json");

#[test]
fn the_checked_declarations_build_the_documented_requests() {
    let client = client_for("https://api.example.test");
    let body = serde_json::json!({ "data": {} });
    let connect =
        Shop31Requests::connect(&client, "https://shop.example/back", "s1", "retail", &body)
            .unwrap();
    assert_eq!(
        connect.url(),
        "https://api.example.test/pis/v2/connect?redirect_uri=https%3A%2F%2Fshop.example%2Fback&state=s1"
    );
    assert_eq!(connect.headers()["x-psu-type"], "retail");
    let query = ConnectQuery {
        redirect_uri: "https://shop.example/back",
    };
    let with_struct = Shop30Requests::connect_with_struct(&client, &query, &body).unwrap();
    assert_eq!(
        with_struct.url(),
        "https://api.example.test/pis/v2/connect?redirect_uri=https%3A%2F%2Fshop.example%2Fback"
    );
    let payment = ShopJsonRequests::payment(&client, "p 1").unwrap();
    assert_eq!(
        payment.url(),
        "https://api.example.test/pis/v2/payments/p%201"
    );
    let providers = ShopJsonRequests::french_providers(&client).unwrap();
    assert_eq!(providers.headers()["x-country"], "FR");
}
