//! The merchant backend (`examples/src/merchant.rs`) on a 127.0.0.1 port against the
//! emulator, driven through its routes as its front end and a browser would.

use examples::merchant;
use fintecture_emulator::{Emulator, Fault, NextConsent};
use serde_json::{Value, json};

/// The backend on a free port, against `emulator`: its base URL.
async fn start(emulator: &Emulator) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = merchant::router(emulator.client().unwrap(), &url);
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// A browser that does not follow redirects: the test follows them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn pay(url: &str, amount: &str) -> (u16, Value) {
    let response = browser()
        .post(format!("{url}/pay"))
        .header("content-type", "application/json")
        .body(json!({ "amount": amount, "communication": "Order 42" }).to_string())
        .send()
        .await
        .unwrap();
    body(response).await
}

/// `user` connects their bank: the cookie the backend set, and the callback's answer.
async fn connect_bank(url: &str, user: &str, cookie: bool) -> (u16, Value) {
    let started = browser()
        .get(format!("{url}/bank/connect"))
        .header("x-user", user)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 303);
    let picker = started.headers()["location"].to_str().unwrap().to_owned();
    let set_cookie = started.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let bank = browser().get(&picker).send().await.unwrap();
    assert_eq!(bank.status().as_u16(), 302);
    let callback = bank.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("{url}/bank/callback?")),
        "{callback}"
    );
    let mut request = browser().get(&callback).header("x-user", user);
    if cookie {
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        request = request.header("cookie", pair);
    }
    body(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_payment_is_made_and_read_and_a_bad_one_names_its_field() {
    let emulator = Emulator::start().await.unwrap();
    let url = start(&emulator).await;
    let (status, session) = pay(&url, "12.50").await;
    assert_eq!(status, 200, "{session}");
    let id = session["session_id"].as_str().unwrap();
    assert!(session["url"].as_str().is_some(), "{session}");
    let (status, read) = body(
        browser()
            .get(format!("{url}/payments/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, read["session_id"].as_str()), (200, Some(id)));
    let (status, _) = body(
        browser()
            .get(format!("{url}/payments/nope"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);

    let (status, refused) = pay(&url, "12.505").await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["errors"][0]["field"], "/data/attributes/amount");
}

#[tokio::test]
async fn a_customer_connects_their_bank_and_reads_their_accounts() {
    let emulator = Emulator::start().await.unwrap();
    let url = start(&emulator).await;
    let accounts = |user: &'static str| {
        let url = url.clone();
        async move {
            let request = browser()
                .get(format!("{url}/accounts"))
                .header("x-user", user);
            body(request.send().await.unwrap()).await
        }
    };
    assert_eq!(accounts("julie").await.0, 404, "not connected yet");

    emulator.next_consent(NextConsent::GrantedAs("julie-at-her-bank".into()));
    let (status, connected) = connect_bank(&url, "julie", true).await;
    assert_eq!(
        (status, connected["connected"].as_str()),
        (200, Some("julie-at-her-bank"))
    );
    let (status, list) = accounts("julie").await;
    assert_eq!(status, 200, "{list}");
    assert!(
        list["data"].as_array().is_some_and(|a| !a.is_empty()),
        "{list}"
    );

    // Without the cookie the callback is refused, and nothing is connected.
    let (status, refused) = connect_bank(&url, "max", false).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(accounts("max").await.0, 404);
    // A refused consent is a 400 too.
    emulator.next_consent(NextConsent::Refused {
        error: "access_denied".into(),
        description: "cancelled".into(),
    });
    let (status, refused) = connect_bank(&url, "max", true).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("access_denied"),
        "{refused}"
    );
}

#[tokio::test]
async fn the_providers_failures_are_told_apart() {
    let emulator = Emulator::start().await.unwrap();
    let url = start(&emulator).await;
    emulator.inject(
        "/oauth/accesstoken",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
    );
    assert_eq!(pay(&url, "12.50").await.0, 503, "retryable: try again");
    assert_eq!(pay(&url, "12.50").await.0, 200, "and it works again");
    // A customer whose grant the bank revoked must reconnect.
    emulator.next_consent(NextConsent::GrantedAs("revoked".into()));
    assert_eq!(connect_bank(&url, "ana", true).await.0, 200);
    emulator.revoke(&fintecture_emulator::TokenSelector::CustomerId(
        "revoked".into(),
    ));
    let request = browser()
        .get(format!("{url}/accounts"))
        .header("x-user", "ana");
    let (status, answer) = body(request.send().await.unwrap()).await;
    assert_eq!(status, 409, "{answer}");
}
