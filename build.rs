//! Rebuild when migrations or UI assets change (they are embedded).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-changed=models");
}
