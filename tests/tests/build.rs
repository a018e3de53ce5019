//! Requests built without I/O: method, URL, headers and body bytes for each body kind,
//! path and query encoding, and client authentication.

use fintecture_oauth::{ClientAuthMethod, Credentials, Environment, Error};
use tests::{APP_ID, APP_SECRET, Filter, Grant, SampleRequests, Sort, Thing, client_for};

fn thing() -> Thing {
    Thing {
        name: "a&b=c d+é".into(),
        count: 3,
        note: None,
    }
}

#[test]
fn form_body_is_urlencoded_in_field_order_with_static_header() {
    let client = client_for("https://api.example.test/base/");
    let request = SampleRequests::create_form(&client, "a/b?c d%", &thing()).unwrap();
    assert_eq!(request.method(), "POST");
    assert_eq!(
        request.url(),
        "https://api.example.test/base/things/a%2Fb%3Fc%20d%25"
    );
    let headers = request.headers();
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(headers["x-static"], "yes");
    assert_eq!(headers["accept"], "application/json");
    assert!(
        headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("fintecture-oauth/")
    );
    assert!(headers.get("authorization").is_none());
    assert_eq!(
        request.body().unwrap(),
        b"name=a%26b%3Dc+d%2B%C3%A9&count=3"
    );
}

#[test]
fn json_body_and_numeric_path_params() {
    let client = client_for("https://api.example.test");
    let thing = Thing {
        note: Some("ü \"q\"".into()),
        ..thing()
    };
    let request = SampleRequests::replace_json(&client, 42, 7, &thing).unwrap();
    assert_eq!(request.method(), "PUT");
    assert_eq!(request.url(), "https://api.example.test/things/42/v7");
    assert_eq!(request.headers()["content-type"], "application/json");
    let sent: Thing = serde_json::from_slice(request.body().unwrap()).unwrap();
    assert_eq!(sent, thing);
}

#[test]
fn query_struct_scalars_and_header_argument() {
    let client = client_for("https://api.example.test");
    let filter = Filter {
        state: "a&b c",
        since: None,
    };
    let request = SampleRequests::get_thing(&client, "é", &filter, 2, Sort::Desc, "req-1").unwrap();
    assert_eq!(request.method(), "GET");
    assert_eq!(
        request.url(),
        "https://api.example.test/things/%C3%A9?state=a%26b+c&page=2&sort=desc"
    );
    assert_eq!(request.headers()["x-request-id"], "req-1");
    assert!(request.body().is_none());
    assert!(request.headers().get("content-type").is_none());
    assert_eq!(
        request.endpoint().timeout(),
        Some(std::time::Duration::from_secs(2))
    );
}

#[test]
fn bodyless_request_into_http() {
    let client = client_for("https://api.example.test");
    let request = SampleRequests::delete_thing(&client, "x y").unwrap();
    let http = request.into_http().unwrap();
    assert_eq!(http.method(), "DELETE");
    assert_eq!(http.uri(), "https://api.example.test/things/x%20y");
    assert!(http.body().is_empty());
}

#[test]
fn dot_segments_and_empty_params_are_rejected() {
    let client = client_for("https://api.example.test");
    for bad in ["", ".", ".."] {
        let error = SampleRequests::delete_thing(&client, bad).unwrap_err();
        assert!(matches!(error, Error::Build(_)), "{bad:?}: {error}");
    }
    // Dots inside a value are fine.
    assert!(SampleRequests::delete_thing(&client, "...").is_ok());
}

#[test]
fn invalid_header_argument_is_a_typed_error_without_the_value() {
    let client = client_for("https://api.example.test");
    let filter = Filter {
        state: "s",
        since: None,
    };
    let error =
        SampleRequests::get_thing(&client, "1", &filter, 1, Sort::Asc, "bad\nvalue").unwrap_err();
    let text = error.to_string();
    assert!(text.contains("x-request-id"), "{text}");
    assert!(!text.contains("bad"), "{text}");
}

#[test]
fn client_auth_basic_by_default() {
    let client = client_for("https://api.example.test");
    let grant = Grant {
        grant_type: "client_credentials",
        scope: "PIS",
    };
    let request = SampleRequests::token(&client, &grant).unwrap();
    let expected = format!("Basic {}", base64_encode(&format!("{APP_ID}:{APP_SECRET}")));
    assert_eq!(request.headers()["authorization"], expected.as_str());
    assert_eq!(
        request.body().unwrap(),
        b"grant_type=client_credentials&scope=PIS"
    );
    // Debug never shows the credentials or the body.
    let debug = format!("{request:?}");
    assert!(!debug.contains(&expected[6..]), "{debug}");
    assert!(!debug.contains("client_credentials"), "{debug}");
}

#[test]
fn client_auth_in_body_sends_no_basic_header() {
    let client = fintecture_oauth::Client::builder(Environment::Sandbox)
        .credentials(Credentials::new(APP_ID, APP_SECRET))
        .client_auth_method(ClientAuthMethod::RequestBody)
        .build()
        .unwrap();
    let grant = Grant {
        grant_type: "client_credentials",
        scope: "PIS",
    };
    let request = SampleRequests::token(&client, &grant).unwrap();
    assert!(request.headers().get("authorization").is_none());
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(request.body().unwrap());
    assert_eq!(
        pairs,
        [
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "PIS".into()),
            ("client_id".into(), APP_ID.into()),
            ("client_secret".into(), APP_SECRET.into()),
        ]
    );
}

#[test]
fn client_auth_without_credentials_is_a_typed_error() {
    let client = fintecture_oauth::Client::builder(Environment::Sandbox)
        .build()
        .unwrap();
    let grant = Grant {
        grant_type: "client_credentials",
        scope: "PIS",
    };
    let error = SampleRequests::token(&client, &grant).unwrap_err();
    assert!(
        error.to_string().contains("needs client credentials"),
        "{error}"
    );
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let remote = Environment::Custom("http://api.example.test".parse().unwrap());
    let error = fintecture_oauth::Client::builder(remote.clone())
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("refusing plain http"), "{error}");
    assert!(
        fintecture_oauth::Client::builder(remote)
            .allow_insecure_http(true)
            .build()
            .is_ok()
    );
    for local in ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"] {
        let env = Environment::Custom(local.parse().unwrap());
        assert!(
            fintecture_oauth::Client::builder(env).build().is_ok(),
            "{local}"
        );
    }
}

#[test]
fn a_base_url_with_a_query_or_a_fragment_is_refused() {
    for url in [
        "https://api.example.test/?a=1",
        "https://api.example.test/#top",
    ] {
        let environment = Environment::Custom(url.parse().unwrap());
        let error = fintecture_oauth::Client::builder(environment)
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot have a query or fragment"),
            "{url}: {error}"
        );
    }
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Placeholders a Rust name cannot be: a keyword, and a name with a hyphen.
#[fintecture_oauth::api]
pub trait Awkward {
    /// `{type}`, filled by `r#type`; `{customer-id}`, by a `#[path]` argument.
    #[endpoint(get = "/customers/{customer-id}/things/{type}")]
    async fn things(
        &self,
        #[path("customer-id")] customer: &str,
        r#type: &str,
    ) -> Result<(), Error>;
}

#[test]
fn keyword_and_hyphenated_placeholders_build_the_right_url() {
    let client = client_for("https://api.example.test");
    let request = AwkwardRequests::things(&client, "c 1/2", "savings").unwrap();
    assert_eq!(
        request.url(),
        "https://api.example.test/customers/c%201%2F2/things/savings"
    );
}
