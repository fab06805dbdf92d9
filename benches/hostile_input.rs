//! Hostile input: what a parser costs on the shapes an attacker would choose.
//!
//! - a `.byok` with 200,000 distinct keys (2.3 MB, parsed as bytes, as a fuzzer or a caller of
//!   the library would; the CLI refuses it by size first): the duplicate-key check is linear;
//! - the same for a KEK as `az keyvault key show` JSON.
//!
//! Run: `cargo bench --bench hostile_input`. Prints a Markdown table for docs/benchmarks.md.
#![forbid(unsafe_code)]

use std::time::Instant;

use byok_ceremony::byok::format::ByokFile;
use byok_ceremony::byok::kek::Kek;

const RUNS: usize = 5;

fn many_keys(n: usize) -> Vec<u8> {
    let mut text = String::from("{");
    for i in 0..n {
        text.push_str(&format!("\"k{i}\":0,"));
    }
    text.push_str("\"schema_version\":\"1.0.0\"}");
    text.into_bytes()
}

fn best_of(f: impl Fn()) -> f64 {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let doc = many_keys(200_000);
    println!("| input | size | best of {RUNS} |");
    println!("|---|---|---|");
    let byok = best_of(|| {
        let _ = std::hint::black_box(ByokFile::parse(&doc));
    });
    println!(
        "| .byok, 200,000 distinct keys | {:.1} MB | {:.3} s |",
        doc.len() as f64 / 1e6,
        byok
    );
    let kek = best_of(|| {
        let _ = std::hint::black_box(Kek::from_bytes(&doc));
    });
    println!(
        "| KEK JSON, 200,000 distinct keys | {:.1} MB | {:.3} s |",
        doc.len() as f64 / 1e6,
        kek
    );
}
