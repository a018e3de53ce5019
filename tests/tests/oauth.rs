//! The token endpoints against a real server on 127.0.0.1: the exact requests for each grant
//! and each client-authentication method, each success shape, each error shape, and no
//! secret in any Debug or Display output.

use base64::Engine as _;
use fintecture_oauth::{
    AccessTokenGrant, AuthorizationCode, Client, ClientAuthMethod, Credentials, Environment, Error,
    ExposeSecret, OAuth, OAuthRequests, RefreshToken, RefreshTokenGrant, Scope, TokenType,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "app+/=:%&é";
const APP_SECRET: &str = "sec+/=:%&ret ü";
const CODE: &str = "code+/=:%&ç";
const REFRESH: &str = "rt+/=:%&ß";
const ACCESS: &str = "at-9f8e+/=:%&";

fn client(server: &MockServer, auth: ClientAuthMethod) -> Client {
    Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .credentials(Credentials::new(APP_ID, APP_SECRET))
        .client_auth_method(auth)
        .build()
        .unwrap()
}

fn token_body() -> serde_json::Value {
    serde_json::json!({
        "access_token": ACCESS,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": "rt-new",
        "scope": "AIS",
    })
}

async fn token_server(path_: &str, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(path_))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// The single request the server got, with its form body decoded in order.
async fn received(server: &MockServer) -> (wiremock::Request, Vec<(String, String)>) {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = requests.remove(0);
    let form = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    (request, form)
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Checks the headers for the method and returns the form pairs client auth added.
fn check_client_auth(request: &wiremock::Request, auth: ClientAuthMethod) -> Vec<(String, String)> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    match auth {
        ClientAuthMethod::Basic => {
            let basic = header("authorization").expect("a Basic header");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic.strip_prefix("Basic ").unwrap())
                .unwrap();
            assert_eq!(
                String::from_utf8(decoded).unwrap(),
                format!("{APP_ID}:{APP_SECRET}")
            );
            Vec::new()
        }
        _ => {
            assert_eq!(
                header("authorization"),
                None,
                "never both methods in one request"
            );
            pairs(&[("client_id", APP_ID), ("client_secret", APP_SECRET)])
        }
    }
}

const METHODS: [ClientAuthMethod; 2] = [ClientAuthMethod::Basic, ClientAuthMethod::RequestBody];

#[tokio::test]
async fn client_credentials_request_for_each_auth_method() {
    for auth in METHODS {
        let server = token_server("/oauth/accesstoken", token_body()).await;
        let token = client(&server, auth)
            .client_credentials_token(Scope::Pis)
            .await
            .unwrap();
        assert_eq!(token.access_token.expose_secret(), ACCESS);
        let (request, form) = received(&server).await;
        assert_eq!(request.method.as_str(), "POST");
        let mut expected = pairs(&[
            ("grant_type", "client_credentials"),
            ("app_id", APP_ID),
            ("scope", "PIS"),
        ]);
        expected.extend(check_client_auth(&request, auth));
        assert_eq!(form, expected, "{auth:?}");
    }
}

#[tokio::test]
async fn authorization_code_request_with_and_without_redirect_uri() {
    for auth in METHODS {
        for redirect in [None, Some("https://app.example/cb?x=1&y=é")] {
            let server = token_server("/oauth/accesstoken", token_body()).await;
            let client = client(&server, auth);
            let token = client
                .exchange_code(AuthorizationCode::new(CODE), redirect.map(str::to_owned))
                .await
                .unwrap();
            assert_eq!(token.refresh_token.unwrap().expose_secret(), "rt-new");
            let (request, form) = received(&server).await;
            let mut expected = pairs(&[
                ("grant_type", "authorization_code"),
                ("code", CODE),
                ("scope", "AIS"),
            ]);
            if let Some(uri) = redirect {
                expected.push(("redirect_uri".into(), uri.into()));
            }
            expected.extend(check_client_auth(&request, auth));
            assert_eq!(form, expected, "{auth:?} {redirect:?}");
        }
    }
}

#[tokio::test]
async fn refresh_request_for_each_auth_method() {
    for auth in METHODS {
        let server = token_server("/oauth/refreshtoken", token_body()).await;
        client(&server, auth)
            .refresh(RefreshToken::new(REFRESH))
            .await
            .unwrap();
        let (request, form) = received(&server).await;
        let mut expected = pairs(&[("grant_type", "refresh_token"), ("refresh_token", REFRESH)]);
        expected.extend(check_client_auth(&request, auth));
        assert_eq!(form, expected, "{auth:?}");
    }
}

