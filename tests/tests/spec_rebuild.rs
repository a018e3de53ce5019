//! Cargo rebuilds a crate whose `#[api(spec = ...)]` document changed, with no `.rs` file
//! touched: a path removed from the document fails `cargo check`, restored it passes. A
//! crate of its own, built with its own target directory (a cargo inside `cargo test` must
//! not wait on the outer one's).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A document whose one path is `path`.
fn document_with(path: &str) -> String {
    format!(
        "openapi: 3.1.0
info: {{ title: Probe, version: '1' }}
paths:
  {path}:
    get:
      operationId: probe
"
    )
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// `cargo check` of the probe crate: whether it passed, and what it printed.
fn check(probe: &Path) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "--offline", "--quiet"])
        .current_dir(probe)
        .env("CARGO_TARGET_DIR", workspace().join("target/spec-rebuild"))
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap_or_else(|e| panic!("cargo could not run: {e}"));
    let printed = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), printed)
}

#[test]
fn a_changed_document_rebuilds_the_crate_that_declares_against_it() {
    let probe = workspace()
        .join("target/spec-rebuild")
        .join(format!("probe-{}", std::process::id()));
    std::fs::create_dir_all(probe.join("src")).unwrap();
    let oauth = workspace().join("fintecture-oauth");
    std::fs::write(
        probe.join("Cargo.toml"),
        format!(
            "[package]\nname = \"spec-rebuild-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[dependencies]\nfintecture-oauth = {{ path = {:?}, \
             default-features = false, features = [\"spec\"] }}\n\n[workspace]\n",
            oauth.display().to_string()
        ),
    )
    .unwrap();
    // The workspace's versions of every dependency: nothing to resolve, nothing to fetch.
    std::fs::copy(workspace().join("Cargo.lock"), probe.join("Cargo.lock")).unwrap();
    std::fs::write(
        probe.join("src/lib.rs"),
        "//! A crate declaring one endpoint against its document.\n\n\
         /// The probe's endpoints.\n\
         #[fintecture_oauth::api(spec = \"../openapi.yaml\")]\n\
         pub trait Probe {\n    \
             /// The one endpoint.\n    \
             #[endpoint(get = \"/probe\")]\n    \
             async fn probe(&self) -> Result<(), fintecture_oauth::Error>;\n\
         }\n",
    )
    .unwrap();
    let document = probe.join("openapi.yaml");
    std::fs::write(&document, document_with("/probe")).unwrap();
    let (passed, printed) = check(&probe);
    assert!(passed, "the first check fails: {printed}");

    std::fs::write(&document, document_with("/other")).unwrap();
    let (passed, printed) = check(&probe);
    assert!(!passed, "the removed path went unnoticed");
    assert!(
        printed.contains("`/probe` is not a path of `../openapi.yaml`"),
        "{printed}"
    );

    std::fs::write(&document, document_with("/probe")).unwrap();
    let (passed, printed) = check(&probe);
    assert!(passed, "restored, it still fails: {printed}");
    let _ = std::fs::remove_dir_all(&probe);
}
