//! Declarations the macro must reject, each with a committed `.stderr` that points at the
//! offending tokens. Regenerate with `TRYBUILD=overwrite cargo test --test compile_fail`
//! after a compiler upgrade, and review the diff.

#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("ui/*.rs");
}
