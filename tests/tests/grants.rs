//! Tokens per grant against the emulator: each customer's calls carry that customer's own
//! token, renewals happen once per grant however many callers ask, and a token in its
//! refresh window keeps serving while it is renewed in the background.

use fintecture_emulator::{Emulator, Fault};
use fintecture_oauth::{BuildError, Client, Error, Scope};
use std::collections::HashSet;
use std::time::Duration;
use tests::{Sample, jump};

/// The `Authorization` header of each request to `path`, in order.
fn bearers(emulator: &Emulator, path: &str) -> Vec<String> {
    emulator
        .requests_to(path)
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect()
}

fn accounts_path(customer_id: &str) -> String {
    format!("/ais/v1/customer/{customer_id}/accounts")
}

/// Authorizes `customer_id` with a code the emulator issues, and returns its client.
async fn authorized(emulator: &Emulator, client: &Client, customer_id: &str) -> Client {
    let customer = client.customer(customer_id);
    customer
        .authorize(emulator.issue_code(customer_id), None)
        .await
        .unwrap();
    customer
}

#[tokio::test]
async fn each_customer_gets_its_own_token_and_renewing_one_leaves_the_other() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let alice = authorized(&emulator, &client, "alice").await;
    let bob = authorized(&emulator, &client, "bob").await;

    alice.customer_accounts("alice").await.unwrap();
    bob.customer_accounts("bob").await.unwrap();
    let (alice_token, bob_token) = (
        bearers(&emulator, &accounts_path("alice")).remove(0),
        bearers(&emulator, &accounts_path("bob")).remove(0),
    );
    assert_ne!(alice_token, bob_token);
    // The emulator refuses a customer's token on another customer's resources.
    let error = alice.customer_accounts("bob").await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(403), "{error}");

    // A 401 on Alice's call renews Alice's grant only.
    emulator.inject(
        &accounts_path("alice"),
        Fault::Status {
            status: 401,
            retry_after: None,
        },
    );
    alice.customer_accounts("alice").await.unwrap();
    bob.customer_accounts("bob").await.unwrap();
    assert_eq!(emulator.requests_to("/oauth/refreshtoken").len(), 1);
    let alice_calls = bearers(&emulator, &accounts_path("alice"));
    let renewed = alice_calls.last().unwrap();
    assert_ne!(renewed, &alice_token, "Alice's retry carries her new token");
    let bob_calls = bearers(&emulator, &accounts_path("bob"));
    assert_eq!(
        bob_calls.last(),
        Some(&bob_token),
        "Bob's token is untouched"
    );
    assert_eq!(client.cached_customers(), 2);
}

#[tokio::test]
async fn an_ais_call_without_a_customer_names_the_endpoint() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let error = client.customer_accounts("alice").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Build(BuildError::NoCustomer {
                endpoint: "Sample::customer_accounts"
            })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("client.customer("), "{error}");
    let error = client.access_token(&Scope::Ais).await.unwrap_err();
    assert!(
        error.to_string().contains("Client::access_token"),
        "{error}"
    );
    assert!(emulator.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_disconnected_or_unknown_customer_must_authorize_again() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let alice = authorized(&emulator, &client, "alice").await;
    alice.customer_accounts("alice").await.unwrap();
    alice.disconnect().await.unwrap();
    for customer in ["alice", "nobody"] {
        let error = client
            .customer(customer)
            .customer_accounts(customer)
            .await
            .unwrap_err();
        match &error {
            Error::Reauthorize {
                customer: Some(who),
                ..
            } => assert_eq!(who, customer),
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains(customer), "{error}");
    }
    assert_eq!(client.cached_customers(), 0, "no slot is kept for them");
    // Alice consents again: her calls work again.
    let alice = authorized(&emulator, &client, "alice").await;
    alice.customer_accounts("alice").await.unwrap();
}

#[tokio::test]
async fn ten_thousand_callers_of_the_app_grant_on_a_cold_cache_make_one_request() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.access_token(&Scope::Pis).await })
        })
        .collect();
    let mut tokens = HashSet::new();
    for task in tasks {
        tokens.insert(task.await.unwrap().unwrap().expose_secret().to_owned());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 1);
}

#[tokio::test]
async fn ten_thousand_callers_over_a_hundred_expired_customers_make_a_hundred_refreshes() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let ids: Vec<String> = (0..100).map(|i| format!("customer-{i}")).collect();
    for id in &ids {
        authorized(&emulator, &client, id).await;
    }
    // Past expiry, here and in the emulator.
    jump(Duration::from_secs(3600)).await;
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let client = client.customer(&ids[i % ids.len()]);
            tokio::spawn(async move { client.access_token(&Scope::Ais).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // The renewed tokens are each customer's own: the emulator checks.
    for id in &ids {
        client.customer(id).customer_accounts(id).await.unwrap();
    }
    let refreshes = emulator.requests_to("/oauth/refreshtoken");
    assert_eq!(refreshes.len(), 100);
    let used: HashSet<_> = refreshes
        .iter()
        .map(|r| r.form_field("refresh_token").unwrap())
        .collect();
    assert_eq!(used.len(), 100, "each refresh token was used once");
}

#[tokio::test]
async fn in_the_refresh_window_callers_keep_the_current_token_while_one_refresh_runs() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let first = client.access_token(&Scope::Pis).await.unwrap();
    let first = first.expose_secret().to_owned();
    // 300 s before expiry: inside the default window (at least 360 s for a 1 h token),
    // outside the 10 s margin.
    jump(Duration::from_secs(3300)).await;
    emulator.inject(
        "/oauth/accesstoken",
        Fault::Delay(Duration::from_millis(500)),
    );
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let token = client.access_token(&Scope::Pis).await.unwrap();
                token.expose_secret().to_owned()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), first, "nobody waited for the refresh");
    }
    // The refresh lands in the background, and is used from then on.
    let mut renewed = first.clone();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        renewed = client
            .access_token(&Scope::Pis)
            .await
            .unwrap()
            .expose_secret()
            .to_owned();
        if renewed != first {
            break;
        }
    }
    assert_ne!(renewed, first);
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 2);
}
