//! Load: 50,000 bearer-authenticated calls from 64 concurrent tasks against the emulator on
//! 127.0.0.1 finish with no error and exactly one token request per token lifetime.

use fintecture_emulator::Emulator;
use std::time::{Duration, Instant};
use tests::Sample;

const CALLS: usize = 50_000;
const TASKS: usize = 64;
/// The run takes seconds; past this something is wrong (and the one-token assertion below
/// holds only within the token's hour).
const BOUND: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_bearer_calls_one_token() {
    let emulator = Emulator::start().await.unwrap();
    let client = emulator.client().unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for call in (task..CALLS).step_by(TASKS) {
                    // A 404 in the envelope is the emulator's answer for an unknown session:
                    // the bearer token was accepted.
                    match client.protected_pis_payment("load").await {
                        Err(error) if error.status().is_some_and(|s| s == 404) => {}
                        other => errors.push(format!("call {call}: {other:?}")),
                    }
                }
                errors
            })
        })
        .collect();
    let mut errors = Vec::new();
    let all = async {
        for task in tasks {
            errors.extend(task.await.unwrap());
        }
    };
    tokio::time::timeout(BOUND, all)
        .await
        .unwrap_or_else(|_| panic!("{CALLS} calls took longer than {BOUND:?}"));
    let elapsed = started.elapsed();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    let protected = emulator.requests_to("/pis/v2/payments/load").len();
    assert_eq!(protected, CALLS);
    assert_eq!(emulator.requests_to("/oauth/accesstoken").len(), 1);
    eprintln!("{CALLS} calls from {TASKS} tasks in {elapsed:?}");
}
