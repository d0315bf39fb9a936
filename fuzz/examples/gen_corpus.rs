//! Writes the seed corpora: `cargo run --example gen_corpus [DIR]`, by
//! default into `seeds/` next to this crate's manifest, one directory per
//! fuzz target. Existing seed directories are replaced, so the files always
//! match the fixtures.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let seeds = merit_fuzz::seeds::all();
    let mut targets: Vec<&str> = seeds.iter().map(|s| s.target).collect();
    targets.dedup();
    for t in &targets {
        let d = dir.join(t);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(&d)?;
    }
    for s in &seeds {
        std::fs::write(dir.join(s.target).join(&s.name), &s.bytes)?;
    }
    for t in &targets {
        let n = seeds.iter().filter(|s| s.target == *t).count();
        println!("{n:4} seeds in {}", dir.join(t).display());
    }
    Ok(())
}