#[test]
fn other_scopes_spell_as_the_spec_does() {
    let client = Client::builder(Environment::Sandbox)
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap();
    let cases = [
        (Scope::Customer, "customer"),
        (Scope::EMandate, "e-mandate"),
        (
            Scope::oac(["organisations:read", "accounts:read"]),
            "organisations:read accounts:read",
        ),
        (Scope::Custom("beta thing".into()), "beta thing"),
    ];
    for (scope, text) in cases {
        let grant = AccessTokenGrant::client_credentials("id", scope.clone());
        let request = OAuthRequests::create_access_token(&client, &grant).unwrap();
        let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body().unwrap())
            .into_owned()
            .collect();
        assert_eq!(form[2], ("scope".to_string(), text.to_string()));
        assert_eq!(text.parse::<Scope>().unwrap(), scope);
    }
}

async fn decode(body: &str) -> Result<fintecture_oauth::AccessToken, Error> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/json"))
        .mount(&server)
        .await;
    client(&server, ClientAuthMethod::Basic)
        .client_credentials_token(Scope::Pis)
        .await
}

#[tokio::test]
async fn success_variants_are_accepted() {
    let token = decode(r#"{"access_token":"a","token_type":"Bearer","expires_in":120,"refresh_token":"r","scope":"AIS"}"#)
        .await
        .unwrap();
    assert_eq!(
        (token.expires_in, token.token_type.clone()),
        (120, TokenType::Bearer)
    );
    assert_eq!(token.scope.as_deref(), Some("AIS"));
    assert_eq!(token.refresh_token.as_ref().unwrap().expose_secret(), "r");

    let token = decode(r#"{"access_token":"a","token_type":"bearer","expires_in":"1800"}"#)
        .await
        .unwrap();
    assert_eq!(
        (token.expires_in, token.token_type),
        (1800, TokenType::Bearer)
    );
    assert!(token.refresh_token.is_none());

    let token = decode(r#"{"access_token":"a","token_type":"BEARER","expires_in":" 60 "}"#)
        .await
        .unwrap();
    assert_eq!(
        (token.expires_in, token.token_type),
        (60, TokenType::Bearer)
    );

    let token = decode(r#"{"access_token":"a"}"#).await.unwrap();
    assert_eq!(
        (token.expires_in, token.token_type),
        (3600, TokenType::Bearer)
    );

    let token = decode(r#"{"access_token":"a","expires_in":3600,"type":"oac_token","x":{"y":1}}"#)
        .await
        .unwrap();
    assert_eq!(token.extra["type"], "oac_token");
    assert_eq!(token.extra["x"]["y"], 1);

    let token = decode(r#"{"access_token":"a","token_type":"mac"}"#)
        .await
        .unwrap();
    assert_eq!(token.token_type, TokenType::Other("mac".into()));
}

#[tokio::test]
async fn unparsable_success_bodies_are_reported_without_echo() {
    for body in [
        r#"{"access_token":"a-secret-token","expires_in":"soon"}"#,
        r#"{"token":"a-secret-token"}"#,
        r#"{"access_token":"a-secret-token""#,
        "",
        "<html>a-secret-token</html>",
        r#"{"access_token":"a-secret-token","expires_in":1e400}"#,
        r#"{"access_token":"a-secret-token","expires_in":-1}"#,
    ] {
        let error = decode(body).await.unwrap_err();
        let shown = format!("{error} | {error:?}");
        assert!(matches!(error, Error::Decode(_)), "{body}: {shown}");
        assert!(!shown.contains("a-secret-token"), "{body}: {shown}");
    }
    let error = decode(r#"{"access_token":"a","expires_in":"soon"}"#)
        .await
        .unwrap_err();
    let Error::Decode(decode_error) = error else {
        unreachable!()
    };
    assert_eq!(decode_error.path(), "expires_in");
}

async fn error_for(status: u16, body: &str, content_type: &str) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("x-request-id", "req-42")
                .set_body_raw(body.to_owned(), content_type),
        )
        .mount(&server)
        .await;
    client(&server, ClientAuthMethod::Basic)
        .refresh(RefreshToken::new("rt"))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn fintecture_envelope_errors() {
    let error = error_for(
        401,
        r#"{"status":"401","code":"unauthorized","log_id":"log-1","errors":[{"code":"invalid_client","title":"Invalid client","message":"Client authentication failed"}]}"#,
        "application/json",
    )
    .await;
    let api = error.api().unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(api.envelope_status(), Some("401"));
    assert_eq!(api.code(), Some("unauthorized"));
    assert_eq!(api.log_id(), Some("log-1"));
    assert_eq!(api.request_id(), Some("req-42"));
    assert_eq!(api.errors().len(), 1);
    assert_eq!(api.errors()[0].title.as_deref(), Some("Invalid client"));
    assert_eq!(
        error.to_string(),
        "OAuth::create_refresh_token: HTTP 401 Unauthorized unauthorized [invalid_client]: \
         Client authentication failed (log_id log-1, x-request-id req-42)"
    );

    // Numeric status, `detail` instead of `message`, nulls and strings among the errors.
    let error = error_for(
        400,
        r#"{"status":400,"code":"bad_request","log_id":"l2","errors":[null,"plain text",{"code":"c","detail":"the detail"}]}"#,
        "application/json",
    )
    .await;
    let api = error.api().unwrap();
    assert_eq!(api.envelope_status(), Some("400"));
    assert_eq!(api.errors().len(), 2);
    assert_eq!(api.errors()[0].message.as_deref(), Some("plain text"));
    assert_eq!(api.errors()[1].message.as_deref(), Some("the detail"));
    assert_eq!(api.message(), Some("plain text"));

    for errors in [r#""errors":null,"#, ""] {
        let body = format!(r#"{{{errors}"status":"500","code":"internal","log_id":"l3"}}"#);
        let error = error_for(500, &body, "application/json").await;
        let api = error.api().unwrap();
        assert!(api.errors().is_empty());
        assert_eq!((api.code(), api.log_id()), (Some("internal"), Some("l3")));
        assert!(!error.to_string().contains('\n'));
    }
}

#[tokio::test]
async fn rfc6749_html_and_empty_error_bodies() {
    let error = error_for(
        400,
        r#"{"error":"invalid_grant","error_description":"The refresh token\nis invalid","error_uri":"https://e/x"}"#,
        "application/json",
    )
    .await;
    let api = error.api().unwrap();
    assert_eq!(api.oauth_error(), Some("invalid_grant"));
    assert_eq!(api.error_uri(), Some("https://e/x"));
    assert_eq!(
        error.to_string(),
        "OAuth::create_refresh_token: HTTP 400 Bad Request invalid_grant: The refresh token is \
         invalid (x-request-id req-42)"
    );

    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let error = error_for(502, html, "text/html").await;
    let api = error.api().unwrap();
    assert_eq!(
        (api.status(), api.body()),
        (502.try_into().unwrap(), html.as_bytes())
    );
    assert_eq!(api.code(), None);
    assert_eq!(
        error.to_string(),
        "OAuth::create_refresh_token: HTTP 502 Bad Gateway (x-request-id req-42)"
    );

    let error = error_for(503, "", "text/plain").await;
    assert_eq!(error.status(), Some(503.try_into().unwrap()));
    assert!(error.api().unwrap().body().is_empty());
}

#[tokio::test]
async fn no_secret_in_any_debug_or_display() {
    let secrets = [APP_SECRET, CODE, REFRESH, ACCESS, "rt-new"];
    // The mock server hands out ACCESS as the access token to every caller below.
    let mut shown = Vec::new();
    let mut show = |label: &str, debug: String, display: Option<String>| {
        shown.push(format!(
            "{label}: {debug} / {}",
            display.unwrap_or_default()
        ));
    };

    let credentials = Credentials::new(APP_ID, APP_SECRET);
    show(
        "Credentials",
        format!("{credentials:?}"),
        Some(format!("{credentials}")),
    );
    let code = AuthorizationCode::new(CODE);
    show(
        "AuthorizationCode",
        format!("{code:?}"),
        Some(format!("{code}")),
    );
    let refresh = RefreshToken::new(REFRESH);
    show(
        "RefreshToken",
        format!("{refresh:?}"),
        Some(format!("{refresh}")),
    );
    let grant = AccessTokenGrant::authorization_code(code.clone(), Some("https://cb".into()));
    show("AccessTokenGrant", format!("{grant:?}"), None);
    let refresh_grant = RefreshTokenGrant::new(refresh.clone());
    show("RefreshTokenGrant", format!("{refresh_grant:?}"), None);
    let builder = Client::builder(Environment::Sandbox)
        .credentials(credentials.clone())
        .bearer_token(ACCESS.to_string().into());
    show("ClientBuilder", format!("{builder:?}"), None);
    let listed = format!("{builder:?}");
    assert!(
        listed.starts_with("ClientBuilder { environment: Sandbox")
            && listed.contains("bearer: Some(\"[REDACTED]\")"),
        "{listed}"
    );
    let with_bearer = builder.build().unwrap();
    show(
        "Client with a bearer token",
        format!("{with_bearer:?}"),
        None,
    );
    // What it shows instead: where it goes, and that a token is there.
    let listed = format!("{:?}", with_bearer.customer("c-1"));
    assert!(
        listed.starts_with("Client { base_url: \"https://api-sandbox.fintecture.com")
            && listed.contains("bearer: Some(\"[REDACTED]\")")
            && listed.contains("customer: Some(\"c-1\")"),
        "{listed}"
    );

    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body()))
        .mount(&server)
        .await;
    for auth in METHODS {
        let client = client(&server, auth);
        show("Client", format!("{client:?}"), None);
        let request = OAuthRequests::create_access_token(&client, &grant).unwrap();
        show("Request", format!("{request:?}"), None);
    }
    let client = client(&server, ClientAuthMethod::Basic);
    let token = client.exchange_code(code.clone(), None).await.unwrap();
    show(
        "AccessToken",
        format!("{token:?}"),
        Some(format!("{token}")),
    );
    show(
        "Scope",
        format!("{:?}", Scope::Pis),
        Some(Scope::Pis.to_string()),
    );
    show("Environment", format!("{:?}", Environment::Sandbox), None);

    // Errors: API error, decode error echoing a token, missing credentials.
    let error = error_for(400, r#"{"error":"invalid_grant"}"#, "application/json").await;
    show("Error::Api", format!("{error:?}"), Some(error.to_string()));
    let leaky = format!(r#"{{"access_token":"{ACCESS}","expires_in":"{REFRESH}"}}"#);
    let error = decode(&leaky).await.unwrap_err();
    show(
        "Error::Decode",
        format!("{error:?}"),
        Some(error.to_string()),
    );

    // The token manager's types, the raw response of a token call, and the manager's errors.
    let store = std::sync::Arc::new(fintecture_oauth::MemoryTokenStore::default());
    let managed = Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .credentials(credentials.clone())
        .token_store(store.clone())
        .build()
        .unwrap();
    let cached = managed.access_token(&Scope::Pis).await.unwrap();
    show(
        "CachedToken",
        format!("{cached:?}"),
        Some(cached.to_string()),
    );
    use fintecture_oauth::TokenStore as _;
    let key = fintecture_oauth::GrantKey::new(
        server.uri(),
        APP_ID,
        fintecture_oauth::Grant::App {
            scope: "PIS".into(),
        },
    );
    let record = store.load(&key).await.unwrap().unwrap();
    show(
        "TokenRecord",
        format!("{record:?} {key:?}"),
        Some(key.to_string()),
    );
    show("MemoryTokenStore", format!("{store:?}"), None);
    let raw_request = OAuthRequests::create_access_token(&managed, &grant).unwrap();
    let raw = managed.execute(raw_request).await.unwrap();
    show("RawResponse", format!("{raw:?}"), None);
    let shared = Error::Token {
        scope: "AIS".into(),
        customer: Some("customer-1".into()),
        source: Some(std::sync::Arc::new(
            error_for(401, "{}", "application/json").await,
        )),
    };
    show(
        "Error::Token",
        format!("{shared:?}"),
        Some(shared.to_string()),
    );

    let everything = shown.join("\n");
    for secret in secrets {
        // As written, and as a form or query would carry it.
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [secret, encoded.as_str()] {
            assert!(
                !everything.contains(form),
                "`{form}` leaked in:\n{everything}"
            );
        }
    }
    // The base64 form of the Basic credentials must not leak either.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{APP_ID}:{APP_SECRET}"));
    assert!(!everything.contains(&basic), "{everything}");
    assert!(
        everything.contains(APP_ID),
        "the app id is not a secret and helps debugging"
    );
}

#[tokio::test]
async fn the_trait_can_be_mocked() {
    struct Fake;
    impl OAuth for Fake {
        fn create_access_token(
            &self,
            grant: &AccessTokenGrant,
        ) -> fintecture_oauth::BoxFuture<'_, Result<fintecture_oauth::AccessToken, Error>> {
            // The future borrows only `self`: take what it needs from the grant now.
            let grant_type = grant.grant_type().to_string();
            Box::pin(async move {
                Ok(
                    serde_json::from_value(serde_json::json!({ "access_token": grant_type }))
                        .unwrap(),
                )
            })
        }
        fn create_refresh_token(
            &self,
            _: &RefreshTokenGrant,
        ) -> fintecture_oauth::BoxFuture<'_, Result<fintecture_oauth::AccessToken, Error>> {
            Box::pin(async { unreachable!() })
        }
    }
    /// Code written against the trait, as an application's would be: it runs unchanged
    /// on the double and on the real client, and its future can be spawned.
    async fn fetch<A: OAuth + Send + Sync + 'static>(api: std::sync::Arc<A>) -> String {
        let grant = AccessTokenGrant::client_credentials("id", Scope::Pis);
        let task = tokio::spawn(async move { api.create_access_token(&grant).await });
        let token = task.await.unwrap().unwrap();
        token.access_token.expose_secret().to_owned()
    }
    assert_eq!(fetch(std::sync::Arc::new(Fake)).await, "client_credentials");
    let server = token_server("/oauth/accesstoken", token_body()).await;
    let real = client(&server, ClientAuthMethod::Basic);
    assert_eq!(fetch(std::sync::Arc::new(real)).await, ACCESS);
}
