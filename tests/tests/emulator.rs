//! The emulator behaves like the real service: client authentication, grants and scopes,
//! expiring tokens, one-time codes, rotating refresh tokens, the error envelope, faults and
//! request recording.

use fintecture_emulator::{Emulator, EmulatorConfig, Fault};
use fintecture_oauth::{
    AuthorizationCode, Client, ClientAuthMethod, Credentials, Error, ExposeSecret, RefreshToken,
    Scope,
};
use std::time::Duration;
use tests::{Sample, jump};

fn assert_envelope(error: &Error, status: u16, code: &str) {
    let api = error
        .api()
        .unwrap_or_else(|| panic!("not an API error: {error:?}"));
    assert_eq!(api.status().as_u16(), status, "{error}");
    assert_eq!(api.code(), Some(code), "{error}");
    assert_eq!(api.envelope_status(), Some(status.to_string().as_str()));
    assert!(
        api.log_id().is_some_and(|id| id.starts_with("log-")),
        "{error}"
    );
    assert!(api.request_id().is_some(), "{error}");
    assert_eq!(api.errors()[0].code.as_deref(), Some(code));
}

#[tokio::test]
async fn client_authentication_basic_body_wrong_and_both() {
    let emulator = Emulator::start().await.unwrap();
    let basic = emulator.client().unwrap();
    basic.client_credentials_token(Scope::Pis).await.unwrap();
    let sent = emulator.requests().pop().unwrap();
    assert!(sent.header("authorization").unwrap().starts_with("Basic "));
    assert_eq!(
        sent.form_field("app_id").as_deref(),
        Some(emulator.credentials().app_id())
    );

    let body = Client::builder(emulator.environment())
        .credentials(emulator.credentials())
        .client_auth_method(ClientAuthMethod::RequestBody)
        .build()
        .unwrap();
    body.client_credentials_token(Scope::Customer)
        .await
        .unwrap();
    let sent = emulator.requests().pop().unwrap();
    assert_eq!(sent.header("authorization"), None);
    assert!(sent.form_field("client_secret").is_some());

    let wrong = Client::builder(emulator.environment())
        .credentials(Credentials::new(emulator.credentials().app_id(), "wrong"))
        .build()
        .unwrap();
    let error = wrong
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap_err();
    assert_envelope(&error, 401, "invalid_client");

    // Both at once (valid each): refused, as the service refuses it.
    let credentials = emulator.credentials();
    let (id, secret) = (
        credentials.app_id(),
        credentials.app_secret().expose_secret(),
    );
    let both = reqwest::Client::new()
        .post(format!("{}oauth/accesstoken", emulator.url()))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&scope=PIS&client_id={id}&client_secret={secret}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);
    let body: serde_json::Value = serde_json::from_slice(&both.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "invalid_request", "{body}");
}

#[tokio::test]
async fn grants_and_scopes_are_checked() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    for scope in [Scope::Pis, Scope::Customer, Scope::EMandate] {
        let token = client
            .client_credentials_token(scope.clone())
            .await
            .unwrap();
        assert_eq!(token.scope.as_deref(), Some(scope.to_string().as_str()));
        assert!(token.refresh_token.is_none());
    }
    let oac = client
        .client_credentials_token(Scope::oac(["organisations:read"]))
        .await
        .unwrap();
    assert_eq!(oac.extra["type"], "oac_token");
    assert!(oac.refresh_token.is_some());

    for scope in [Scope::Ais, Scope::Custom("nonsense".into())] {
        let error = client.client_credentials_token(scope).await.unwrap_err();
        assert_envelope(&error, 400, "invalid_scope");
    }
}

#[tokio::test]
async fn codes_work_once_and_refresh_tokens_rotate() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let code = emulator.issue_code("customer-1");
    let token = client.exchange_code(code.clone(), None).await.unwrap();
    let error = client.exchange_code(code, None).await.unwrap_err();
    assert_envelope(&error, 400, "invalid_grant");

    let first = token.refresh_token.unwrap();
    let second = client
        .refresh(first.clone())
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_ne!(first.expose_secret(), second.expose_secret());
    let error = client.refresh(first).await.unwrap_err();
    assert_envelope(&error, 400, "invalid_grant");
    client.refresh(second).await.unwrap();
    let error = client
        .refresh(RefreshToken::new("never-issued"))
        .await
        .unwrap_err();
    assert_envelope(&error, 400, "invalid_grant");
}

