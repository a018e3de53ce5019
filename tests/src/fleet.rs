//! What the fleet tests share: serving every customer on every client once, waiting for a
//! Redis node to answer as expected, and counting the refresh tokens the emulator received.

use crate::{Sample, is_reauthorize, redis_command};
use fintecture_emulator::Emulator;
use fintecture_oauth::Client;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

/// Every customer on every client once, all at the same time: how many were served.
/// Panics on a `Reauthorize` (a lost consent); other failures (Redis unavailable while a
/// renewal was due) are counted as not served.
pub async fn serve_round(clients: &[Client], customers: &[String]) -> usize {
    let calls: Vec<_> = customers
        .iter()
        .flat_map(|id| clients.iter().map(move |c| c.customer(id)))
        .map(|client| {
            tokio::spawn(async move {
                let id = client.customer_id().unwrap_or_default().to_owned();
                (id.clone(), client.customer_accounts(&id).await)
            })
        })
        .collect();
    let mut served = 0;
    for call in calls {
        match call
            .await
            .unwrap_or_else(|e| panic!("a call panicked: {e}"))
        {
            (_, Ok(_)) => served += 1,
            (id, Err(error)) => assert!(!is_reauthorize(&error), "{id}: {error:?}"),
        }
    }
    served
}

/// Waits (at most 30 s) until `condition` holds of what the Redis at `url` answers to
/// `args`; panics with the last answer after that.
pub async fn until_answers(url: &str, args: &[&str], condition: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = format!("{:?}", redis_command(url, args).await);
        if condition(&answer) {
            return;
        }
        assert!(Instant::now() < deadline, "{args:?} still answers {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many refreshes the emulator received, and how many distinct refresh tokens they
/// carried.
pub fn refresh_tokens(emulator: &Emulator) -> (usize, usize) {
    let used: Vec<String> = emulator
        .requests_to("/oauth/refreshtoken")
        .iter()
        .map(|r| {
            r.form_field("refresh_token")
                .unwrap_or_else(|| panic!("a refresh without a refresh token"))
        })
        .collect();
    let distinct: HashSet<&String> = used.iter().collect();
    (used.len(), distinct.len())
}

/// After a failover and a deploy (`clients` new, nothing in memory): every customer is
/// served again on every client within 30 s, no refresh was refused, and each refresh token
/// was sent once.
pub async fn everyone_is_served_again_and_no_refresh_token_twice(
    emulator: &Emulator,
    clients: &[Client],
    customers: &[String],
) {
    let everyone = customers.len() * clients.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while serve_round(clients, customers).await < everyone {
        assert!(
            Instant::now() < deadline,
            "not every customer is served again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refreshes = emulator.requests_to("/oauth/refreshtoken");
    let refused = refreshes
        .iter()
        .filter(|r| r.status != Some(fintecture_oauth::http::StatusCode::OK))
        .count();
    assert_eq!(refused, 0, "refreshes were refused");
    let (used, distinct) = refresh_tokens(emulator);
    assert_eq!(distinct, used, "a refresh token was sent twice");
}
