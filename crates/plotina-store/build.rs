//! `sqlx::migrate!` embeds the migration files when the crate is compiled; without this,
//! adding a migration file would not rebuild the crate and the new migration would be
//! missing from the binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
