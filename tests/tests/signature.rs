//! HTTP signatures: verified with the public key (RSA verification over a signing string
//! rebuilt here from the request as received), the digest's known vector, the emulator
//! accepting signed calls and rejecting tampered ones, and bad keys refused at configuration.

use base64::Engine as _;
use fintecture_emulator::{Emulator, EmulatorConfig};
use fintecture_oauth::{Client, Credentials, Environment, ExposeSecret, Scope, SignRequests};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::{Digest, Sha256};
use rsa::signature::Verifier;
use tests::{Sample, Thing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Throwaway keys: see keys/README.md.
const PRIVATE: &str = include_str!("../keys/app-test-only.pem");
const PUBLIC: &str = include_str!("../keys/app-test-only.pub.pem");
const OTHER_PRIVATE: &str = include_str!("../keys/other-test-only.pem");
const APP_ID: &str = "app-id-1";

fn signing_client(base: &str, key: &str, when: SignRequests) -> Client {
    Client::builder(Environment::Custom(base.parse().unwrap()))
        .credentials(Credentials::new(APP_ID, "secret"))
        .bearer_token("token".to_string().into())
        .signing_key_pem(key)
        .sign_requests(when)
        .build()
        .unwrap()
}

/// Verifies the received request's signature from scratch, following the recipe. The
/// X-Request-ID is the caller's own when given, else a fresh UUID v4.
fn verify(request: &wiremock::Request, callers_id: Option<&str>) -> String {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let signature = header("signature").expect("a Signature header");
    let field = |name: &str| {
        let start = signature.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = signature[start..].find('"').unwrap() + start;
        signature[start..end].to_owned()
    };
    assert_eq!(field("keyId"), APP_ID);
    assert_eq!(field("algorithm"), "rsa-sha256");
    let date = header("date").unwrap();
    httpdate::parse_http_date(&date).expect("an IMF-fixdate");
    assert!(date.ends_with(" GMT"));
    let request_id = header("x-request-id").unwrap();
    match callers_id {
        Some(id) => assert_eq!(request_id, id, "the caller's X-Request-ID is kept"),
        None => {
            assert_eq!(request_id.len(), 36);
            assert_eq!(&request_id[14..15], "4", "a UUID v4: {request_id}");
        }
    }
    let mut target = request.url.path().to_string();
    if let Some(query) = request.url.query() {
        target = format!("{target}?{query}");
    }
    let method = request.method.as_str().to_lowercase();
    let mut lines = vec![
        format!("(request-target): {method} {target}"),
        format!("date: {date}"),
    ];
    if matches!(method.as_str(), "post" | "put" | "patch") {
        let digest = format!(
            "SHA-256={}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&request.body))
        );
        assert_eq!(header("digest").as_deref(), Some(digest.as_str()));
        lines.push(format!("digest: {digest}"));
        assert_eq!(
            field("headers"),
            "(request-target) date digest x-request-id"
        );
    } else {
        assert_eq!(header("digest"), None);
        assert_eq!(field("headers"), "(request-target) date x-request-id");
    }
    lines.push(format!("x-request-id: {request_id}"));
    let string = lines.join("\n");
    let key = VerifyingKey::<Sha256>::new(rsa::PublicKey::from_public_key_pem(PUBLIC).unwrap());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(field("signature"))
        .unwrap();
    let signature = Signature::try_from(bytes.as_slice()).unwrap();
    key.verify(string.as_bytes(), &signature)
        .expect("the signature verifies");
    target
}

#[test]
fn digest_matches_the_known_vector() {
    assert_eq!(
        fintecture_oauth::signature::digest(b"test"),
        "SHA-256=n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    );
}

#[tokio::test]
async fn signatures_verify_with_the_public_key() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"name":"n","count":1})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let client = signing_client(&server.uri(), PRIVATE, SignRequests::Always);

    // A body with non-ASCII text, and a query.
    let thing = Thing {
        name: "Zoë — 12,50 € ✓".into(),
        count: 7,
        note: Some("日本".into()),
    };
    client.replace_json(1, 2, &thing).await.unwrap();
    client.maybe(Some(5)).await.unwrap();
    // No query: the target has no bare `?`.
    client.maybe(None).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let targets: Vec<String> = requests.iter().map(|r| verify(r, None)).collect();
    assert_eq!(targets, ["/things/1/v2", "/maybe?since=5", "/maybe"]);
    assert!(String::from_utf8_lossy(&requests[0].body).contains("Zoë"));
}

