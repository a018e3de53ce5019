//! Replicas sharing tokens through a real `redis-server` (started by each test on a free
//! 127.0.0.1 port) against the emulator: one token request or refresh per grant across the
//! fleet, refresh tokens used once each, a paused replica fenced out, nothing lost when
//! Redis dies mid-refresh, grants surviving a restart with AOF, tokens encrypted at rest,
//! and what happens while Redis is down.
//!
//! On a machine without `redis-server` these tests are ignored, with the reason
//! (`tests/build.rs`); with `CI` set they run, and fail.

use fintecture_emulator::{Emulator, Fault};
use fintecture_oauth::{
    AtRest, Client, Error, Grant, GrantKey, RedisTokenStore, Scope, Swap, TokenStore,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tests::{HookedStore, RedisServer, STORE_KEY, Sample, TestClock, jump, redis_store, replica};

/// Moves both clocks: the replicas' wall clock and tokio's (the emulator's tokens expire by
/// tokio's).
async fn pass(clock: &TestClock, by: Duration) {
    clock.advance(by);
    jump(by).await;
}

fn store(redis: &RedisServer) -> RedisTokenStore {
    redis_store(&redis.url())
}

struct Fleet {
    redis: RedisServer,
    emulator: Emulator,
    clock: Arc<TestClock>,
    replicas: Vec<Client>,
}

async fn fleet(replicas: usize, aof: bool) -> Fleet {
    let redis = RedisServer::start(aof);
    let emulator = Emulator::start().await.unwrap();
    let clock = TestClock::new();
    let replicas = (0..replicas)
        .map(|_| replica(&emulator, Arc::new(store(&redis)), &clock))
        .collect();
    Fleet {
        redis,
        emulator,
        clock,
        replicas,
    }
}

/// `callers` concurrent token reads on each replica (of `customer`'s grant, or the app's
/// PIS grant); every one must succeed, and all must get the same token, which is returned.
async fn everyone_reads(replicas: &[Client], customer: Option<&str>, callers: usize) -> String {
    let tasks: Vec<_> = replicas
        .iter()
        .flat_map(|replica| (0..callers).map(move |_| replica.clone()))
        .map(|replica| {
            let customer = customer.map(str::to_owned);
            tokio::spawn(async move {
                let (client, scope) = match &customer {
                    Some(id) => (replica.customer(id), Scope::Ais),
                    None => (replica, Scope::Pis),
                };
                let token = client.access_token(&scope).await.unwrap();
                token.expose_secret().to_owned()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        seen.insert(task.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "every caller got the same token");
    seen.into_iter().next().unwrap()
}

/// Waits (at most 10 s, checking every 10 ms) until `condition` holds.
async fn until(condition: impl Fn() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited 10 s in vain");
}

fn customer_key(emulator: &Emulator, customer_id: &str) -> GrantKey {
    GrantKey::new(
        emulator.url().as_str().trim_end_matches('/'),
        emulator.credentials().app_id(),
        Grant::Customer {
            customer_id: customer_id.into(),
        },
    )
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn four_replicas_on_a_cold_cache_make_one_token_request_per_grant() {
    let fleet = fleet(4, false).await;
    let emulator = &fleet.emulator;
    everyone_reads(&fleet.replicas, None, 250).await;
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 1);

    // A customer authorizes through one replica; the others read the grant from Redis.
    let code = emulator.issue_code("alice");
    fleet.replicas[0]
        .customer("alice")
        .authorize(code, None)
        .await
        .unwrap();
    everyone_reads(&fleet.replicas, Some("alice"), 250).await;
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 2);
    assert!(emulator.requests_to("/oauth/refreshtoken").is_empty());

    // Expired everywhere: one refresh for the whole fleet.
    pass(&fleet.clock, Duration::from_secs(3600)).await;
    everyone_reads(&fleet.replicas, Some("alice"), 250).await;
    assert_eq!(emulator.requests_to("/oauth/refreshtoken").len(), 1);
    everyone_reads(&fleet.replicas, None, 250).await;
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 3);
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn two_hundred_refreshes_over_four_replicas_use_each_refresh_token_once() {
    let fleet = fleet(4, false).await;
    let emulator = &fleet.emulator;
    let code = emulator.issue_code("alice");
    fleet.replicas[2]
        .customer("alice")
        .authorize(code, None)
        .await
        .unwrap();
    let mut tokens = HashSet::new();
    for _ in 0..200 {
        pass(&fleet.clock, Duration::from_secs(3600)).await;
        tokens.insert(everyone_reads(&fleet.replicas, Some("alice"), 3).await);
    }
    assert_eq!(tokens.len(), 200, "a new token each cycle");
    let refreshes = emulator.requests_to("/oauth/refreshtoken");
    assert_eq!(refreshes.len(), 200);
    let used: HashSet<_> = refreshes
        .iter()
        .map(|r| r.form_field("refresh_token").unwrap())
        .collect();
    assert_eq!(used.len(), 200, "each refresh token used exactly once");
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_customers_token_is_handed_out_after_its_write_and_an_apps_before() {
    let redis = RedisServer::start(false);
    let emulator = Emulator::start().await.unwrap();
    let clock = TestClock::new();
    let hooked = Arc::new(HookedStore {
        pause: Duration::from_millis(500),
        ..HookedStore::new(store(&redis))
    });
    let client = replica(&emulator, hooked.clone(), &clock);
    let written = || hooked.outcomes.lock().unwrap().len();
    // A customer's consent: the call returns once the store has the token.
    let alice = client.customer("alice");
    alice
        .authorize(emulator.issue_code("alice"), None)
        .await
        .unwrap();
    let before = written();
    pass(&clock, Duration::from_secs(3600)).await;
    alice.customer_accounts("alice").await.unwrap();
    assert_eq!(
        written(),
        before + 1,
        "the renewed consent was written first"
    );
    // An app's token: the call returns first; the write lands behind it.
    let before = written();
    client.access_token(&Scope::Pis).await.unwrap();
    assert_eq!(
        written(),
        before,
        "the app's token was handed out before its write"
    );
    until(|| written() == before + 1).await;
    assert_eq!(hooked.outcomes.lock().unwrap().last(), Some(&Swap::Written));
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_replica_paused_past_its_lease_is_fenced_out_and_takes_the_newest_token() {
    let redis = RedisServer::start(false);
    let emulator = Emulator::start().await.unwrap();
    let lease = Duration::from_millis(300);
    // Stopped between its token answer and its write.
    let paused = Arc::new(HookedStore {
        pause: Duration::from_secs(1),
        ..HookedStore::new(store(&redis))
    });
    let build = |store: Arc<dyn TokenStore>| {
        Client::builder(emulator.environment())
            .credentials(emulator.credentials())
            .token_store(store)
            .token_lease(lease)
            .build()
            .unwrap()
    };
    let slow = build(paused.clone());
    let other = build(Arc::new(store(&redis)));
    let stalled = tokio::spawn({
        let slow = slow.clone();
        async move { slow.access_token(&Scope::Pis).await }
    });
    // An app's token is handed out before its write (no consent rides on it); the slow
    // replica's write then stops, and its lease runs out.
    let late = stalled.await.unwrap().unwrap();
    until(|| paused.writes.load(std::sync::atomic::Ordering::SeqCst) == 1).await;
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let newest = other.access_token(&Scope::Pis).await.unwrap();
    assert_ne!(late.expose_secret(), newest.expose_secret());
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 2);
    // The late write is fenced out, and the slow replica takes the newest token.
    until(|| paused.outcomes.lock().unwrap().len() == 1).await;
    assert_eq!(*paused.outcomes.lock().unwrap(), [Swap::StaleFence]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = slow.access_token(&Scope::Pis).await.unwrap();
        if now.expose_secret() == newest.expose_secret() {
            break;
        }
        let waited = tokio::time::Instant::now() < deadline;
        assert!(waited, "the grant never ends on the newest token");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let third = build(Arc::new(store(&redis)));
    assert_eq!(
        third
            .access_token(&Scope::Pis)
            .await
            .unwrap()
            .expose_secret(),
        newest.expose_secret()
    );
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 2);
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn redis_dying_between_the_refresh_and_the_write_loses_no_refresh_token() {
    let mut fleet = fleet(2, false).await;
    let code = fleet.emulator.issue_code("alice");
    let first = fleet.replicas[0].customer("alice");
    first.authorize(code, None).await.unwrap();
    pass(&fleet.clock, Duration::from_secs(3600)).await;
    fleet.emulator.inject(
        "/oauth/refreshtoken",
        Fault::Delay(Duration::from_millis(500)),
    );
    let refreshing = tokio::spawn(async move { first.access_token(&Scope::Ais).await });
    // The refresh is on the wire (held by the emulator) when Redis dies.
    until(|| fleet.emulator.requests_to("/oauth/refreshtoken").len() == 1).await;
    fleet.redis.kill();
    let renewed = refreshing.await.unwrap().unwrap();
    fleet.redis.restart(); // empty: no persistence
    // The rotated refresh token reaches Redis once it is back.
    let key = customer_key(&fleet.emulator, "alice");
    let reader = store(&fleet.redis);
    let mut saved = None;
    for _ in 0..100 {
        saved = reader.load(&key).await.ok().flatten();
        if saved.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let saved = saved.expect("the renewed token was written after the restart");
    assert_eq!(saved.version, 2);
    // The next refresh, by the other replica, uses it: no consent lost.
    pass(&fleet.clock, Duration::from_secs(3600)).await;
    let next = fleet.replicas[1]
        .customer("alice")
        .customer_accounts("alice")
        .await;
    assert!(next.is_ok(), "{next:?}");
    let refreshes = fleet.emulator.requests_to("/oauth/refreshtoken");
    assert_eq!(refreshes.len(), 2);
    assert_ne!(
        refreshes[0].form_field("refresh_token"),
        refreshes[1].form_field("refresh_token")
    );
    drop(renewed);
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn grants_survive_a_redis_restart_with_aof() {
    let mut fleet = fleet(1, true).await;
    let code = fleet.emulator.issue_code("alice");
    let alice = fleet.replicas[0].customer("alice");
    alice.authorize(code, None).await.unwrap();
    let before = alice.access_token(&Scope::Ais).await.unwrap();
    fleet.redis.kill();
    fleet.redis.restart();
    // A new process: nothing in memory, everything from Redis.
    let restarted = replica(&fleet.emulator, Arc::new(store(&fleet.redis)), &fleet.clock);
    let alice = restarted.customer("alice");
    let after = alice.access_token(&Scope::Ais).await.unwrap();
    assert_eq!(after.expose_secret(), before.expose_secret());
    pass(&fleet.clock, Duration::from_secs(3600)).await;
    alice.customer_accounts("alice").await.unwrap();
    assert_eq!(fleet.emulator.requests_to("/oauth/refreshtoken").len(), 1);
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn what_redis_holds_shows_no_token() {
    let fleet = fleet(1, false).await;
    let client = &fleet.replicas[0];
    let code = fleet.emulator.issue_code("alice");
    let alice = client.customer("alice");
    let authorized = alice.authorize(code, None).await.unwrap();
    let pis = client.access_token(&Scope::Pis).await.unwrap();
    let secrets = [
        pis.expose_secret().to_owned(),
        authorized.access_token.expose_secret().to_owned(),
        authorized.refresh_token.unwrap().expose_secret().to_owned(),
        fleet
            .emulator
            .credentials()
            .app_secret()
            .expose_secret()
            .to_owned(),
    ];
    use fintecture_oauth::ExposeSecret as _;
    use redis::AsyncCommands as _;
    let mut raw = redis::Client::open(fleet.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = raw.keys("*").await.unwrap();
    assert_eq!(
        keys.len(),
        4,
        "the record and fence counter of two grants, leases released: {keys:?}"
    );
    let mut everything = keys.join("\n");
    for key in &keys {
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut raw)
            .await
            .unwrap();
        let values: Vec<String> = match kind.as_str() {
            "hash" => raw.hvals(key).await.unwrap(),
            "string" => vec![raw.get(key).await.unwrap()],
            other => panic!("unexpected {other} at {key}"),
        };
        everything.push_str(&values.join("\n"));
    }
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "{secret} is in Redis"
        );
    }
    assert!(everything.contains("customer:alice"), "{everything}");

    // The wrong key cannot read them; no key at all is refused too.
    let key = customer_key(&fleet.emulator, "alice");
    let wrong =
        RedisTokenStore::new(&fleet.redis.url(), AtRest::aes_256_gcm(&[7; 32]).unwrap()).unwrap();
    let error = wrong.load(&key).await.unwrap_err();
    assert!(
        format!("{error:#?} {error}").contains("the token store failed"),
        "{error}"
    );
    let plain = RedisTokenStore::new(&fleet.redis.url(), AtRest::Plaintext).unwrap();
    assert!(plain.load(&key).await.is_err());
    assert!(AtRest::aes_256_gcm(&[0; 16]).is_err(), "a key is 32 bytes");
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn with_redis_down_valid_tokens_serve_app_tokens_are_fetched_and_customer_refreshes_refused()
{
    let mut fleet = fleet(1, false).await;
    let emulator = &fleet.emulator;
    let client = fleet.replicas[0].clone();
    let code = emulator.issue_code("alice");
    let alice = client.customer("alice");
    alice.authorize(code, None).await.unwrap();
    client.protected_pis_payment("missing").await.unwrap_err();
    fleet.redis.kill();

    // Valid local tokens: calls go on.
    alice.customer_accounts("alice").await.unwrap();
    assert!(client.cached_access_token(&Scope::Pis).is_some());
    // A new replica gets its own app token.
    let cold = replica(emulator, Arc::new(store(&fleet.redis)), &fleet.clock);
    cold.access_token(&Scope::Pis).await.unwrap();
    // A customer's refresh is refused rather than risk a rotation race.
    pass(&fleet.clock, Duration::from_secs(3600)).await;
    let error = alice.customer_accounts("alice").await.unwrap_err();
    let Error::Token {
        source: Some(source),
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(matches!(**source, Error::Store(_)), "{source:?}");
    assert!(emulator.requests_to("/oauth/refreshtoken").is_empty());
    // Redis back (empty: no persistence): the refresh goes through, and is saved.
    fleet.redis.restart();
    alice.customer_accounts("alice").await.unwrap();
    assert_eq!(emulator.requests_to("/oauth/refreshtoken").len(), 1);
    let saved = store(&fleet.redis)
        .load(&customer_key(emulator, "alice"))
        .await
        .unwrap();
    assert!(saved.is_some_and(|record| record.version == 2));
}

#[test]
fn a_store_is_made_without_a_runtime_and_a_bad_url_is_an_error() {
    let store = RedisTokenStore::new("redis://127.0.0.1:1/", AtRest::Plaintext);
    assert!(store.is_ok(), "no connection, no runtime needed yet");
    let error = RedisTokenStore::new("not a url", AtRest::Plaintext).unwrap_err();
    assert!(std::error::Error::source(&error).is_some(), "{error}");
    let debug = format!("{:?}", AtRest::aes_256_gcm(&STORE_KEY).unwrap());
    assert_eq!(debug, "Encrypted([REDACTED])");
    let store = RedisTokenStore::new(
        "redis://127.0.0.1:1/",
        AtRest::aes_256_gcm(&STORE_KEY).unwrap(),
    )
    .unwrap()
    .with_prefix("service-a");
    let debug = format!("{store:?}");
    assert!(
        debug.contains("service-a") && debug.contains("Encrypted([REDACTED])"),
        "{debug}"
    );
}

#[tokio::test]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn the_redis_store_keeps_the_store_contract() {
    let redis = RedisServer::start(false);
    tests::store_contract(&store(&redis)).await;
    let plain = RedisTokenStore::new(&redis.url(), AtRest::Plaintext)
        .unwrap()
        .with_prefix("plain");
    tests::store_contract(&plain).await;
}
