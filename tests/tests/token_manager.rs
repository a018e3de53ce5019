//! The token manager against a real server on 127.0.0.1 (wiremock with `.expect(n)`):
//! single flight on a cold cache and at expiry, refresh-token rotation, cancellation,
//! the 401 retry, and errors shared by every waiter.

use fintecture_oauth::{
    AuthorizationCode, Client, ClientBuilder, Clock, Credentials, Environment, Error, Grant,
    GrantKey, MemoryTokenStore, RefreshToken, RefreshWindow, Scope, Swap, TokenRecord, TokenStore,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tests::{HookedStore, Sample, jump};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A builder for the app `app` of the local test server.
/// The lease of the tests whose store sees a grant die: one lease passes before it is
/// declared dead.
const SHORT_LEASE: Duration = Duration::from_millis(300);

fn app(server: &MockServer) -> ClientBuilder {
    Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .credentials(Credentials::new("app", "secret"))
}

fn client(server: &MockServer) -> Client {
    app(server).build().unwrap()
}

/// A client whose tokens are renewed `window` before they expire.
fn client_with_window(server: &MockServer, window: RefreshWindow) -> Client {
    app(server).refresh_window(window).build().unwrap()
}

/// The service takes the customer's new token for their accounts: `authorize` checks it
/// before keeping the token.
async fn owner_checks_pass(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex("^/ais/v1/customer/[^/]+/accounts$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})))
        .mount(server)
        .await;
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
    owner_checks_pass(&server).await;
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
    owner_checks_pass(&server).await;
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
async fn other_errors_on_a_bearer_endpoint_keep_the_token_and_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/protected"))
        .respond_with(ResponseTemplate::new(403).set_body_string(r#"{"code":"forbidden"}"#))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    for _ in 0..2 {
        let error = client.protected().await.unwrap_err();
        assert_eq!(error.status(), Some(403.try_into().unwrap()));
    }
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
        assert!(
            matches!(error, Error::Token { scope, customer: None, .. } if scope == "PIS"),
            "{error:?}"
        );
        let causes = tests::with_causes(error);
        assert!(causes.contains("unavailable"), "{causes}");
    }
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("recovered", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(token_text(&client, Scope::Pis).await, "recovered");
}

/// A customer authorized with token `a`, whose refresh token the server refuses
/// (`invalid_grant`), once and only once.
async fn authorized_with_a_dead_refresh_token() -> (MockServer, Client) {
    authorized_with_a_dead_refresh_token_in(None).await
}

/// The same, with the client's tokens shared through `store` when there is one.
async fn authorized_with_a_dead_refresh_token_in(
    store: Option<Arc<dyn TokenStore>>,
) -> (MockServer, Client) {
    let invalid_grant = ResponseTemplate::new(400).set_body_string(r#"{"error":"invalid_grant"}"#);
    authorized_with_refresh_refused(invalid_grant, store).await
}

/// A customer authorized with token `a`, whose refresh the server answers with `refusal`,
/// once and only once.
async fn authorized_with_refresh_refused(
    refusal: ResponseTemplate,
    store: Option<Arc<dyn TokenStore>>,
) -> (MockServer, Client) {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("a", Some("rt"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/refreshtoken"))
        .respond_with(refusal)
        .expect(1)
        .mount(&server)
        .await;
    let mut builder = app(&server);
    if let Some(store) = store {
        // A shared store declares a grant dead one lease after `invalid_grant`: a short one.
        builder = builder.token_store(store).token_lease(SHORT_LEASE);
    }
    let client = builder.build().unwrap().customer("customer-1");
    owner_checks_pass(&server).await;
    client
        .authorize(AuthorizationCode::new("code"), None)
        .await
        .unwrap();
    (server, client)
}

#[tokio::test]
async fn invalid_grant_on_refresh_means_reauthorize_and_is_not_retried() {
    let (_server, client) = authorized_with_a_dead_refresh_token().await;
    jump(Duration::from_secs(3600)).await;
    for _ in 0..3 {
        let error = client.access_token(&Scope::Ais).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Reauthorize { scope, customer: Some(c), .. } if c == "customer-1" && scope == "AIS"
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("re-authorize"), "{error}");
    }
}

#[tokio::test]
async fn a_shared_store_can_be_plugged_in() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .and(wiremock::matchers::body_string_contains("app_id=app&"))
        .respond_with(token("shared", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .and(wiremock::matchers::body_string_contains(
            "app_id=other-app&",
        ))
        .respond_with(token("other app's", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(fintecture_oauth::MemoryTokenStore::default());
    let build = |app_id: &str| {
        Client::builder(Environment::Custom(server.uri().parse().unwrap()))
            .credentials(Credentials::new(app_id, "secret"))
            .token_store(store.clone())
            .build()
            .unwrap()
    };
    let (one, two) = (build("app"), build("app"));
    assert_eq!(token_text(&one, Scope::Pis).await, "shared");
    assert_eq!(token_text(&two, Scope::Pis).await, "shared");
    // Another app on the same store gets a token of its own, never this app's.
    let other = build("other-app");
    assert_eq!(token_text(&other, Scope::Pis).await, "other app's");
}

#[tokio::test]
async fn a_failed_background_refresh_keeps_the_valid_token_until_it_expires() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t1", None, 3600))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(ResponseTemplate::new(503).set_body_string(r#"{"code":"unavailable"}"#))
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");
    // In the refresh window: the renewal starts in the background, and fails.
    jump(Duration::from_secs(3300)).await;
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");
    // With no further call, the renewal retries by itself, with backoff.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attempts = token_requests(&server).await;
    assert!(
        (3..=6).contains(&attempts),
        "one token request, then retries with backoff: {attempts} requests"
    );
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");

    // Past expiry the error reaches callers.
    jump(Duration::from_secs(300)).await;
    let error = client.access_token(&Scope::Pis).await.unwrap_err();
    let causes = tests::with_causes(&error);
    assert!(causes.contains("unavailable"), "{causes}");
    // The next call tries again.
    server.reset().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t2", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(token_text(&client, Scope::Pis).await, "t2");
}

#[tokio::test]
async fn an_absurd_lifetime_is_bounded_to_a_day() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"access_token":"huge","expires_in":9999999999999999999}"#),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("normal", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let huge = client.access_token(&Scope::Pis).await.unwrap();
    assert_eq!(huge.expose_secret(), "huge");
    let left = huge.expires_at() - tokio::time::Instant::now();
    let day = Duration::from_secs(24 * 3600);
    assert!(
        left <= day && left > day - Duration::from_secs(60),
        "{left:?}"
    );
    assert_eq!(fintecture_oauth::MAX_TOKEN_LIFETIME, day);
    jump(fintecture_oauth::MAX_TOKEN_LIFETIME).await;
    assert_eq!(token_text(&client, Scope::Pis).await, "normal");
}

#[tokio::test]
async fn the_token_text_round_trips_and_a_token_that_cannot_be_a_header_is_a_protocol_error() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .and(body_string_contains("scope=PIS"))
        .respond_with(token("tök€n=/+", None, 3600))
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .and(body_string_contains("scope=customer"))
        .respond_with(token("line\nbreak", None, 3600))
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(token_text(&client, Scope::Pis).await, "tök€n=/+");
    let error = client.access_token(&Scope::Customer).await.unwrap_err();
    let Error::Token {
        source: Some(source),
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(matches!(**source, Error::Protocol { .. }), "{source:?}");
    let causes = tests::with_causes(&error);
    assert!(causes.contains("not a valid header value"), "{causes}");
}

/// A store whose first `load` panics.
fn panics_once() -> HookedStore<MemoryTokenStore> {
    let panicked = AtomicBool::new(false);
    HookedStore {
        on_load: Box::new(move || {
            if !panicked.swap(true, Ordering::SeqCst) {
                panic!("the store broke");
            }
        }),
        ..HookedStore::new(MemoryTokenStore::default())
    }
}

#[tokio::test]
async fn a_panicking_store_wedges_nothing() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("after", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    let client = app(&server)
        .token_store(Arc::new(panics_once()))
        .build()
        .unwrap();
    let error = client.access_token(&Scope::Pis).await.unwrap_err();
    assert!(
        matches!(error, Error::Token { source: None, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("did not complete"), "{error}");
    assert_eq!(token_text(&client, Scope::Pis).await, "after");
}

#[test]
fn a_renewal_cancelled_by_runtime_shutdown_wedges_nothing() {
    let servers = tokio::runtime::Runtime::new().unwrap();
    let server = servers.block_on(async {
        let server = MockServer::start().await;
        Mock::given(path("/oauth/accesstoken"))
            .respond_with(token("late", None, 3600).set_delay(Duration::from_millis(300)))
            .mount(&server)
            .await;
        server
    });
    let client = client(&server);
    let doomed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    doomed.block_on(async {
        let waiting = client.access_token(&Scope::Pis);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), waiting)
                .await
                .is_err()
        );
    });
    // The renewal task is dropped with its runtime, mid-request.
    drop(doomed);
    let next = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = next.block_on(token_text(&client, Scope::Pis));
    assert_eq!(text, "late");
    drop(server);
}

/// A wall clock the test moves.
#[derive(Debug)]
struct TestClock(Mutex<SystemTime>);

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

#[tokio::test]
async fn records_carry_wall_clock_expiry_and_mean_the_same_to_another_client() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("first", None, 3600))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryTokenStore::default());
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let build = |offset: u64| {
        let clock = TestClock(Mutex::new(start + Duration::from_secs(offset)));
        app(&server)
            .token_store(store.clone())
            .clock(Arc::new(clock))
            .build()
            .unwrap()
    };
    assert_eq!(token_text(&build(0), Scope::Pis).await, "first");
    let key = GrantKey::new(
        server.uri(),
        "app",
        Grant::App {
            scope: "PIS".into(),
        },
    );
    let record = store.load(&key).await.unwrap().unwrap();
    assert_eq!(record.issued_at, start);
    assert_eq!(record.expires_at, start + Duration::from_secs(3600));
    assert_eq!(record.version, 1);

    // Another client 50 minutes later (a restart, another process) finds it, with the
    // 10 minutes it has left.
    let later = build(3000).access_token(&Scope::Pis).await.unwrap();
    assert_eq!(later.expose_secret(), "first");
    let left = later.expires_at() - tokio::time::Instant::now();
    assert!(
        left > Duration::from_secs(590) && left <= Duration::from_secs(600),
        "{left:?}"
    );

    // After its expiry, another client fetches a new one, one version up.
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("second", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    // A client with exactly the margin left (10 s) does not take it either. The clock is
    // stopped while its renewal decides, so that the boundary is exact.
    let client = build(3590);
    tokio::time::pause();
    let mut read = std::pin::pin!(client.access_token(&Scope::Pis));
    assert!(poll_once(read.as_mut()).await.is_pending());
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::resume();
    assert_eq!(read.await.unwrap().expose_secret(), "second");
    let record = store.load(&key).await.unwrap().unwrap();
    assert_eq!(record.version, 2);
    assert_eq!(record.expires_at, start + Duration::from_secs(3590 + 3600));
}

/// How many requests reached the token endpoints so far.
async fn token_requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// Reads the token a few times at `at` (from the start), then lets a background renewal,
/// if one started, reach the server.
async fn read_at(client: &Client, scope: Scope, elapsed: &mut Duration, at: Duration) -> String {
    jump(at - *elapsed).await;
    *elapsed = at;
    let text = token_text(client, scope.clone()).await;
    token_text(client, scope).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    text
}

#[tokio::test]
async fn the_refresh_window_opens_at_the_configured_time() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t", None, 3600))
        .mount(&server)
        .await;
    // No jitter: the window is exactly max(60 s, 10% of 1 h) = 360 s before expiry.
    let client = client_with_window(
        &server,
        RefreshWindow::new(Duration::from_secs(60), 10).with_jitter_percent(0),
    );
    let mut elapsed = Duration::ZERO;
    read_at(&client, Scope::Pis, &mut elapsed, Duration::ZERO).await;
    read_at(&client, Scope::Pis, &mut elapsed, Duration::from_secs(3239)).await;
    assert_eq!(token_requests(&server).await, 1, "not yet in the window");
    read_at(&client, Scope::Pis, &mut elapsed, Duration::from_secs(3241)).await;
    assert_eq!(
        token_requests(&server).await,
        2,
        "one renewal, in the background"
    );
}

#[tokio::test]
async fn the_default_window_has_jitter_and_a_short_token_is_not_renewed_at_once() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t", None, 3600))
        .mount(&server)
        .await;
    let client = client(&server);
    let mut elapsed = Duration::ZERO;
    // The default window: 360 s before expiry, plus up to 180 s of jitter.
    read_at(&client, Scope::Pis, &mut elapsed, Duration::ZERO).await;
    read_at(&client, Scope::Pis, &mut elapsed, Duration::from_secs(3059)).await;
    assert_eq!(token_requests(&server).await, 1);
    read_at(&client, Scope::Pis, &mut elapsed, Duration::from_secs(3241)).await;
    assert_eq!(token_requests(&server).await, 2);

    // A 100 s token: the 60 s minimum would open the window at once; it is capped at half
    // the lifetime.
    server.reset().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("short", None, 100))
        .mount(&server)
        .await;
    let client = self::client(&server);
    let mut elapsed = Duration::ZERO;
    read_at(&client, Scope::Pis, &mut elapsed, Duration::ZERO).await;
    read_at(&client, Scope::Pis, &mut elapsed, Duration::from_secs(45)).await;
    assert_eq!(
        token_requests(&server).await,
        1,
        "not renewed before half its life"
    );
    read_at(&client, Scope::Pis, &mut elapsed, Duration::from_secs(55)).await;
    assert_eq!(token_requests(&server).await, 2);
}