#[tokio::test]
async fn signing_defaults_production_only_and_not_the_token_endpoints() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"access_token":"a"}"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;

    // The default mode signs in production only: not here.
    signing_client(&server.uri(), PRIVATE, SignRequests::Production)
        .maybe(None)
        .await
        .unwrap();
    // Always: the API call is signed, the token call is not...
    let always = signing_client(&server.uri(), PRIVATE, SignRequests::Always);
    always.maybe(None).await.unwrap();
    always.client_credentials_token(Scope::Pis).await.unwrap();
    // ...unless asked.
    let tokens_too = Client::builder(Environment::Custom(server.uri().parse().unwrap()))
        .credentials(Credentials::new(APP_ID, "secret"))
        .signing_key_pem(PRIVATE)
        .sign_requests(SignRequests::Always)
        .sign_token_endpoints(true)
        .build()
        .unwrap();
    tokens_too
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap();

    let signed: Vec<bool> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers.contains_key("signature"))
        .collect();
    assert_eq!(signed, [false, true, false, true]);
}

#[test]
fn a_bad_key_fails_at_configuration_with_a_clear_message() {
    let build = |key: &str, credentials: bool| {
        let mut builder = Client::builder(Environment::Production).signing_key_pem(key);
        if credentials {
            builder = builder.credentials(Credentials::new(APP_ID, "secret"));
        }
        builder.build().unwrap_err().to_string()
    };
    for bad in ["", "not a key", PUBLIC, &PRIVATE.replace('A', "B")] {
        let message = build(bad, true);
        assert!(message.contains("not a PKCS#8 PEM RSA key"), "{message}");
        assert!(!message.contains("MII"), "the key is not echoed: {message}");
    }
    assert!(build(PRIVATE, false).contains("configure credentials"));
    // And a good key builds.
    Client::builder(Environment::Production)
        .credentials(Credentials::new(APP_ID, "secret"))
        .signing_key_pem(PRIVATE)
        .build()
        .unwrap();
}

