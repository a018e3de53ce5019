//! The Redis store over TLS (`rediss://`), against a `redis-server` serving TLS with test
//! certificates (`tests/keys`): verified with a CA of one's own, refused with the wrong CA
//! or the platform's roots (never insecure), a client certificate when the server asks for
//! one; a Redis Cluster whose nodes speak TLS to clients and to each other. This test
//! binary also enables rustls' `ring` provider beside the `aws-lc-rs` one
//! the crate builds, as a program with its own rustls features does: connecting must not
//! panic.
//!
//! On a machine without `redis-server` these tests are ignored, with the reason
//! (`tests/build.rs`); with `CI` set they run, and fail.

use fintecture_oauth::{
    AtRest, ExposeSecret as _, Grant, GrantKey, RedisCluster, RedisTls, RedisTokenStore,
    SecretString, TokenStore,
};
use std::time::Duration;
use tests::{ClusterServers, RedisServer, STORE_KEY, store_contract, with_causes};

const CA: &[u8] = include_bytes!("../keys/redis-ca-test-only.crt");
const OTHER_CA: &[u8] = include_bytes!("../keys/other-ca-test-only.crt");
const CLIENT_CERTIFICATE: &[u8] = include_bytes!("../keys/redis-client-test-only.crt");
const CLIENT_KEY: &str = include_str!("../keys/redis-client-test-only.key");

fn url(redis: &RedisServer) -> String {
    format!("rediss://127.0.0.1:{}/", redis.tls_port())
}

fn at_rest() -> AtRest {
    AtRest::aes_256_gcm(&STORE_KEY).unwrap()
}

fn key() -> GrantKey {
    GrantKey::new(
        "https://api.example",
        "app",
        Grant::App {
            scope: "PIS".into(),
        },
    )
}

/// The store's error for a failed call, with its causes on one line.
async fn failure(store: &RedisTokenStore) -> String {
    let error = store
        .load(&key())
        .await
        .expect_err("the connection is refused");
    with_causes(&error)
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_verified_tls_connection_keeps_the_store_contract() {
    let redis = RedisServer::start_tls(false);
    let store =
        RedisTokenStore::with_tls(&url(&redis), at_rest(), RedisTls::new().ca_pem(CA)).unwrap();
    store_contract(&store).await;
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn the_wrong_ca_or_the_platform_roots_are_refused_and_the_error_says_why() {
    let redis = RedisServer::start_tls(false);
    let wrong =
        RedisTokenStore::with_tls(&url(&redis), at_rest(), RedisTls::new().ca_pem(OTHER_CA))
            .unwrap();
    let message = failure(&wrong).await;
    assert!(message.contains("TLS"), "{message}");
    // `rediss://` alone trusts the platform's roots, which do not know the test CA.
    let platform = RedisTokenStore::new(&url(&redis), at_rest()).unwrap();
    let message = failure(&platform).await;
    assert!(message.contains("TLS"), "{message}");
    // No URL makes it skip verification.
    let insecure = format!("{}#insecure", url(&redis));
    let refused = match RedisTokenStore::new(&insecure, at_rest()) {
        Ok(store) => store.load(&key()).await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "an insecure connection was made");
    // And TLS settings need a TLS URL.
    let plain = RedisTokenStore::with_tls(&redis.url(), at_rest(), RedisTls::new().ca_pem(CA));
    assert!(plain.is_err());
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_client_certificate_is_presented_when_the_server_asks_for_one() {
    let redis = RedisServer::start_tls(true);
    let without =
        RedisTokenStore::with_tls(&url(&redis), at_rest(), RedisTls::new().ca_pem(CA)).unwrap();
    failure(&without).await;
    let tls = RedisTls::new().ca_pem(CA).client_certificate_pem(
        CLIENT_CERTIFICATE,
        SecretString::from(CLIENT_KEY.to_owned()),
    );
    let with = RedisTokenStore::with_tls(&url(&redis), at_rest(), tls.clone()).unwrap();
    assert!(with.load(&key()).await.unwrap().is_none());
    // The key never shows.
    let shown = format!("{tls:?}");
    let secret = SecretString::from(CLIENT_KEY.to_owned());
    assert!(
        !shown.contains(secret.expose_secret().lines().nth(1).unwrap()),
        "{shown}"
    );
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_tls_cluster_keeps_the_store_contract_and_refuses_the_wrong_ca() {
    // Managed clusters (ElastiCache Serverless, say) are TLS-only: the client learns the
    // other nodes from the first one, over TLS, and must verify them all.
    let cluster = ClusterServers::start(3, true).await;
    let store = |ca: &[u8]| {
        RedisTokenStore::with_cluster(
            RedisCluster::new(cluster.tls_urls()).tls(RedisTls::new().ca_pem(ca)),
            at_rest(),
        )
        .unwrap()
        .with_replica_acks(1, Duration::from_millis(300))
    };
    store_contract(&store(CA)).await;
    let message = failure(&store(OTHER_CA)).await;
    assert!(message.contains("TLS"), "{message}");
    // TLS settings need TLS URLs, and the URLs may not mix.
    let plain = RedisCluster::new(cluster.urls()).tls(RedisTls::new().ca_pem(CA));
    assert!(RedisTokenStore::with_cluster(plain, at_rest()).is_err());
    let mut mixed = cluster.tls_urls();
    mixed.push(cluster.urls()[0].clone());
    assert!(RedisTokenStore::with_cluster(RedisCluster::new(mixed), at_rest()).is_err());
    // What it shows of itself: how many nodes and whether over TLS, never a URL's password.
    let with_password = RedisCluster::new(["rediss://store:hunter2@127.0.0.1:1/"; 2]);
    let shown = format!("{with_password:?}");
    assert_eq!(shown, "RedisCluster { nodes: 2, tls: true }");
}
