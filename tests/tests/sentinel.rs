//! The Redis store through Sentinel: a primary, a replica and three sentinels started on
//! free 127.0.0.1 ports; the primary killed; the store writes to the primary the sentinels
//! promoted.
//!
//! On a machine without `redis-server` these tests are ignored, with the reason
//! (`tests/build.rs`); with `CI` set they run, and fail.

use fintecture_emulator::{Emulator, EmulatorConfig};
use fintecture_oauth::{
    AtRest, Client, Grant, GrantKey, RedisSentinel, RedisTokenStore, Swap, TokenStore,
};
use std::sync::Arc;
use std::time::Duration;
use tests::{
    RedisServer, Relay, STORE_KEY, SentinelServer,
    everyone_is_served_again_and_no_refresh_token_twice, example_customer_key, example_record,
    redis_command, redis_store, serve_round, until_answers,
};
use tokio::time::Instant;

const MASTER: &str = "fintecture-test";

/// Waits until the failover to `replica` is over. The sentinels name the replica as soon as
/// they choose it; the failover is over once it says it is a primary and no sentinel is
/// still at it.
async fn until_failed_over(urls: &[String], replica: &RedisServer) {
    let port = replica.port().to_string();
    until_answers(
        &urls[0],
        &["SENTINEL", "get-master-addr-by-name", MASTER],
        |answer| answer.contains(&port),
    )
    .await;
    until_answers(&replica.url(), &["ROLE"], |role| role.contains("master")).await;
    for url in urls {
        until_answers(url, &["SENTINEL", "master", MASTER], |answer| {
            !answer.contains("failover_in_progress") && answer.contains(&port)
        })
        .await;
    }
}

/// A primary, its replica, and three sentinels that know them and each other.
async fn deployment() -> (
    RedisServer,
    RedisServer,
    Relay,
    Vec<SentinelServer>,
    Vec<String>,
) {
    let primary = RedisServer::start(false);
    let replica = RedisServer::start(false);
    // The replica reaches the primary through a relay: a link that can be cut.
    let link = Relay::start(primary.port()).await;
    let link_port = link.port().to_string();
    redis_command(&replica.url(), &["REPLICAOF", "127.0.0.1", &link_port]).await;
    until_answers(&replica.url(), &["INFO", "replication"], |info| {
        info.contains("master_link_status:up")
    })
    .await;
    let sentinels: Vec<SentinelServer> = (0..3)
        .map(|_| SentinelServer::start(MASTER, primary.port()))
        .collect();
    let urls: Vec<String> = sentinels.iter().map(SentinelServer::url).collect();
    // Each sentinel has found the replica and the other sentinels.
    for url in &urls {
        until_answers(url, &["SENTINEL", "replicas", MASTER], |answer| {
            answer.contains(&replica.port().to_string())
        })
        .await;
        until_answers(url, &["SENTINEL", "sentinels", MASTER], |answer| {
            urls.iter().filter(|other| *other != url).all(|other| {
                let port = other.trim_end_matches('/').rsplit(':').next().unwrap();
                answer.contains(port)
            })
        })
        .await;
    }
    (primary, replica, link, sentinels, urls)
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn after_a_failover_the_store_writes_to_the_primary_the_sentinels_promoted() {
    let (mut primary, replica, _link, sentinels, urls) = deployment().await;
    let store = RedisTokenStore::with_sentinel(
        RedisSentinel::new(MASTER, urls.clone()),
        AtRest::aes_256_gcm(&STORE_KEY).unwrap(),
    )
    .unwrap();
    let key = example_customer_key("alice");
    let lease = store
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let written = store
        .swap_and_unlock(&key, 0, &example_record(1), &lease)
        .await
        .unwrap();
    assert_eq!(written, Swap::Written);
    let name = store.key_name(&key);
    until_answers(&replica.url(), &["HGET", &name, "version"], |v| {
        v.contains("'\"1\"'")
    })
    .await;

    // The primary dies; the sentinels promote the replica.
    primary.kill();
    until_failed_over(&urls, &replica).await;
    // The store follows: the next calls may fail while it finds the new primary, then
    // succeed there.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lease = loop {
        match store.lock(&key, Duration::from_secs(5)).await {
            Ok(Some(lease)) => break lease,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "never reached the new primary: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let written = store
        .swap_and_unlock(&key, 1, &example_record(2), &lease)
        .await
        .unwrap();
    assert_eq!(written, Swap::Written);
    let on_new = redis_command(&replica.url(), &["HGET", &name, "version"]).await;
    assert_eq!(on_new, redis::Value::BulkString(b"2".to_vec()));
    drop(sentinels);
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_failover_after_replication_was_cut_loses_no_consent() {
    let (mut primary, replica, link, sentinels, urls) = deployment().await;
    let emulator = Emulator::start_with(EmulatorConfig {
        token_lifetime: Duration::from_secs(4),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    // Four clients, each with its own store, counting on the replica for every write.
    let fleet = || -> Vec<Client> {
        (0..4)
            .map(|_| {
                let store = RedisTokenStore::with_sentinel(
                    RedisSentinel::new(MASTER, urls.clone()),
                    AtRest::aes_256_gcm(&STORE_KEY).unwrap(),
                )
                .unwrap()
                .with_replica_acks(1, Duration::from_millis(200));
                Client::builder(emulator.environment())
                    .credentials(emulator.credentials())
                    .token_store(Arc::new(store))
                    .token_lease(Duration::from_secs(2))
                    .build()
                    .unwrap()
            })
            .collect()
    };
    let clients = fleet();
    let customers: Vec<String> = (0..20).map(|i| format!("customer-{i}")).collect();
    for (i, id) in customers.iter().enumerate() {
        let code = emulator.issue_code(id);
        clients[i % 4]
            .customer(id)
            .authorize(code, None)
            .await
            .unwrap();
    }
    // Tokens are renewed every two seconds or so; a few seconds of that, replicated.
    let everyone = customers.len() * clients.len();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        assert_eq!(serve_round(&clients, &customers).await, everyone);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Replication cut, renewals go on (and are refused: no replica acknowledges them),
    // then the primary dies mid-refresh and the replica is promoted.
    link.cut();
    let cut = Instant::now();
    while cut.elapsed() < Duration::from_secs(2) {
        serve_round(&clients, &customers).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_flight = tokio::spawn({
        let (clients, customers) = (clients.clone(), customers.clone());
        async move { serve_round(&clients, &customers).await }
    });
    primary.kill();
    in_flight.await.unwrap();
    // The old primary (restarted empty) must not come back before the failover is over:
    // the sentinels could then abort it and keep the old one.
    until_failed_over(&urls, &replica).await;
    // The old primary comes back, and the sentinels make it the new primary's replica: the
    // writes have a replica to wait for again.
    primary.restart();
    // A deploy: new processes, nothing in memory, everything from the new primary. Every
    // customer is served again on every one.
    drop(clients);
    let clients = fleet();
    everyone_is_served_again_and_no_refresh_token_twice(&emulator, &clients, &customers).await;
    // The clients write to the new primary.
    let store = redis_store(&replica.url());
    for id in &customers {
        let key = GrantKey::new(
            emulator.url().as_str().trim_end_matches('/'),
            emulator.credentials().app_id(),
            Grant::Customer {
                customer_id: id.clone(),
            },
        );
        let record = store.load(&key).await.unwrap().expect("on the new primary");
        assert!(
            record.version > 1,
            "{id} renewed: version {}",
            record.version
        );
    }
    drop(sentinels);
}
