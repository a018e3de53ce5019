//! Protections against a hostile or broken server, each proven against a real server on
//! 127.0.0.1 by a test that fails without it: redirects, timeouts, body caps (declared,
//! chunked, endless), opt-in retries, and token endpoints that are never replayed.

use fintecture_oauth::{
    AuthorizationCode, Client, Credentials, Environment, Error, RefreshToken, RetryPolicy, Scope,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::{Sample, client_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A client for `url` that retries as `policy` says.
fn retrying(url: &str, policy: RetryPolicy) -> Client {
    Client::builder(Environment::Custom(url.parse().unwrap()))
        .retry_policy(policy)
        .build()
        .unwrap()
}

fn fast_retries(server: &MockServer) -> Client {
    let policy = RetryPolicy::new(
        Duration::from_millis(20),
        Duration::from_millis(100),
        Duration::from_secs(2),
    );
    retrying(&server.uri(), policy)
}

#[tokio::test]
async fn a_redirect_never_carries_secrets_elsewhere() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    for status in [301, 302, 303, 307, 308] {
        Mock::given(path("/oauth/refreshtoken"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let error = client_for(&server.uri())
            .refresh(RefreshToken::new("rt"))
            .await
            .unwrap_err();
        let Error::Redirect {
            status: got,
            location,
            ..
        } = &error
        else {
            panic!("{status}: {error:?}")
        };
        assert_eq!(got.as_u16(), status);
        assert!(location.as_deref().is_some_and(|l| l.ends_with("/steal")));
        assert!(
            error.to_string().contains("refused to follow a redirect"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn the_endpoint_timeout_overrides_the_clients() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let started = Instant::now();
    let error = client_for(&server.uri()).slow().await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_client_timeout_applies_by_default() {
    let server = MockServer::start().await;
    Mock::given(path("/raw"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let client = Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let error = client.raw().await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}

/// A raw HTTP/1.1 server that answers every request with a chunked body of `total` bytes
/// (`None`: endless, until the client goes away) and counts what it managed to send.
async fn chunked_server(total: Option<u64>) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        let deadline = Instant::now() + Duration::from_secs(10);
        while total.is_none_or(|total| counter.load(Ordering::Relaxed) < total)
            && Instant::now() < deadline
        {
            let framed = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk.clone(),
                b"\r\n".to_vec(),
            ]
            .concat();
            if stream.write_all(&framed).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    });
    (format!("http://{address}"), sent)
}

#[tokio::test]
async fn an_endless_chunked_body_stops_at_the_cap() {
    let (url, sent) = chunked_server(None).await;
    let error = client_for(&url)
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::BodyTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{error:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The client stopped reading: the server could push no more than the cap plus what the
    // two kernels' socket buffers hold (several MiB with autotuning), not the 10 s it tries
    // for. The exact cap is `the_default_cap_is_exactly_one_mebibyte`'s business.
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 16 << 20, "the client kept reading: {sent} bytes");
}

#[tokio::test]
async fn a_large_chunked_body_without_length_is_refused() {
    let (url, _) = chunked_server(Some(2 << 20)).await;
    let error = client_for(&url).raw().await.unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 1024, .. }),
        "{error:?}"
    );
}

/// Answers one request with `body`, framed by a `content-length` (or chunked), then keeps
/// the connection open for a while: a client that waits for more bytes waits.
async fn serve_once(body: Vec<u8>, framing: Framing) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = match framing {
            Framing::Length(length) => format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
            ),
            Framing::Chunked => "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_string(),
        };
        let mut bytes = head.into_bytes();
        match framing {
            Framing::Length(_) => bytes.extend_from_slice(&body),
            Framing::Chunked => {
                for chunk in body.chunks(64 * 1024) {
                    bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    bytes.extend_from_slice(chunk);
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
            }
        }
        if stream.write_all(&bytes).await.is_ok() {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    format!("http://{address}")
}

#[derive(Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked,
}

/// A token body of exactly `size` bytes (padded with spaces).
fn token_body(size: usize) -> Vec<u8> {
    let mut body = br#"{"access_token":"t","expires_in":3600}"#.to_vec();
    body.resize(size, b' ');
    body
}

#[tokio::test]
async fn the_default_cap_is_exactly_one_mebibyte() {
    const CAP: usize = 1 << 20;
    for framing in [Framing::Length(CAP as u64), Framing::Chunked] {
        let url = serve_once(token_body(CAP), framing).await;
        let token = client_for(&url).client_credentials_token(Scope::Pis).await;
        assert!(
            token.is_ok(),
            "a body of exactly the cap is read: {token:?}"
        );
    }
    for framing in [Framing::Length(CAP as u64 + 1), Framing::Chunked] {
        let url = serve_once(token_body(CAP + 1), framing).await;
        let error = client_for(&url)
            .client_credentials_token(Scope::Pis)
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::BodyTooLarge { limit, .. } if limit == CAP as u64),
            "one byte over the cap is refused: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_without_waiting_for_the_body() {
    // The length says one byte over the cap; the body never comes. Refused at once: reading
    // first would wait for it until the timeout.
    let url = serve_once(Vec::new(), Framing::Length((1 << 20) + 1)).await;
    let client = Client::builder(Environment::Custom(url.parse().unwrap()))
        .credentials(Credentials::new("app", "secret"))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let error = client
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BodyTooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn retries_on_503_and_429_honour_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    assert_eq!(fast_retries(&server).flaky().await.unwrap()["ok"], true);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
}

#[tokio::test]
async fn retries_stop_after_the_declared_count_and_on_long_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .expect(4)
        .mount(&server)
        .await;
    let error = fast_retries(&server).flaky().await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));

    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    fast_retries(&server).flaky().await.unwrap_err();
}