#[tokio::test]
async fn a_dead_grant_found_in_the_window_is_not_renewed_again_and_serves_until_expiry() {
    let (_server, client) = authorized_with_a_dead_refresh_token().await;
    let mut elapsed = Duration::ZERO;
    for at in [3300, 3400, 3500] {
        let text = read_at(&client, Scope::Ais, &mut elapsed, Duration::from_secs(at)).await;
        assert_eq!(text, "a", "the valid token keeps serving");
    }
    jump(Duration::from_secs(100)).await;
    let error = client.access_token(&Scope::Ais).await.unwrap_err();
    assert!(matches!(error, Error::Reauthorize { .. }), "{error:?}");
}

#[tokio::test]
async fn cached_reads_do_no_io_and_see_what_the_manager_holds() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .and(body_string_contains("client_credentials"))
        .respond_with(token("app", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .and(body_string_contains("authorization_code"))
        .respond_with(token("alice", Some("rt"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let alice = client.customer("alice");
    assert!(client.cached_access_token(&Scope::Pis).is_none());
    assert!(alice.cached_access_token(&Scope::Ais).is_none());
    client.access_token(&Scope::Pis).await.unwrap();
    owner_checks_pass(&server).await;
    alice
        .authorize(AuthorizationCode::new("code"), None)
        .await
        .unwrap();
    let app = client.cached_access_token(&Scope::Pis).unwrap();
    assert_eq!(app.expose_secret(), "app");
    assert_eq!(
        alice
            .cached_access_token(&Scope::Ais)
            .unwrap()
            .expose_secret(),
        "alice"
    );
    assert!(
        client
            .customer("bob")
            .cached_access_token(&Scope::Ais)
            .is_none()
    );
    assert!(
        client.cached_access_token(&Scope::Ais).is_none(),
        "no customer bound"
    );
}

#[tokio::test]
async fn the_memory_store_keeps_the_store_contract() {
    tests::store_contract(&MemoryTokenStore::default()).await;
}

#[tokio::test]
async fn clients_on_one_thread_never_see_each_others_tokens() {
    let (one, two) = (MockServer::start().await, MockServer::start().await);
    for (server, name) in [(&one, "one"), (&two, "two")] {
        for scope in ["PIS", "customer"] {
            Mock::given(path("/oauth/accesstoken"))
                .and(body_string_contains(format!("scope={scope}")))
                .respond_with(token(&format!("{name}-{scope}"), None, 3600))
                .mount(server)
                .await;
        }
    }
    let (first, second) = (client(&one), client(&two));
    // Interleaved on one thread: each client's copies are its own, per scope.
    for _ in 0..3 {
        for (client, name) in [(&first, "one"), (&second, "two")] {
            assert_eq!(token_text(client, Scope::Pis).await, format!("{name}-PIS"));
            assert_eq!(
                token_text(client, Scope::Customer).await,
                format!("{name}-customer")
            );
            let cached = client.cached_access_token(&Scope::Pis).unwrap();
            assert_eq!(cached.expose_secret(), format!("{name}-PIS"));
        }
    }
}

#[tokio::test]
async fn a_cached_read_sees_a_new_token_at_once_and_a_token_in_its_window() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("old", None, 3600))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("new", None, 3600).set_delay(Duration::from_millis(200)))
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(token_text(&client, Scope::Pis).await, "old");
    // In the window: the cached read still hands out the valid token while it is renewed.
    jump(Duration::from_secs(3300)).await;
    let cached = client.cached_access_token(&Scope::Pis);
    assert_eq!(
        cached.map(|t| t.expose_secret().to_owned()).as_deref(),
        Some("old")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Renewed: this thread's copy is replaced at once.
    let cached = client.cached_access_token(&Scope::Pis);
    assert_eq!(
        cached.map(|t| t.expose_secret().to_owned()).as_deref(),
        Some("new")
    );
}

#[tokio::test]
async fn with_a_store_a_dead_grant_is_forgotten_there_too_and_not_retried() {
    let store = Arc::new(MemoryTokenStore::default());
    let (_server, client) = authorized_with_a_dead_refresh_token_in(Some(store.clone())).await;
    assert_eq!(store.len(), 1);
    jump(Duration::from_secs(3600)).await;
    for _ in 0..3 {
        let error = client.access_token(&Scope::Ais).await.unwrap_err();
        assert!(matches!(error, Error::Reauthorize { .. }), "{error:?}");
    }
    assert!(
        store.is_empty(),
        "the store still held the refresh token that was used"
    );
}

#[tokio::test]
async fn with_a_store_an_invalid_grant_waits_for_the_rotation_on_its_way() {
    let store = Arc::new(MemoryTokenStore::default());
    let (server, client) = authorized_with_a_dead_refresh_token_in(Some(store.clone())).await;
    jump(Duration::from_secs(3600)).await;
    let key = GrantKey::new(
        server.uri(),
        "app",
        Grant::Customer {
            customer_id: "customer-1".into(),
        },
    );
    // Another replica's rotation of the refresh token this one is refused, landing in the
    // store a third of a lease later (its client was waiting for the store).
    let landing = tokio::spawn({
        let store = store.clone();
        async move {
            tokio::time::sleep(SHORT_LEASE / 3).await;
            let now = SystemTime::now();
            let rotated = TokenRecord::new(
                "rotated".to_owned().into(),
                Some(RefreshToken::new("rt-2")),
                now,
                now + Duration::from_secs(3600),
                2,
            );
            store.swap(&key, 1, &rotated, u64::MAX).await.unwrap()
        }
    });
    let token = client.access_token(&Scope::Ais).await.unwrap();
    assert_eq!(token.expose_secret(), "rotated", "the grant is not dead");
    assert_eq!(landing.await.unwrap(), Swap::Written);
}

#[tokio::test]
async fn a_renewal_that_fails_gives_its_lease_back_at_once() {
    let store = Arc::new(MemoryTokenStore::default());
    let unavailable = ResponseTemplate::new(503).set_body_string(r#"{"code":"unavailable"}"#);
    let (server, client) = authorized_with_refresh_refused(unavailable, Some(store.clone())).await;
    jump(Duration::from_secs(3600)).await;
    let error = client.access_token(&Scope::Ais).await.unwrap_err();
    assert!(!matches!(error, Error::Reauthorize { .. }), "{error:?}");
    // Another client may try at once, rather than a lease later.
    let key = GrantKey::new(
        server.uri(),
        "app",
        Grant::Customer {
            customer_id: "customer-1".into(),
        },
    );
    let lease = store.lock(&key, Duration::from_secs(1)).await.unwrap();
    assert!(lease.is_some(), "the failed renewal kept the grant's lease");
}

#[tokio::test]
async fn with_a_store_a_customer_who_never_authorized_is_told_at_once() {
    let server = MockServer::start().await;
    let store = Arc::new(MemoryTokenStore::default());
    let client = app(&server).token_store(store).build().unwrap();
    let started = std::time::Instant::now();
    let error = client
        .customer("stranger")
        .access_token(&Scope::Ais)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Reauthorize { .. }), "{error:?}");
    // No refresh was refused: nothing could be on its way, and no lease is waited out.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_401_on_a_refresh_is_terminal_too() {
    let refusal = ResponseTemplate::new(401).set_body_string(r#"{"code":"unauthorized"}"#);
    let (_server, client) = authorized_with_refresh_refused(refusal, None).await;
    jump(Duration::from_secs(3600)).await;
    // The refresh is tried once (`expect(1)`); every call after it is told to re-authorize.
    for _ in 0..3 {
        let error = client.access_token(&Scope::Ais).await.unwrap_err();
        assert!(matches!(&error, Error::Reauthorize { .. }), "{error:?}");
    }
}

#[tokio::test]
async fn single_flight_is_per_scope() {
    let server = MockServer::start().await;
    for (scope, text) in [("PIS", "pis-token"), ("customer", "customer-token")] {
        Mock::given(path("/oauth/accesstoken"))
            .and(body_string_contains(format!("scope={scope}").as_str()))
            .respond_with(token(text, None, 3600).set_delay(Duration::from_millis(200)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&server);
    let (pis, customer) = tokio::join!(
        concurrent_reads(&client, Scope::Pis, 100),
        concurrent_reads(&client, Scope::Customer, 100)
    );
    assert!(
        pis.iter().all(|t| t.as_deref().ok() == Some("pis-token")),
        "{pis:?}"
    );
    assert!(
        customer
            .iter()
            .all(|t| t.as_deref().ok() == Some("customer-token")),
        "{customer:?}"
    );
}

#[tokio::test]
async fn the_cached_token_is_the_one_fetched_and_there_is_none_before() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("cached", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    assert!(client.cached_access_token(&Scope::Pis).is_none());
    assert_eq!(token_text(&client, Scope::Pis).await, "cached");
    let cached = client.cached_access_token(&Scope::Pis).expect("cached now");
    assert_eq!(cached.expose_secret(), "cached");
    // What it shows: how long it lasts, never its text.
    let debug = format!("{cached:?}");
    assert!(
        debug.starts_with("CachedToken { token: \"[REDACTED]\", remaining: 3")
            && debug.contains("version: 1"),
        "{debug}"
    );
    let display = cached.to_string();
    let seconds: u64 = display
        .strip_prefix("Bearer token [REDACTED], valid for another ")
        .and_then(|rest| rest.strip_suffix(" s"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{display}"));
    assert!((3590..=3600).contains(&seconds), "{display}");
    // Another scope has nothing cached.
    assert!(client.cached_access_token(&Scope::Customer).is_none());
}

/// An endpoint that asks for a bearer token without naming a scope.
#[fintecture_oauth::api]
pub trait Unscoped {
    /// Uses the client's default scope.
    #[endpoint(get = "/unscoped", auth = bearer)]
    async fn unscoped(&self) -> Result<(), Error>;
}

#[tokio::test]
async fn an_unscoped_bearer_endpoint_uses_the_default_scope() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .and(body_string_contains("scope=customer"))
        .respond_with(token("customer-token", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/unscoped"))
        .and(header("authorization", "Bearer customer-token"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = app(&server).default_scope(Scope::Customer).build().unwrap();
    client.unscoped().await.unwrap();
}

#[tokio::test]
async fn oac_tokens_are_renewed_with_their_refresh_token() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("oac-1", Some("oac-rt-1"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/refreshtoken"))
        .and(body_string_contains("refresh_token=oac-rt-1"))
        .respond_with(token("oac-2", Some("oac-rt-2"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let scope = Scope::oac(["organisations:read"]);
    assert_eq!(token_text(&client, scope.clone()).await, "oac-1");
    jump(Duration::from_secs(3600)).await;
    // Renewed through the refresh endpoint (one call, `expect(1)`), not a new grant.
    assert_eq!(token_text(&client, scope).await, "oac-2");
}

/// Two bearer endpoints, to have two calls in flight with one token.
#[fintecture_oauth::api]
pub trait Pair {
    /// One.
    #[endpoint(get = "/a", scope = "PIS")]
    async fn a(&self) -> Result<(), Error>;
    /// The other.
    #[endpoint(get = "/b", scope = "PIS")]
    async fn b(&self) -> Result<(), Error>;
}

/// A server whose token endpoint hands out `t1`, `t2`, `t3` in turn (each `expect`ed as
/// given), and whose `/a` and `/b` refuse `t1` with a 401 (after `a_delay` and `b_delay`)
/// and accept any other token.
async fn rotating_server(expected: [u64; 3], a_delay: u64, b_delay: u64) -> MockServer {
    let server = MockServer::start().await;
    for (text, times) in ["t1", "t2", "t3"].into_iter().zip(expected) {
        Mock::given(path("/oauth/accesstoken"))
            .respond_with(token(text, None, 3600))
            .up_to_n_times(1)
            .expect(times)
            .mount(&server)
            .await;
    }
    for (route, delay) in [("/a", a_delay), ("/b", b_delay)] {
        Mock::given(path(route))
            .and(header("authorization", "Bearer t1"))
            .respond_with(ResponseTemplate::new(401).set_delay(Duration::from_millis(delay)))
            .mount(&server)
            .await;
        Mock::given(path(route))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test]
async fn a_late_401_on_an_old_token_leaves_the_newer_one_alone() {
    // `/a` is refused fast and renews to t2; `/b`'s refusal of t1 arrives after that. It must
    // not invalidate t2: no third token (`expect(0)`).
    let server = rotating_server([1, 1, 0], 10, 500).await;
    let client = client(&server);
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");
    let (a, b) = tokio::join!(client.a(), client.b());
    a.unwrap();
    b.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_renewal_the_same_thread_sends_the_new_token() {
    let server = rotating_server([1, 1, 0], 0, 0).await;
    let client = client(&server);
    // t1 fetched and read from the cache, so this thread keeps a copy of it.
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");
    assert!(client.cached_access_token(&Scope::Pis).is_some());
    // t1 refused, renewed to t2, retried: fine.
    client.a().await.unwrap();
    // This thread's next calls carry t2 straight away: t1 is not sent again.
    client.a().await.unwrap();
    client.b().await.unwrap();
    let t1_sent = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.headers
                .get("authorization")
                .is_some_and(|v| v == "Bearer t1")
        })
        .count();
    assert_eq!(t1_sent, 1);
}

#[tokio::test]
async fn the_token_margin_is_when_a_cached_token_stops_being_handed_out() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t1", None, 3600))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t2", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    // No renewal ahead of time: only the margin decides.
    let client = app(&server)
        .refresh_window(
            fintecture_oauth::RefreshWindow::new(Duration::ZERO, 0).with_jitter_percent(0),
        )
        .token_margin(Duration::from_secs(100))
        .build()
        .unwrap();
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");
    // 150 s left: more than the margin, still handed out.
    jump(Duration::from_secs(3450)).await;
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");
    // 50 s left: inside the margin, renewed.
    jump(Duration::from_secs(100)).await;
    assert_eq!(token_text(&client, Scope::Pis).await, "t2");
}

#[tokio::test]
async fn a_dead_grant_costs_the_store_nothing_while_its_token_serves() {
    let loads = Arc::new(AtomicUsize::new(0));
    let counted = loads.clone();
    let store = HookedStore {
        on_load: Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        }),
        ..HookedStore::new(MemoryTokenStore::default())
    };
    let (_server, client) = authorized_with_a_dead_refresh_token_in(Some(Arc::new(store))).await;
    let mut elapsed = Duration::ZERO;
    // In the window: the one refresh is refused, and the grant is dead one lease later.
    read_at(&client, Scope::Ais, &mut elapsed, Duration::from_secs(3300)).await;
    tokio::time::sleep(SHORT_LEASE * 2).await;
    let after_death = loads.load(Ordering::SeqCst);
    for at in [3400, 3500] {
        let text = read_at(&client, Scope::Ais, &mut elapsed, Duration::from_secs(at)).await;
        assert_eq!(text, "a", "the valid token keeps serving");
    }
    assert_eq!(
        loads.load(Ordering::SeqCst),
        after_death,
        "a dead grant was renewed again through the store"
    );
}

#[tokio::test]
async fn a_short_token_keeps_three_quarters_of_its_life_despite_the_margin() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t1", None, 20))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t2", None, 20).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    // The default 10 s margin would end a 20 s token at 10 s; it is capped at 5 s.
    let client = client(&server);
    assert_eq!(token_text(&client, Scope::Pis).await, "t1");
    jump(Duration::from_secs(13)).await;
    assert_eq!(
        token_text(&client, Scope::Pis).await,
        "t1",
        "handed out until 15 s"
    );
    jump(Duration::from_secs(3)).await;
    assert_eq!(token_text(&client, Scope::Pis).await, "t2");
}

#[tokio::test]
async fn an_authorization_during_a_refresh_wins_whichever_finishes_last() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .and(body_string_contains("code=first"))
        .respond_with(token("a", Some("rt-a"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .and(body_string_contains("code=second"))
        .respond_with(token("b", Some("rt-b"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    // The refresh of the old grant is slow: it comes back after the new authorization.
    Mock::given(path("/oauth/refreshtoken"))
        .and(body_string_contains("refresh_token=rt-a"))
        .respond_with(token("c", Some("rt-c"), 3600).set_delay(Duration::from_millis(500)))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server).customer("customer-1");
    owner_checks_pass(&server).await;
    client
        .authorize(AuthorizationCode::new("first"), None)
        .await
        .unwrap();
    jump(Duration::from_secs(3300)).await;
    // In the window: the refresh starts in the background, then the customer consents again.
    assert_eq!(token_text(&client, Scope::Ais).await, "a");
    client
        .authorize(AuthorizationCode::new("second"), None)
        .await
        .unwrap();
    assert_eq!(token_text(&client, Scope::Ais).await, "b");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        token_text(&client, Scope::Ais).await,
        "b",
        "the old grant's refresh replaced the new consent"
    );
}

#[tokio::test]
async fn a_store_behind_memory_never_gets_an_old_refresh_token_sent() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("a", Some("rt-1"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/refreshtoken"))
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(token("b", Some("rt-2"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryTokenStore::default());
    let client = app(&server)
        .token_store(store.clone())
        .build()
        .unwrap()
        .customer("customer-1");
    owner_checks_pass(&server).await;
    client
        .authorize(AuthorizationCode::new("code"), None)
        .await
        .unwrap();
    // The store comes back from an older snapshot: version 0, an old refresh token.
    let key = GrantKey::new(
        server.uri(),
        "app",
        Grant::Customer {
            customer_id: "customer-1".into(),
        },
    );
    assert!(store.remove(&key, None).await.unwrap());
    let lease = store
        .lock(&key, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    let old = fintecture_oauth::TokenRecord::new(
        "old".into(),
        Some(fintecture_oauth::RefreshToken::new("rt-0")),
        SystemTime::now(),
        SystemTime::now() + Duration::from_secs(3600),
        0,
    );
    store.swap(&key, 0, &old, lease.fence).await.unwrap();
    store.unlock(&key, &lease).await.unwrap();

    jump(Duration::from_secs(3600)).await;
    assert_eq!(token_text(&client, Scope::Ais).await, "b");
}

#[tokio::test]
async fn a_renewal_under_a_lease_gives_up_within_two_thirds_of_it() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("late", None, 3600).set_delay(Duration::from_secs(25)))
        .mount(&server)
        .await;
    let client = app(&server)
        .token_store(Arc::new(MemoryTokenStore::default()))
        .token_lease(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let error = client.access_token(&Scope::Pis).await.unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(error, Error::Token { .. }), "{error:?}");
    // 2 s, well before another client could take the lease over (and before the 30 s
    // request timeout).
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn each_form_of_invalid_grant_on_a_refresh_is_terminal() {
    for body in [
        r#"{"error":"invalid_grant"}"#,
        r#"{"code":"invalid_grant"}"#,
        r#"{"errors":[{"code":"invalid_grant","title":"Invalid grant"}]}"#,
    ] {
        let refusal = ResponseTemplate::new(400).set_body_string(body);
        let (_server, client) = authorized_with_refresh_refused(refusal, None).await;
        jump(Duration::from_secs(3600)).await;
        let error = client.access_token(&Scope::Ais).await.unwrap_err();
        assert!(
            matches!(&error, Error::Reauthorize { .. }),
            "{body}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_refresh_that_fails_otherwise_keeps_the_grant_and_its_refresh_token() {
    for (status, body) in [
        (503, r#"{"code":"unavailable"}"#),
        (400, r#"{"error":"invalid_request"}"#),
        (400, r#"{"errors":[{"code":"invalid_request"}]}"#),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/oauth/accesstoken"))
            .respond_with(token("a", Some("rt"), 3600))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(path("/oauth/refreshtoken"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(path("/oauth/refreshtoken"))
            .and(body_string_contains("refresh_token=rt"))
            .respond_with(token("b", Some("rt-2"), 3600))
            .expect(1)
            .mount(&server)
            .await;
        let client = client(&server).customer("customer-1");
        owner_checks_pass(&server).await;
        client
            .authorize(AuthorizationCode::new("code"), None)
            .await
            .unwrap();
        jump(Duration::from_secs(3600)).await;
        let error = client.access_token(&Scope::Ais).await.unwrap_err();
        assert!(matches!(&error, Error::Token { .. }), "{body}: {error:?}");
        assert_eq!(token_text(&client, Scope::Ais).await, "b", "{body}");
    }
}

/// Polls `future` once: what it gives at this instant, without waiting.
async fn poll_once<F: Future>(mut future: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await
}

/// Stops tokio's clock at exactly `at` (a time to come), so that a boundary can be reached
/// to the nanosecond; `tokio::time::resume` lets it run again.
async fn stop_at(at: tokio::time::Instant) {
    tokio::time::pause();
    tokio::time::advance(at - tokio::time::Instant::now()).await;
    assert_eq!(tokio::time::Instant::now(), at);
}

#[tokio::test]
async fn the_renewal_starts_at_exactly_the_refresh_time() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t", None, 3600))
        .mount(&server)
        .await;
    let client = client_with_window(
        &server,
        RefreshWindow::new(Duration::from_secs(60), 10).with_jitter_percent(0),
    );
    let expires_at = client.access_token(&Scope::Pis).await.unwrap().expires_at();
    // 360 s before expiry, to the nanosecond.
    let refresh_at = expires_at - Duration::from_secs(360);
    // A nanosecond before, nothing starts (the window test shows a second before too)...
    stop_at(refresh_at - Duration::from_nanos(1)).await;
    assert!(client.cached_access_token(&Scope::Pis).is_some());
    // ...and at that instant the renewal does, in the background.
    tokio::time::advance(Duration::from_nanos(1)).await;
    assert!(client.cached_access_token(&Scope::Pis).is_some());
    tokio::time::resume();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(token_requests(&server).await, 2);
}

#[tokio::test]
async fn a_token_is_handed_out_until_exactly_its_margin_and_never_after() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t1", None, 3600))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(token("t2", None, 3600))
        .mount(&server)
        .await;
    // No renewal ahead of time: the margin alone ends the token.
    let client = client_with_window(
        &server,
        RefreshWindow::new(Duration::ZERO, 0).with_jitter_percent(0),
    );
    let expires_at = client.access_token(&Scope::Pis).await.unwrap().expires_at();
    let valid_until = expires_at - Duration::from_secs(10);

    stop_at(valid_until - Duration::from_nanos(1)).await;
    let cached = client
        .cached_access_token(&Scope::Pis)
        .map(|t| t.expose_secret().to_owned());
    assert_eq!(
        cached.as_deref(),
        Some("t1"),
        "valid until the last nanosecond"
    );
    tokio::time::advance(Duration::from_nanos(1)).await;
    assert!(
        client.cached_access_token(&Scope::Pis).is_none(),
        "handed out at the end of its validity"
    );
    // A caller at that instant waits for the new token rather than get the old one.
    let mut read = std::pin::pin!(client.access_token(&Scope::Pis));
    let first = poll_once(read.as_mut()).await;
    assert!(
        first.is_pending(),
        "the old token was handed out: {first:?}"
    );
    tokio::time::resume();
    assert_eq!(read.await.unwrap().expose_secret(), "t2");
}
