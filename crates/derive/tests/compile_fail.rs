//! Each error `#[derive(JsonError)]` gives on misuse, as the developer sees it: every
//! `ui/*.rs` must fail to compile with the text of the `.stderr` beside it.
//!
//! The expected texts are rustc's, so a new toolchain may reword them: rerun with
//! `TRYBUILD=overwrite cargo test -p hub-derive --test compile_fail`, and review the
//! diff of `ui/*.stderr` before committing it. Paths in them are relative to this crate
//! (trybuild writes `$DIR` for its folder), so they hold on any checkout.

#[test]
fn misuse_fails_to_compile_and_says_what_to_write() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
