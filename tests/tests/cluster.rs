//! The Redis store on a Redis Cluster: three primaries with a replica each, started on free
//! 127.0.0.1 ports and joined by `redis-cli --cluster create`. The store keeps its contract
//! there, `WAIT` counts the replica of the grant's own primary, and a primary killed while
//! a fleet refreshes loses no consent.
//!
//! On a machine without `redis-server` these tests are ignored, with the reason
//! (`tests/build.rs`); with `CI` set they run, and fail.

use fintecture_emulator::{Emulator, EmulatorConfig};
use fintecture_oauth::{
    AtRest, Client, Grant, GrantKey, RedisCluster, RedisTokenStore, TokenStore,
};
use std::sync::Arc;
use std::time::Duration;
use tests::{
    ClusterServers, STORE_KEY, everyone_is_served_again_and_no_refresh_token_twice,
    example_customer_key, example_record, serve_round, until_answers, with_causes,
};
use tokio::time::Instant;

/// A store on `cluster`, each write waited for by one replica for at most 300 ms.
fn cluster_store(cluster: &ClusterServers) -> RedisTokenStore {
    RedisTokenStore::with_cluster(
        RedisCluster::new(cluster.urls()),
        AtRest::aes_256_gcm(&STORE_KEY).unwrap(),
    )
    .unwrap()
    .with_replica_acks(1, Duration::from_millis(300))
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn the_cluster_store_keeps_the_store_contract_and_waits_on_the_grants_own_primary() {
    let mut cluster = ClusterServers::start(3, false).await;
    let store = cluster_store(&cluster);
    tests::store_contract(&store).await;

    // Which nodes hold alice's grant, and which don't.
    let key = example_customer_key("alice");
    let own = cluster.primary_of(&store.key_name(&key), 0).await;
    let own_replica = cluster.replica_of(own).await;
    let others: Vec<usize> = (0..3).filter(|&p| p != own).collect();
    let other_replica = cluster.replica_of(others[0]).await;

    // Another primary's replica gone: alice's writes are still acknowledged (sent to
    // every primary, WAIT would answer the smallest count, 0).
    cluster.nodes[other_replica].kill();
    let lease = store.lock(&key, Duration::from_secs(5)).await.unwrap();
    let lease = lease.expect("alice's lease, acknowledged by her primary's replica");
    let record = example_record(1);
    let written = store.swap_and_unlock(&key, 0, &record, &lease).await;
    assert_eq!(written.unwrap(), fintecture_oauth::Swap::Written);

    // Her own primary's replica gone: nothing is acknowledged, so a lease is refused.
    cluster.nodes[own_replica].kill();
    let refused = store.lock(&key, Duration::from_secs(5)).await;
    let error = refused.expect_err("a lease no replica acknowledged");
    let told = with_causes(&error);
    assert!(told.contains("acknowledged"), "{told}");
}

/// The key of `customer`'s grant on `emulator`, as the clients name it.
fn grant_key(emulator: &Emulator, customer: &str) -> GrantKey {
    GrantKey::new(
        emulator.url().as_str().trim_end_matches('/'),
        emulator.credentials().app_id(),
        Grant::Customer {
            customer_id: customer.to_owned(),
        },
    )
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_primary_killed_while_the_fleet_refreshes_loses_no_consent() {
    let mut cluster = ClusterServers::start(3, false).await;
    let emulator = Emulator::start_with(EmulatorConfig {
        token_lifetime: Duration::from_secs(4),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    // Four clients, each with its own store, counting on a replica for every write.
    let fleet = |cluster: &ClusterServers| -> Vec<Client> {
        (0..4)
            .map(|_| {
                Client::builder(emulator.environment())
                    .credentials(emulator.credentials())
                    .token_store(Arc::new(cluster_store(cluster)))
                    .token_lease(Duration::from_secs(2))
                    .build()
                    .unwrap()
            })
            .collect()
    };
    let clients = fleet(&cluster);
    let customers: Vec<String> = (0..20).map(|i| format!("customer-{i}")).collect();
    for (i, id) in customers.iter().enumerate() {
        let code = emulator.issue_code(id);
        let authorized = clients[i % 4].customer(id).authorize(code, None).await;
        authorized.unwrap();
    }
    let everyone = customers.len() * clients.len();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        assert_eq!(serve_round(&clients, &customers).await, everyone);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The primary of customer-0's grant dies while every customer is being served.
    let probe = cluster_store(&cluster);
    let victim = cluster
        .primary_of(&probe.key_name(&grant_key(&emulator, "customer-0")), 0)
        .await;
    let heir = cluster.replica_of(victim).await;
    let in_flight = tokio::spawn({
        let (clients, customers) = (clients.clone(), customers.clone());
        async move { serve_round(&clients, &customers).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    cluster.nodes[victim].kill();
    in_flight.await.unwrap();
    // Its replica takes over; the old primary comes back as the replica of its heir, so
    // writes have a replica to wait for again.
    until_answers(&cluster.nodes[heir].url(), &["ROLE"], |role| {
        role.contains("master")
    })
    .await;
    cluster.nodes[victim].restart();
    for node in 0..cluster.nodes.len() {
        cluster.until_up(node).await;
    }
    until_answers(
        &cluster.nodes[victim].url(),
        &["INFO", "replication"],
        |info| info.contains("master_link_status:up"),
    )
    .await;

    // A deploy: new processes, nothing in memory. Every customer is served again on each.
    drop(clients);
    let clients = fleet(&cluster);
    everyone_is_served_again_and_no_refresh_token_twice(&emulator, &clients, &customers).await;
    // Every grant was renewed, and is on the cluster as it is now.
    for id in &customers {
        let record = probe.load(&grant_key(&emulator, id)).await.unwrap();
        let record = record.unwrap_or_else(|| panic!("{id} is on the cluster"));
        assert!(
            record.version > 1,
            "{id} renewed: version {}",
            record.version
        );
    }
}
