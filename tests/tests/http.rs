//! Generated callers against a real HTTP server on 127.0.0.1 (wiremock): success, error
//! statuses with their bodies, decode failures, empty and raw responses, `Send` futures.

use fintecture_oauth::{Client, Environment, Error, SecretString};
use tests::{Filter, Sample, Sort, Thing, client_for};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn thing() -> Thing {
    Thing {
        name: "n".into(),
        count: 1,
        note: None,
    }
}

#[tokio::test]
async fn success_decodes_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/things/a%2Fb"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("x-static", "yes"))
        .and(body_string("name=n&count=1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(thing()))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    assert_eq!(client.create_form("a/b", &thing()).await.unwrap(), thing());
}

#[tokio::test]
async fn query_and_header_arguments_reach_the_server() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/things/1"))
        .and(query_param("state", "a b"))
        .and(query_param("page", "3"))
        .and(query_param("sort", "asc"))
        .and(header("x-request-id", "rid"))
        .respond_with(ResponseTemplate::new(200).set_body_json(thing()))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    let filter = Filter {
        state: "a b",
        since: None,
    };
    client
        .get_thing("1", &filter, 3, Sort::Asc, "rid")
        .await
        .unwrap();
}

#[tokio::test]
async fn error_status_keeps_status_headers_and_body() {
    let server = MockServer::start().await;
    let body = r#"{"status":"400","code":"bad_request","log_id":"L-1","errors":[{"code":"invalid_name","title":"Invalid name","message":"name is too long"}]}"#;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-request-id", "R-9")
                .set_body_raw(body, "application/json"),
        )
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    let error = client.replace_json(1, 2, &thing()).await.unwrap_err();
    let api = error.api().expect("an API error");
    assert_eq!(api.status(), 400);
    assert_eq!(api.body(), body.as_bytes());
    assert_eq!(api.code(), Some("bad_request"));
    assert_eq!(api.log_id(), Some("L-1"));
    assert_eq!(api.request_id(), Some("R-9"));
    assert_eq!(api.errors()[0].code.as_deref(), Some("invalid_name"));
    assert_eq!(
        error.to_string(),
        "Sample::replace_json: HTTP 400 Bad Request bad_request [invalid_name]: name is too \
         long (log_id L-1, x-request-id R-9)"
    );
}

#[tokio::test]
async fn decode_failure_names_the_field_and_does_not_echo_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name":"n","count":"secret-ish"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    let filter = Filter {
        state: "s",
        since: Some(1),
    };
    let error = client
        .get_thing("1", &filter, 1, Sort::Asc, "r")
        .await
        .unwrap_err();
    let Error::Decode(decode) = &error else {
        panic!("expected a decode error: {error:?}")
    };
    assert_eq!(decode.path(), "count");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("count"), "{shown}");
    assert!(!shown.contains("secret-ish"), "{shown}");
    assert_eq!(decode.body(), br#"{"name":"n","count":"secret-ish"}"#);
}

#[tokio::test]
async fn empty_and_raw_responses() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/things/7"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/raw"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("x-k", "v")
                .set_body_string("hi"),
        )
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    client.delete_thing("7").await.unwrap();
    let raw = client.raw().await.unwrap();
    assert_eq!(raw.status(), 202);
    assert_eq!(raw.headers()["x-k"], "v");
    assert_eq!(raw.body().as_ref(), b"hi");
    assert_eq!(raw.into_body().as_ref(), b"hi");
}

#[tokio::test]
async fn body_over_the_endpoint_cap_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/raw"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(1025)))
        .mount(&server)
        .await;
    let error = client_for(&server.uri()).raw().await.unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 1024, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", "https://elsewhere.test/"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    let error = client.create_form("x", &thing()).await.unwrap_err();
    assert!(
        matches!(&error, Error::Redirect { status, location: Some(l), .. }
            if *status == 307 && l == "https://elsewhere.test/"),
        "{error:?}"
    );
}

#[tokio::test]
async fn bearer_endpoint_sends_the_configured_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/protected"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .bearer_token(SecretString::from("tok-1"))
        .build()
        .unwrap();
    client.protected().await.unwrap();
    let without_credentials = Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .build()
        .unwrap();
    let no_token = without_credentials.protected().await.unwrap_err();
    assert!(
        no_token.to_string().contains("needs a bearer token"),
        "{no_token}"
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind then drop a listener to get a local port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client_for(&format!("http://127.0.0.1:{port}"));
    let error = client.delete_thing("1").await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.is_connect() && !error.is_timeout());
    assert_eq!(error.endpoint(), Some("Sample::delete_thing"));
    // One line saying what happened; why is in the causes.
    assert_eq!(error.to_string(), "Sample::delete_thing: could not connect");
    let causes = format!("{:#}", anyhow::Error::from(error));
    assert!(causes.contains("Connection refused"), "{causes}");
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_are_send_and_spawnable() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .expect(8)
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.delete_thing(&i.to_string()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // Compile-time too: every generated future is Send.
    let filter = Filter {
        state: "s",
        since: None,
    };
    drop(assert_send(client.get_thing(
        "1",
        &filter,
        1,
        Sort::Asc,
        "r",
    )));
    drop(assert_send(client.raw()));
}
