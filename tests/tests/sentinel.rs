//! The Redis store through Sentinel: a primary, a replica and three sentinels started on
//! free 127.0.0.1 ports; the primary killed; the store writes to the primary the sentinels
//! promoted.
//!
//! On a machine without `redis-server` these tests are ignored, with the reason
//! (`tests/build.rs`); with `CI` set they run, and fail.

use fintecture_oauth::{
    AtRest, Grant, GrantKey, RedisSentinel, RedisTokenStore, Swap, TokenRecord, TokenStore,
};
use std::time::{Duration, SystemTime};
use tests::{RedisServer, SentinelServer};
use tokio::time::Instant;

const KEY: [u8; 32] = *b"an example key of 32 bytes, test";
const MASTER: &str = "fintecture-test";

async fn command(url: &str, args: &[&str]) -> redis::Value {
    let mut raw = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd(args[0])
        .arg(&args[1..])
        .query_async(&mut raw)
        .await
        .unwrap()
}

/// Waits (at most 30 s) until `condition` holds of what `url` answers to `args`.
async fn until(url: &str, args: &[&str], condition: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = format!("{:?}", command(url, args).await);
        if condition(&answer) {
            return;
        }
        assert!(Instant::now() < deadline, "{args:?} still answers {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn record(version: u64) -> TokenRecord {
    TokenRecord::new(
        format!("at-{version}").into(),
        None,
        SystemTime::now(),
        SystemTime::now() + Duration::from_secs(3600),
        version,
    )
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn after_a_failover_the_store_writes_to_the_primary_the_sentinels_promoted() {
    let mut primary = RedisServer::start(false);
    let replica = RedisServer::start(false);
    let primary_port = primary.port().to_string();
    command(&replica.url(), &["REPLICAOF", "127.0.0.1", &primary_port]).await;
    until(&replica.url(), &["INFO", "replication"], |info| {
        info.contains("master_link_status:up")
    })
    .await;
    let sentinels: Vec<SentinelServer> = (0..3)
        .map(|_| SentinelServer::start(MASTER, primary.port()))
        .collect();
    let urls: Vec<String> = sentinels.iter().map(SentinelServer::url).collect();
    // Each sentinel has found the replica and the other sentinels.
    for url in &urls {
        until(url, &["SENTINEL", "replicas", MASTER], |answer| {
            answer.contains(&replica.port().to_string())
        })
        .await;
        until(url, &["SENTINEL", "sentinels", MASTER], |answer| {
            urls.iter().filter(|other| *other != url).all(|other| {
                let port = other.trim_end_matches('/').rsplit(':').next().unwrap();
                answer.contains(port)
            })
        })
        .await;
    }
    let store = RedisTokenStore::with_sentinel(
        RedisSentinel::new(MASTER, urls.clone()),
        AtRest::aes_256_gcm(&KEY).unwrap(),
    )
    .unwrap();
    let key = GrantKey::new(
        "https://api.example",
        "app",
        Grant::Customer {
            customer_id: "alice".into(),
        },
    );
    let lease = store
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let written = store
        .swap_and_unlock(&key, 0, &record(1), &lease)
        .await
        .unwrap();
    assert_eq!(written, Swap::Written);
    let name = store.key_name(&key);
    until(&replica.url(), &["HGET", &name, "version"], |v| {
        v.contains("'\"1\"'")
    })
    .await;

    // The primary dies; the sentinels promote the replica.
    primary.kill();
    until(
        &urls[0],
        &["SENTINEL", "get-master-addr-by-name", MASTER],
        |answer| answer.contains(&replica.port().to_string()),
    )
    .await;
    until(&replica.url(), &["ROLE"], |role| role.contains("master")).await;
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
        .swap_and_unlock(&key, 1, &record(2), &lease)
        .await
        .unwrap();
    assert_eq!(written, Swap::Written);
    let on_new = command(&replica.url(), &["HGET", &name, "version"]).await;
    assert_eq!(on_new, redis::Value::BulkString(b"2".to_vec()));
    drop(sentinels);
}