async fn signing_emulator() -> Emulator {
    Emulator::start_with(EmulatorConfig {
        credentials: Credentials::new(APP_ID, "secret"),
        signature_public_key_pem: Some(PUBLIC.into()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn emulator_client(emulator: &Emulator, key: Option<&str>) -> Client {
    let mut builder = Client::builder(emulator.environment()).credentials(emulator.credentials());
    if let Some(key) = key {
        builder = builder
            .signing_key_pem(key)
            .sign_requests(SignRequests::Always);
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn the_emulator_accepts_signed_calls_and_rejects_others() {
    let emulator = signing_emulator().await;
    let signed = emulator_client(&emulator, Some(PRIVATE));
    // Accepted: a 404 for an unknown session means the signature (and the token) passed.
    let error = signed.protected_pis_payment("s-é 1").await.unwrap_err();
    assert_eq!(
        error.api().unwrap().code(),
        Some("session_not_found"),
        "{error}"
    );

    for client in [
        emulator_client(&emulator, Some(OTHER_PRIVATE)),
        emulator_client(&emulator, None),
    ] {
        let error = client.protected_pis_payment("s").await.unwrap_err();
        assert_eq!(error.status().map(|s| s.as_u16()), Some(401), "{error}");
        assert_eq!(
            error.api().unwrap().code(),
            Some("invalid_signature"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn the_emulator_rejects_a_tampered_body_or_target() {
    let emulator = signing_emulator().await;
    let client = emulator_client(&emulator, Some(PRIVATE));
    // Sign a real JSON POST, then replay it by hand with changes.
    let thing = Thing {
        name: "ok".into(),
        count: 1,
        note: None,
    };
    // The emulator has no such route: a 404 means the signature was accepted.
    let error = client.replace_json(1, 1, &thing).await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404), "{error}");
    let recorded = emulator.requests().pop().unwrap();
    assert!(recorded.header("signature").is_some());

    let replay = |path: &str, body: &[u8]| {
        let mut head = format!(
            "PUT {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
            emulator.url().authority()
        );
        for name in [
            "authorization",
            "date",
            "digest",
            "x-request-id",
            "signature",
            "content-type",
        ] {
            if let Some(value) = recorded.header(name) {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        [head.into_bytes(), body.to_vec()].concat()
    };
    let address = emulator.url().socket_addrs(|| None).unwrap()[0];
    let send = |bytes: Vec<u8>| async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    // Untouched: the signature holds (the route is unknown: 404).
    let answer = send(replay(&recorded.path, &recorded.body)).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    // Another body: the digest no longer matches.
    let answer = send(replay(&recorded.path, br#"{"name":"evil","count":1}"#)).await;
    assert!(
        answer.starts_with("HTTP/1.1 401") && answer.contains("Digest does not match"),
        "{answer}"
    );
    // Another target: the signature no longer verifies.
    let answer = send(replay("/things/2/v1", &recorded.body)).await;
    assert!(
        answer.starts_with("HTTP/1.1 401") && answer.contains("does not verify"),
        "{answer}"
    );
}

/// A GET signed by hand: the `Date` and the order of the signed headers are the test's.
async fn signed_by_hand(
    emulator: &Emulator,
    token: &str,
    date: std::time::SystemTime,
    signed: &str,
) -> String {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let key = rsa::pkcs1v15::SigningKey::<Sha256>::new(
        rsa::PrivateKey::from_pkcs8_pem(PRIVATE.trim()).unwrap(),
    );
    let path = "/pis/v2/payments/nope";
    let date = httpdate::fmt_http_date(date);
    let line = |name: &str| match name {
        "(request-target)" => format!("(request-target): get {path}"),
        "date" => format!("date: {date}"),
        "x-request-id" => "x-request-id: r-1".to_string(),
        other => panic!("{other}"),
    };
    let string: Vec<String> = signed.split(' ').map(line).collect();
    let signature = base64::engine::general_purpose::STANDARD
        .encode(key.sign(string.join("\n").as_bytes()).to_bytes());
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\
         authorization: Bearer {token}\r\ndate: {date}\r\nx-request-id: r-1\r\n\
         signature: keyId=\"{APP_ID}\",algorithm=\"rsa-sha256\",headers=\"{signed}\",signature=\"{signature}\"\r\n\r\n",
        host = emulator.url().authority(),
    );
    let address = emulator.url().socket_addrs(|| None).unwrap()[0];
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn the_emulator_checks_the_signed_date_and_accepts_any_order_of_the_required_headers() {
    use std::time::{Duration, SystemTime};
    let emulator = signing_emulator().await;
    let token = emulator_client(&emulator, None)
        .client_credentials_token(Scope::Pis)
        .await
        .unwrap();
    let token = token.access_token.expose_secret().to_owned();
    let now = SystemTime::now();
    let minutes = |m: u64| Duration::from_secs(60 * m);
    let usual = "(request-target) date x-request-id";
    // A 404 for the unknown session: the signature was accepted.
    for (date, signed) in [
        (now, usual),
        (now, "x-request-id date (request-target)"),
        (now - minutes(4), usual),
        (now + minutes(4), usual),
    ] {
        let answer = signed_by_hand(&emulator, &token, date, signed).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{signed}: {answer}");
    }
    for (date, signed, reason) in [
        (now - minutes(6), usual, "more than 5 minutes off"),
        (now + minutes(6), usual, "more than 5 minutes off"),
        (now, "date x-request-id", "must include (request-target)"),
        (now, "(request-target) x-request-id", "must include date"),
    ] {
        let answer = signed_by_hand(&emulator, &token, date, signed).await;
        assert!(
            answer.starts_with("HTTP/1.1 401") && answer.contains(reason),
            "{signed}: {answer}"
        );
    }
}

/// A PATCH, and a caller who sets the X-Request-ID.
#[fintecture_oauth::api]
pub trait Patching {
    /// Patches a thing, with the caller's own request id.
    #[endpoint(patch = "/things/{id}", json)]
    async fn patch_thing(
        &self,
        id: u32,
        #[header("X-Request-ID")] request_id: &str,
        #[body] thing: &Thing,
    ) -> Result<(), fintecture_oauth::Error>;
}

#[tokio::test]
async fn a_patch_is_signed_with_its_digest_and_the_callers_request_id_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = signing_client(&server.uri(), PRIVATE, SignRequests::Always);
    let thing = Thing {
        name: "patched".into(),
        count: 2,
        note: None,
    };
    client.patch_thing(3, "caller-id-7", &thing).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    // `verify` checks the Digest of PATCH bodies and the signed list that includes it.
    assert_eq!(verify(&requests[0], Some("caller-id-7")), "/things/3");
}
