//! What a fleet sharing tokens through a real `redis-server` (started by each test on a free
//! 127.0.0.1 port) keeps when Redis does not: no consent lost to a restart while refreshes
//! are on the wire, fences that never go backwards when the counter is lost, and a renewal
//! in two round trips.
//!
//! On a machine without `redis-server` these tests are ignored, with the reason
//! (`tests/build.rs`); with `CI` set they run, and fail.

use fintecture_emulator::{Emulator, Fault};
use fintecture_oauth::{
    AtRest, Client, DEFAULT_TOKEN_LEASE, Grant, GrantKey, RedisTokenStore, Swap, TokenStore,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tests::{
    CountingStore, RedisServer, Relay, STORE_KEY, Sample, TestClock, example_customer_key,
    example_record, is_reauthorize, jump, redis_command, redis_store, replica,
};
use tokio::time::Instant;

fn store(redis: &RedisServer) -> RedisTokenStore {
    redis_store(&redis.url())
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_redis_restart_while_refreshes_are_on_the_wire_loses_no_consent() {
    let mut redis = RedisServer::start(true);
    let emulator = Emulator::start().await.unwrap();
    let clock = TestClock::new();
    let replicas: Vec<Client> = (0..4)
        .map(|_| replica(&emulator, Arc::new(store(&redis)), &clock))
        .collect();
    let customers: Vec<String> = (0..20).map(|i| format!("customer-{i}")).collect();
    for (i, id) in customers.iter().enumerate() {
        let code = emulator.issue_code(id);
        replicas[i % 4]
            .customer(id)
            .authorize(code, None)
            .await
            .unwrap();
    }
    let refreshes = "/oauth/refreshtoken";
    for round in 0..2 {
        // Every token expired; the token endpoint takes half a second to answer.
        clock.advance(Duration::from_secs(3600));
        jump(Duration::from_secs(3600)).await;
        for _ in &customers {
            emulator.inject(refreshes, Fault::Delay(Duration::from_millis(500)));
        }
        let before = emulator.requests_to(refreshes).len();
        // Every replica asks for every customer at once.
        let calls: Vec<_> = customers
            .iter()
            .flat_map(|id| replicas.iter().map(move |r| r.customer(id)))
            .map(|client| {
                let id = client.customer_id().unwrap().to_owned();
                tokio::spawn(async move { client.customer_accounts(&id).await })
            })
            .collect();
        // Redis dies while refreshes are on the wire, and comes back a second later.
        let deadline = Instant::now() + Duration::from_secs(10);
        while emulator.requests_to(refreshes).len() == before {
            assert!(Instant::now() < deadline, "no refresh was sent");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        redis.kill();
        tokio::time::sleep(Duration::from_secs(1)).await;
        redis.restart();
        let back = Instant::now();
        for call in calls {
            if let Err(error) = call.await.unwrap() {
                assert!(!is_reauthorize(&error), "round {round}: {error:?}");
            }
        }
        // Every customer is served again, by every replica, within one lease.
        for id in &customers {
            for replica in &replicas {
                loop {
                    match replica.customer(id).customer_accounts(id).await {
                        Ok(_) => break,
                        Err(error) => {
                            assert!(!is_reauthorize(&error), "round {round}: {error:?}");
                            assert!(
                                back.elapsed() < DEFAULT_TOKEN_LEASE + Duration::from_secs(1),
                                "round {round}: {id} not served within a lease: {error:?}"
                            );
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        }
    }
    // One refresh per customer per round, each with a refresh token never sent before.
    let used: Vec<String> = emulator
        .requests_to(refreshes)
        .iter()
        .map(|r| r.form_field("refresh_token").unwrap())
        .collect();
    let distinct: HashSet<&String> = used.iter().collect();
    assert_eq!(distinct.len(), used.len(), "a refresh token was sent twice");
    assert_eq!(used.len(), 2 * customers.len());
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn fences_never_go_backwards_when_the_counter_is_lost() {
    let redis = RedisServer::start(false);
    let store = store(&redis);
    let key = example_customer_key("alice");
    let name = store.key_name(&key);
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let record = example_record(1);
    let lease_time = Duration::from_secs(5);
    let mut handed_out = Vec::new();
    let first = store.lock(&key, lease_time).await.unwrap().unwrap();
    assert_eq!(
        store
            .swap_and_unlock(&key, 0, &record, &first)
            .await
            .unwrap(),
        Swap::Written
    );
    handed_out.push(first.fence);
    // A failover to a replica that missed the last increments (the counter went back),
    // then to a node that lost everything (the counter and the record with its fence).
    for lost in [None, Some(name.clone())] {
        let _: () = redis::cmd("SET")
            .arg(format!("{name}:fence"))
            .arg(1)
            .query_async(&mut raw)
            .await
            .unwrap();
        if let Some(record) = &lost {
            let _: () = redis::cmd("DEL")
                .arg(format!("{name}:fence"))
                .arg(record)
                .query_async(&mut raw)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
        let lease = store.lock(&key, lease_time).await.unwrap().unwrap();
        assert!(
            handed_out.iter().all(|&before| lease.fence > before),
            "after losing {lost:?}: {} after {handed_out:?}",
            lease.fence
        );
        handed_out.push(lease.fence);
        store.unlock(&key, &lease).await.unwrap();
    }
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_renewal_through_redis_takes_two_round_trips_and_a_saved_token_one() {
    let redis = RedisServer::start(false);
    let emulator = Emulator::start().await.unwrap();
    let clock = TestClock::new();
    let counted = Arc::new(CountingStore::new(store(&redis)));
    let first = replica(&emulator, counted.clone(), &clock).customer("alice");
    first
        .authorize(emulator.issue_code("alice"), None)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    jump(Duration::from_secs(3600)).await;
    let before = counted.calls();
    first.customer_accounts("alice").await.unwrap();
    assert_eq!(
        counted.calls() - before,
        2,
        "a renewal: the lease with the record, the write with the release"
    );
    assert_eq!(emulator.requests_to("/oauth/refreshtoken").len(), 1);
    // Another replica, nothing in memory: the renewed token in one round trip.
    let second = replica(&emulator, counted.clone(), &clock).customer("alice");
    let before = counted.calls();
    second.customer_accounts("alice").await.unwrap();
    assert_eq!(counted.calls() - before, 1);
    assert_eq!(emulator.requests_to("/oauth/refreshtoken").len(), 1);
}

async fn command(redis: &RedisServer, args: &[&str]) -> redis::Value {
    redis_command(&redis.url(), args).await
}

/// Waits until `replica` has synchronised with its primary.
async fn synchronised(replica: &RedisServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = command(replica, &["INFO", "replication"]).await;
        let redis::Value::BulkString(text) = info else {
            panic!("{info:?}")
        };
        if String::from_utf8_lossy(&text).contains("master_link_status:up") {
            return;
        }
        assert!(Instant::now() < deadline, "the replica never synchronised");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_demoted_primary_is_left_for_the_new_one_within_two_timeouts() {
    let old = RedisServer::start(false);
    let new = RedisServer::start(false);
    command(&new, &["REPLICAOF", "127.0.0.1", &old.port().to_string()]).await;
    synchronised(&new).await;
    let endpoint = Relay::start(old.port()).await;
    let store = RedisTokenStore::new(
        &format!("redis://127.0.0.1:{}/", endpoint.port()),
        AtRest::aes_256_gcm(&STORE_KEY).unwrap(),
    )
    .unwrap();
    let key = example_customer_key("alice");
    let lease = store
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    store.unlock(&key, &lease).await.unwrap();
    // A failover: the replica is promoted, the old primary demoted, the endpoint moved.
    command(&new, &["REPLICAOF", "NO", "ONE"]).await;
    command(&old, &["REPLICAOF", "127.0.0.1", &new.port().to_string()]).await;
    endpoint.move_to(new.port());
    let started = Instant::now();
    let lease = store.lock(&key, Duration::from_secs(5)).await;
    let lease = lease.expect("the write went to the new primary").unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let record = example_record(1);
    let swapped = store
        .swap_and_unlock(&key, 0, &record, &lease)
        .await
        .unwrap();
    assert_eq!(swapped, Swap::Written);
    let on_new = command(&new, &["HGET", &store.key_name(&key), "version"]).await;
    assert_eq!(on_new, redis::Value::BulkString(b"1".to_vec()));
}

/// The commands the README's least-privilege ACL allows: the store's scripts, their load,
/// and the commands inside them, on the store's keys only.
const ACL: &[&str] = &[
    "ACL",
    "SETUSER",
    "fintecture",
    "on",
    ">a-long-password",
    "~fintecture:*",
    "resetchannels",
    "-@all",
    "+evalsha",
    "+script|load",
    "+hmget",
    "+hget",
    "+hset",
    "+hexists",
    "+hdel",
    "+set",
    "+get",
    "+del",
    "+incr",
    "+pexpire",
    "+persist",
    "+time",
];

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn the_store_works_with_the_least_privilege_acl() {
    let redis = RedisServer::start(false);
    command(&redis, ACL).await;
    let url = format!(
        "redis://fintecture:a-long-password@127.0.0.1:{}/",
        redis.port()
    );
    let store = RedisTokenStore::new(&url, AtRest::aes_256_gcm(&STORE_KEY).unwrap()).unwrap();
    tests::store_contract(&store).await;
    // And no more: another prefix is refused.
    let elsewhere = RedisTokenStore::new(&url, AtRest::aes_256_gcm(&STORE_KEY).unwrap())
        .unwrap()
        .with_prefix("other");
    let key = GrantKey::new(
        "https://api.example",
        "app",
        Grant::App {
            scope: "PIS".into(),
        },
    );
    assert!(elsewhere.load(&key).await.is_err());
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn leases_and_writes_wait_for_the_replicas_and_fail_without_them() {
    let primary = RedisServer::start(false);
    let mut replica = RedisServer::start(false);
    command(
        &replica,
        &["REPLICAOF", "127.0.0.1", &primary.port().to_string()],
    )
    .await;
    synchronised(&replica).await;
    let acked = store(&primary).with_replica_acks(1, Duration::from_millis(200));
    let key = example_customer_key("alice");
    // Replicating: the lease and the write are acknowledged, in milliseconds.
    let started = Instant::now();
    let lease = acked
        .lock(&key, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let swapped = acked
        .swap_and_unlock(&key, 0, &example_record(1), &lease)
        .await
        .unwrap();
    assert_eq!(swapped, Swap::Written);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    let on_replica = command(&replica, &["HGET", &acked.key_name(&key), "version"]).await;
    assert_eq!(on_replica, redis::Value::BulkString(b"1".to_vec()));
    // Replication cut: a lease nobody acknowledged is refused and given back at once.
    replica.kill();
    let refused = acked.lock(&key, Duration::from_secs(5)).await.unwrap_err();
    assert!(
        tests::with_causes(&refused).contains("acknowledged"),
        "{refused:?}"
    );
    let plain = store(&primary);
    let lease = plain.lock(&key, Duration::from_secs(5)).await.unwrap();
    let lease = lease.expect("the unacknowledged lease was released");
    // A write nobody acknowledged is an error (it is written again until acknowledged).
    let unacked = acked.swap(&key, 1, &example_record(2), lease.fence).await;
    assert!(unacked.is_err(), "{unacked:?}");
}
