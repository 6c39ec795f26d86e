//! `sqlx::migrate!` embeds `migrations/` when this crate compiles; without this line a
//! migration added later would not be embedded until something else rebuilt the crate.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