#[tokio::test]
async fn expired_tokens_are_rejected_with_401() {
    let config = EmulatorConfig {
        token_lifetime: Duration::from_secs(120),
        ..Default::default()
    };
    let emulator = Emulator::start_with(config).await.unwrap();
    // A fixed bearer token, so the client cannot renew it behind our back.
    let token = emulator
        .client()
        .unwrap()
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap();
    let client = Client::builder(emulator.environment())
        .bearer_token(token.access_token.clone())
        .build()
        .unwrap();
    let error = client.protected_pis_payment("nope").await.unwrap_err();
    assert_envelope(&error, 404, "session_not_found"); // the token works
    jump(Duration::from_secs(121)).await;
    let error = client.protected_pis_payment("nope").await.unwrap_err();
    assert_envelope(&error, 401, "token_expired");
}

#[tokio::test]
async fn the_token_manager_renews_an_expired_token_transparently() {
    let config = EmulatorConfig {
        token_lifetime: Duration::from_secs(120),
        ..Default::default()
    };
    let emulator = Emulator::start_with(config).await.unwrap();
    let client = emulator.client().unwrap();
    let error = client.protected_pis_payment("missing").await.unwrap_err();
    assert_envelope(&error, 404, "session_not_found");
    jump(Duration::from_secs(121)).await;
    let error = client.protected_pis_payment("missing").await.unwrap_err();
    assert_envelope(&error, 404, "session_not_found");
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 2);
}

#[tokio::test]
async fn wrong_scope_and_missing_token_are_refused() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap().customer("c-1");
    let code = emulator.issue_code("c-1");
    client.authorize(code, None).await.unwrap();
    let ais = client.access_token(&Scope::Ais).await.unwrap();
    let with_ais = Client::builder(emulator.environment())
        .bearer_token(ais.expose_secret().to_owned().into())
        .build()
        .unwrap();
    let error = with_ais.protected_pis_payment("x").await.unwrap_err();
    assert_envelope(&error, 403, "insufficient_scope");

    let anonymous = Client::builder(emulator.environment()).build().unwrap();
    let raw = anonymous.raw().await.unwrap_err();
    assert_envelope(&raw, 404, "not_found");
}

#[tokio::test]
async fn faults_are_injected_once_each() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    emulator.inject(
        "/oauth/accesstoken",
        Fault::Status {
            status: 503,
            retry_after: Some(3),
        },
    );
    let error = client
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap_err();
    assert_envelope(&error, 503, "injected_fault");
    assert_eq!(error.api().unwrap().headers()["retry-after"], "3");
    emulator.inject("/oauth", Fault::MalformedJson);
    assert!(matches!(
        client.client_credentials_token(Scope::Pis).await,
        Err(Error::Decode(_))
    ));
    emulator.inject("", Fault::DropConnection);
    assert!(matches!(
        client.client_credentials_token(Scope::Pis).await,
        Err(Error::Transport { .. })
    ));
    emulator.inject("", Fault::Delay(Duration::from_millis(300)));
    let slow = Client::builder(emulator.environment())
        .credentials(emulator.credentials())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(matches!(
        slow.client_credentials_token(Scope::Pis).await,
        Err(Error::Timeout { .. })
    ));
    // Used up: the next call succeeds.
    client.client_credentials_token(Scope::Pis).await.unwrap();
}

