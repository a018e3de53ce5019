//! A fleet of replica processes (`src/bin/replica.rs`) sharing a real `redis-server`:
//! the replica holding a customer's lease stopped (`SIGSTOP`) while Redis restarts loses
//! nothing; the same replica killed (`SIGKILL`) while it holds a rotated refresh token it
//! could not write loses that customer's consent, the one loss the design cannot prevent,
//! and nothing else.
//!
//! On a machine without `redis-server` these tests are ignored, with the reason
//! (`tests/build.rs`); with `CI` set they run, and fail.

use fintecture_emulator::{Emulator, EmulatorConfig, Fault};
use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;
use tests::{RedisServer, refresh_tokens};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::Instant;

const REFRESH: &str = "/oauth/refreshtoken";

/// One replica process, driven one line at a time.
struct Replica {
    child: Child,
    input: ChildStdin,
    output: Lines<BufReader<ChildStdout>>,
}

impl Replica {
    fn start(emulator: &Emulator, redis: &RedisServer, lease: Duration) -> Replica {
        let credentials = emulator.credentials();
        let mut child = Command::new(env!("CARGO_BIN_EXE_replica"))
            .env("EMULATOR_URL", emulator.url().as_str())
            .env("REDIS_URL", redis.url())
            .env("LEASE_MS", lease.as_millis().to_string())
            .env("APP_ID", credentials.app_id())
            .env(
                "APP_SECRET",
                fintecture_oauth::ExposeSecret::expose_secret(credentials.app_secret()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the replica binary starts");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap()).lines();
        Replica {
            child,
            input,
            output,
        }
    }

    async fn send(&mut self, line: &str) {
        self.input
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.input.flush().await.unwrap();
    }

    async fn answer(&mut self) -> String {
        let line = tokio::time::timeout(Duration::from_secs(30), self.output.next_line()).await;
        line.expect("an answer within 30 s")
            .unwrap()
            .expect("the replica is alive")
    }

    async fn ask(&mut self, line: &str) -> String {
        self.send(line).await;
        self.answer().await
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }
}

/// A fleet of four replica processes, with 20 customers authorized across them.
async fn fleet(
    redis: &RedisServer,
    emulator: &Emulator,
    lease: Duration,
) -> (Vec<Replica>, Vec<String>) {
    let mut replicas: Vec<Replica> = (0..4)
        .map(|_| Replica::start(emulator, redis, lease))
        .collect();
    let customers: Vec<String> = (0..20).map(|i| format!("customer-{i}")).collect();
    for (i, id) in customers.iter().enumerate() {
        let code = emulator.issue_code(id);
        let code = code.expose_secret().to_owned();
        let answer = replicas[i % 4].ask(&format!("authorize {id} {code}")).await;
        assert_eq!(answer, "ok");
    }
    (replicas, customers)
}

/// Short tokens, so that they expire within the test.
async fn emulator() -> Emulator {
    Emulator::start_with(EmulatorConfig {
        token_lifetime: Duration::from_secs(4),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// Waits until the emulator has received `count` refreshes (and answered them, when
/// `answered`).
async fn refreshes(emulator: &Emulator, count: usize, answered: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = emulator.requests_to(REFRESH);
        let done = seen
            .iter()
            .filter(|r| !answered || r.status.is_some())
            .count();
        if done >= count {
            return;
        }
        assert!(Instant::now() < deadline, "{done} of {count} refreshes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asks every customer on every replica until each answers `ok`, for at most `within`;
/// panics on a `reauthorize` for a customer not in `lost`. The customers told to
/// re-authorize.
async fn serve_all(
    replicas: &mut [Replica],
    customers: &[String],
    within: Duration,
    lost: &[&str],
) -> HashSet<String> {
    let deadline = Instant::now() + within;
    let mut reauthorize = HashSet::new();
    for id in customers {
        for replica in replicas.iter_mut() {
            loop {
                let answer = replica.ask(&format!("call {id}")).await;
                if answer == "ok" {
                    break;
                }
                if answer == "reauthorize" {
                    assert!(lost.contains(&id.as_str()), "{id} must consent again");
                    reauthorize.insert(id.clone());
                    break;
                }
                assert!(Instant::now() < deadline, "{id} not served: {answer}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    reauthorize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn the_lease_holder_stopped_while_redis_restarts_loses_nothing() {
    let mut redis = RedisServer::start(true);
    let emulator = emulator().await;
    let lease = Duration::from_secs(6);
    let (mut replicas, customers) = fleet(&redis, &emulator, lease).await;
    tokio::time::sleep(Duration::from_millis(4500)).await; // every token expired
    emulator.inject(REFRESH, Fault::Delay(Duration::from_millis(500)));
    // Replica 0 takes customer-0's lease and sends the refresh; it is stopped for a third
    // of the lease while Redis dies and the others ask for customer-0; Redis comes back
    // after replica 0 got the new token, which it could not write.
    replicas[0].send("call customer-0").await;
    refreshes(&emulator, 1, false).await;
    replicas[0].signal("-STOP");
    redis.kill();
    for replica in &mut replicas[1..] {
        replica.send("call customer-0").await;
    }
    tokio::time::sleep(lease / 3).await;
    // Resumed while Redis is still down: the new token serves from memory, unwritten.
    replicas[0].signal("-CONT");
    assert_eq!(replicas[0].answer().await, "ok");
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    for replica in &mut replicas[1..] {
        let answer = replica.answer().await;
        assert_ne!(answer, "reauthorize");
    }
    let lost = serve_all(&mut replicas, &customers, lease * 2, &[]).await;
    assert!(lost.is_empty());
    let (used, distinct) = refresh_tokens(&emulator);
    assert_eq!(distinct, used, "a refresh token was sent twice");
    // Every customer refreshed (a token renewed early in the run may be again: 4 s tokens).
    assert!(used >= customers.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "redis-server not found")]
async fn a_replica_killed_with_an_unwritten_rotation_loses_that_consent_and_nothing_else() {
    let mut redis = RedisServer::start(true);
    let emulator = emulator().await;
    let lease = Duration::from_secs(2);
    let (mut replicas, customers) = fleet(&redis, &emulator, lease).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    emulator.inject(REFRESH, Fault::Delay(Duration::from_millis(500)));
    // Replica 0's refresh of customer-0 is answered while Redis is down: the rotated
    // refresh token is only in replica 0, which is then killed.
    replicas[0].send("call customer-0").await;
    refreshes(&emulator, 1, false).await;
    redis.kill();
    refreshes(&emulator, 1, true).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    replicas[0].signal("-KILL");
    redis.restart();
    let mut survivors: Vec<Replica> = replicas.drain(1..).collect();
    let lost = serve_all(&mut survivors, &customers, lease * 4, &["customer-0"]).await;
    assert_eq!(lost, HashSet::from(["customer-0".to_owned()]));
    // The old refresh token was tried once more, and refused; every other once.
    let (used, distinct) = refresh_tokens(&emulator);
    assert_eq!(used, distinct + 1);
}
