//! Integration and compile-fail tests live in `tests/`; run them with `cargo test`.
