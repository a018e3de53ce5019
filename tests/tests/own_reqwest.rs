//! A program that uses its own reqwest (here without any TLS feature, for plain-http
//! internal calls) beside fintecture-oauth. Cargo unifies reqwest's features across the
//! build, so whatever fintecture-oauth turns on is on for this client too: it must still
//! build, with no crypto provider installed by anyone. Its own test binary, so that no other
//! test installs a process-wide provider first.

use fintecture_oauth::{Client, Environment};

#[test]
fn the_programs_own_reqwest_client_builds_beside_fintecture_oauth() {
    // fintecture-oauth is linked in and used.
    let ours = Client::builder(Environment::Sandbox).build();
    assert!(ours.is_ok(), "{ours:?}");
    // The user's client, built as reqwest's documentation shows; with reqwest's
    // `rustls-no-provider` unified in, this panicked.
    let theirs = std::panic::catch_unwind(|| reqwest::Client::builder().build());
    let theirs = theirs.expect("building the program's own reqwest client panicked");
    assert!(theirs.is_ok(), "{theirs:?}");
}
