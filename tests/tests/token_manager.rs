//! The token manager against a real server on 127.0.0.1 (wiremock with `.expect(n)`):
//! single flight on a cold cache and at expiry, refresh-token rotation, cancellation,
//! the 401 retry, and errors shared by every waiter.

use fintecture_oauth::{AuthorizationCode, Client, Credentials, Environment, Error, Scope};
use std::sync::Arc;
use std::time::Duration;
use tests::{Sample, jump};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer) -> Client {
    Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .credentials(Credentials::new("app", "secret"))
        .build()
        .unwrap()
}

fn token(access: &str, refresh: Option<&str>, expires_in: u64) -> ResponseTemplate {
    let mut body = serde_json::json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// The token the client's manager hands out for `scope`.
async fn token_text(client: &Client, scope: Scope) -> String {
    client
        .access_token(&scope)
        .await
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// Runs `count` concurrent token reads and returns the tokens they got.
async fn concurrent_reads(
    client: &Client,
    scope: Scope,
    count: usize,
) -> Vec<Result<String, Error>> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let (client, scope) = (client.clone(), scope.clone());
            tokio::spawn(async move {
                client
                    .access_token(&scope)
                    .await
                    .map(|t| t.expose_secret().to_owned())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    // Awaiting thousands of ready handles uses up this task's tokio coop budget; wiremock's
    // MockServer verifies on drop with a blocking executor whose lock wake-up tokio then
    // defers to the scheduler, which never runs: a hang. Yielding renews the budget.
    tokio::task::yield_now().await;
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_callers_on_a_cold_cache_make_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/accesstoken"))
        .and(body_string_contains("scope=PIS"))
        .respond_with(token("pis-1", None, 3600).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let results = concurrent_reads(&client, Scope::Pis, 10_000).await;
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("pis-1")));
    // Served from the cache from now on.
    assert_eq!(token_text(&client, Scope::Pis).await, "pis-1");
}

// Pausing the clock needs the current-thread runtime.
#[tokio::test]
async fn at_expiry_ten_thousand_callers_make_one_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/accesstoken"))
        .respond_with(token("ais-1", Some("rt-1"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/refreshtoken"))
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(token("ais-2", Some("rt-2"), 3600).set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server).customer("customer-1");
    client
        .authorize(AuthorizationCode::new("code"), None)
        .await
        .unwrap();
    let first = concurrent_reads(&client, Scope::Ais, 100).await;
    assert!(first.iter().all(|r| r.as_deref().ok() == Some("ais-1")));

    // Jump to within the margin of expiry (10 s by default), where the token is no longer
    // handed out; resume so the HTTP calls run in real time.
    jump(Duration::from_secs(3600 - 5)).await;
    let renewed = concurrent_reads(&client, Scope::Ais, 10_000).await;
    assert!(renewed.iter().all(|r| r.as_deref().ok() == Some("ais-2")));
}

#[tokio::test]
async fn the_rotated_refresh_token_is_used_and_the_old_one_never_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/accesstoken"))
        .respond_with(token("a0", Some("rt-0"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    // rt-0 → rt-1; rt-1 → no new refresh token (rt-1 stays); rt-1 → rt-2.
    Mock::given(path("/oauth/refreshtoken"))
        .and(body_string_contains("refresh_token=rt-0"))
        .respond_with(token("a1", Some("rt-1"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/refreshtoken"))
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(token("a2", None, 3600))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server).customer("customer-1");
    client
        .authorize(AuthorizationCode::new("code"), None)
        .await
        .unwrap();
    for expected in ["a1", "a2"] {
        jump(Duration::from_secs(3600)).await;
        assert_eq!(token_text(&client, Scope::Ais).await, expected);
    }
    Mock::given(path("/oauth/refreshtoken"))
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(token("a3", Some("rt-2"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    jump(Duration::from_secs(3600)).await;
    assert_eq!(token_text(&client, Scope::Ais).await, "a3");
}

#[tokio::test]
async fn a_cancelled_caller_does_not_lose_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("slow", None, 3600).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let cancelled =
        tokio::time::timeout(Duration::from_millis(50), client.access_token(&Scope::Pis)).await;
    assert!(
        cancelled.is_err(),
        "the caller gave up before the token arrived"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The fetch finished anyway and was cached: no second request.
    assert_eq!(token_text(&client, Scope::Pis).await, "slow");
}

#[tokio::test]
async fn a_401_on_a_bearer_endpoint_gets_one_new_token_and_one_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t", None, 3600))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/protected"))
        .and(header("authorization", "Bearer t"))
        .respond_with(ResponseTemplate::new(401).set_body_string(r#"{"code":"invalid_token"}"#))
        .expect(2)
        .mount(&server)
        .await;
    let error = client(&server).protected().await.unwrap_err();
    assert_eq!(error.status(), Some(401.try_into().unwrap()));
}

#[tokio::test]
async fn a_401_then_success_uses_the_new_token() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("old", None, 3600))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("new", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/protected"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/protected"))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.protected().await.unwrap()["ok"], true);
    // The new token is cached: the next call makes no token request.
    client.protected().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_error_reaches_every_waiter_and_the_next_call_tries_again() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string(r#"{"status":"503","code":"unavailable","log_id":"L"}"#)
                .set_delay(Duration::from_millis(200)),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let results = concurrent_reads(&client, Scope::Pis, 1_000).await;
    for result in &results {
        let error = result.as_ref().unwrap_err();
        assert!(matches!(error, Error::Token { .. }), "{error:?}");
        assert!(error.to_string().contains("unavailable"), "{error}");
    }
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("recovered", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(token_text(&client, Scope::Pis).await, "recovered");
}

#[tokio::test]
async fn invalid_grant_on_refresh_means_reauthorize_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("a", Some("rt"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/refreshtoken"))
        .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"error":"invalid_grant"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server).customer("customer-1");
    client
        .authorize(AuthorizationCode::new("code"), None)
        .await
        .unwrap();
    jump(Duration::from_secs(3600)).await;
    for _ in 0..3 {
        let error = client.access_token(&Scope::Ais).await.unwrap_err();
        assert!(matches!(error, Error::Reauthorize { .. }), "{error:?}");
        assert!(error.to_string().contains("re-authorize"), "{error}");
    }
}

#[tokio::test]
async fn a_shared_store_can_be_plugged_in() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("shared", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(fintecture_oauth::MemoryTokenStore::default());
    let build = || {
        Client::builder(Environment::Custom(server.uri().parse().unwrap()))
            .credentials(Credentials::new("app", "secret"))
            .token_store(store.clone())
            .build()
            .unwrap()
    };
    let (one, two) = (build(), build());
    assert_eq!(token_text(&one, Scope::Pis).await, "shared");
    assert_eq!(token_text(&two, Scope::Pis).await, "shared");
}