#[tokio::test]
async fn no_retry_without_opt_in_and_never_on_other_statuses() {
    let server = MockServer::start().await;
    Mock::given(path("/raw"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    let client = fast_retries(&server);
    client.raw().await.unwrap_err();
    client.flaky().await.unwrap_err();
}

#[tokio::test]
async fn code_and_refresh_requests_are_never_replayed() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/accesstoken"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/refreshtoken"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .credentials(Credentials::new("id", "secret"))
        .build()
        .unwrap();
    client
        .exchange_code(AuthorizationCode::new("c"), None)
        .await
        .unwrap_err();
    client.refresh(RefreshToken::new("r")).await.unwrap_err();
}

#[tokio::test]
async fn a_refused_connection_is_retried_because_nothing_was_sent() {
    // Reserve a port, free it, and only start serving on it a little later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let policy = RetryPolicy::new(
        Duration::from_millis(300),
        Duration::from_millis(600),
        Duration::from_secs(1),
    );
    let client = retrying(&url, policy);
    let call = tokio::spawn(async move { client.flaky().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = MockServer::builder().listener(listener).start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    call.await.unwrap().unwrap();
}

/// `/flaky` answers `failure` `times` times, then 200 once; both `expect`ed exactly.
async fn failing_then_ok(server: &MockServer, failure: ResponseTemplate, times: u64) {
    Mock::given(path("/flaky"))
        .respond_with(failure)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(server)
        .await;
}

/// A client whose backoff starts at `base`.
fn backing_off(server: &MockServer, base: Duration) -> Client {
    let policy = RetryPolicy::new(base, Duration::from_secs(10), Duration::from_secs(5));
    retrying(&server.uri(), policy)
}

#[tokio::test]
async fn backoff_doubles_with_jitter_and_retry_after_may_be_a_date() {
    let server = MockServer::start().await;
    failing_then_ok(&server, ResponseTemplate::new(503), 3).await;
    // Waits drawn from the upper halves of windows of 200, 400 and 800 ms: at least 700 ms
    // in all (under 1.4 s, plus the round trips). A backoff that did not double would wait
    // 300 to 600 ms.
    let started = std::time::Instant::now();
    backing_off(&server, Duration::from_millis(200))
        .flaky()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(700)..Duration::from_secs(3)).contains(&waited),
        "{waited:?}"
    );

    // `Retry-After` as an HTTP date two seconds ahead (whole seconds: 1 to 2 s from now) is
    // honoured rather than the 10 ms backoff.
    server.reset().await;
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    failing_then_ok(
        &server,
        ResponseTemplate::new(503).insert_header("retry-after", at.as_str()),
        1,
    )
    .await;
    let started = std::time::Instant::now();
    backing_off(&server, Duration::from_millis(10))
        .flaky()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_millis(2500)).contains(&waited),
        "{waited:?}"
    );
}

#[tokio::test]
async fn the_clients_cap_replaces_the_default() {
    let client = |url: &str| {
        Client::builder(Environment::Custom(url.parse().unwrap()))
            .credentials(Credentials::new("app", "secret"))
            .max_body(1000)
            .build()
            .unwrap()
    };
    let url = serve_once(token_body(1000), Framing::Chunked).await;
    let token = client(&url).client_credentials_token(Scope::Pis).await;
    assert!(token.is_ok(), "{token:?}");
    let url = serve_once(token_body(1001), Framing::Chunked).await;
    let error = client(&url)
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 1000, .. }),
        "{error:?}"
    );
}

/// Answers 503 to the first `failures` requests and 200 after, noting when each came.
struct Failing {
    failures: usize,
    arrivals: Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

impl wiremock::Respond for Failing {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().unwrap();
        arrivals.push(std::time::Instant::now());
        if arrivals.len() <= self.failures {
            ResponseTemplate::new(503)
        } else {
            ResponseTemplate::new(200).set_body_string("{}")
        }
    }
}

#[tokio::test]
async fn retries_are_spread_by_jitter() {
    let server = MockServer::start().await;
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    Mock::given(path("/flaky"))
        .respond_with(Failing {
            failures: 3,
            arrivals: arrivals.clone(),
        })
        .expect(4)
        .mount(&server)
        .await;
    backing_off(&server, Duration::from_millis(100))
        .flaky()
        .await
        .unwrap();
    let arrivals = arrivals.lock().unwrap().clone();
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    // Each wait is drawn from the upper half of its window (100, 200, 400 ms): at least the
    // half, and (with jitter) almost surely more. All three landing within 5 ms of their
    // lower bound has a chance of about 1 in 10,000 with jitter; without it, it is certain.
    let halves = [50, 100, 200].map(Duration::from_millis);
    for (gap, half) in gaps.iter().zip(halves) {
        assert!(*gap >= half, "{gaps:?}");
    }
    let all_at_the_bound = gaps
        .iter()
        .zip(halves)
        .all(|(gap, half)| *gap < half + Duration::from_millis(5));
    assert!(!all_at_the_bound, "no jitter: {gaps:?}");
}

#[tokio::test]
async fn a_retry_after_equal_to_the_cap_is_honoured() {
    let server = MockServer::start().await;
    failing_then_ok(
        &server,
        ResponseTemplate::new(503).insert_header("retry-after", "1"),
        1,
    )
    .await;
    // The cap is 1 s: a Retry-After of exactly 1 s is waited for, then the call succeeds.
    let policy = RetryPolicy::new(
        Duration::from_millis(10),
        Duration::from_secs(1),
        Duration::from_secs(1),
    );
    retrying(&server.uri(), policy).flaky().await.unwrap();
}
