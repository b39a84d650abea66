// `sqlx::migrate!` embeds the migration files, but on stable Rust cargo does not know it
// reads them: without this, a migration added or changed leaves the build as it was.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