#[tokio::test]
async fn requests_are_recorded_and_errors_carry_request_ids() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let error = client
        .exchange_code(AuthorizationCode::new("bad"), None)
        .await
        .unwrap_err();
    let recorded = emulator.requests_to("/oauth/accesstoken");
    // The error carries the id the emulator answered with: the one the client sent, or a
    // fresh one.
    let answered = error.api().and_then(|api| api.request_id()).unwrap();
    match recorded[0].header("x-request-id") {
        Some(sent) => assert_eq!(answered, sent),
        None => assert!(answered.starts_with("req-"), "{answered}"),
    }
    // A caller's own id comes back as it was sent.
    let echoed = reqwest::Client::new()
        .get(format!("{}nowhere", emulator.url()))
        .header("x-request-id", "mine-1")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "mine-1");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(
        recorded[0].form(),
        [
            ("grant_type", "authorization_code"),
            ("code", "bad"),
            ("scope", "AIS")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert!(
        !format!("{:?}", recorded[0]).contains("Basic"),
        "Authorization is redacted"
    );
}

/// The payment endpoints as the official SDKs call them.
#[fintecture_oauth::api]
trait Payments {
    #[endpoint(post = "/pis/v2/connect", json, scope = "PIS")]
    async fn connect(&self, #[body] body: &serde_json::Value) -> Result<serde_json::Value, Error>;
    #[endpoint(get = "/pis/v1/payments/{id}", scope = "PIS")]
    async fn payment_v1(&self, id: &str) -> Result<serde_json::Value, Error>;
    #[endpoint(get = "/pis/v2/payments/{id}", scope = "PIS")]
    async fn payment_v2(&self, id: &str) -> Result<serde_json::Value, Error>;
    #[endpoint(get = "/pis/v1/payments", scope = "PIS")]
    async fn payments_v1(&self) -> Result<serde_json::Value, Error>;
}

#[tokio::test]
async fn connect_bodies_are_validated_field_by_field() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let cases = [
        (serde_json::json!({}), vec!["data.attributes"]),
        (
            serde_json::json!({ "data": { "attributes": {} } }),
            vec!["amount", "currency", "communication"],
        ),
        (
            serde_json::json!({ "data": { "attributes": {
                "amount": "12.345", "currency": "USD", "communication": "" } } }),
            vec!["amount", "currency", "communication"],
        ),
        (
            serde_json::json!({ "data": { "attributes": {
                "amount": "0.00", "currency": "EUR", "communication": "x".repeat(141) } } }),
            vec!["amount", "communication"],
        ),
        (
            serde_json::json!({ "data": { "attributes": {
                "amount": 12, "currency": "EUR", "communication": "Order 1" } } }),
            vec!["amount"],
        ),
    ];
    for (body, fields) in cases {
        let error = client.connect(&body).await.unwrap_err();
        let api = error.api().unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!(
            (api.status().as_u16(), api.code()),
            (400, Some("invalid_request"))
        );
        let messages: Vec<&str> = api
            .errors()
            .iter()
            .filter_map(|e| e.message.as_deref())
            .collect();
        assert_eq!(messages.len(), fields.len(), "{body}: {messages:?}");
        for (message, field) in messages.iter().zip(&fields) {
            assert!(
                message.starts_with(field),
                "{body}: {message} is not about {field}"
            );
        }
    }
    assert!(
        emulator
            .requests_to("/pis/v2/connect")
            .iter()
            .all(|r| r.status.map(|s| s.as_u16()) == Some(400))
    );
    assert_eq!(
        client.payments_v1().await.unwrap()["data"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn payments_are_read_under_v1_and_v2() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    for (amount, currency) in [("149.30", "EUR"), ("1", "GBP"), ("0.5", "EUR")] {
        let body = serde_json::json!({ "data": { "attributes": {
            "amount": amount, "currency": currency, "communication": "Order 7" } } });
        let created = client.connect(&body).await.unwrap();
        let id = created["meta"]["session_id"].as_str().unwrap();
        let v1 = client.payment_v1(id).await.unwrap();
        assert_eq!(v1, client.payment_v2(id).await.unwrap());
        assert_eq!(v1["data"]["attributes"]["amount"], amount);
    }
    let listed = client.payments_v1().await.unwrap();
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(3), "{listed}");
    let error = client.payment_v1("nope").await.unwrap_err();
    assert_envelope(&error, 404, "session_not_found");
}
