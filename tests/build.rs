//! Marks the Redis tests ignored, with the reason, on a machine without `redis-server`;
//! with `CI` set they run (and fail) instead, so CI never skips them silently.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(no_redis_server)");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rerun-if-env-changed=PATH");
    // The cluster tests join their nodes with redis-cli (Debian's redis-tools, which
    // redis-server depends on).
    let found = ["redis-server", "redis-cli"]
        .iter()
        .all(|name| on_path(name));
    if !found && std::env::var_os("CI").is_none() {
        println!("cargo:rustc-cfg=no_redis_server");
        println!(
            "cargo:warning=redis-server or redis-cli not found: the Redis tests are \
             ignored (apt-get install redis-server)"
        );
    }
}

/// Whether `name` is a file in a directory of `PATH`; rebuilt when it appears or goes.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let binary = dir.join(name);
            println!("cargo:rerun-if-changed={}", binary.display());
            binary.is_file()
        })
    })
}
