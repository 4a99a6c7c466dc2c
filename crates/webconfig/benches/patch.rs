//! Patch throughput on a ~2 KiB web.config, single thread. Not a timed test: it prints
//! files/s so docs/benchmarks.md can quote it; the goal is ≥ 20,000 files/s on one core.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use corsfleet_webconfig::{CorsPolicy, patch, read_cors};

/// The stock example grown to ~2 KiB with the kind of handlers and MIME maps real files carry.
fn input() -> Vec<u8> {
    let stock = include_str!("../../../examples/web.config");
    let mut extra = String::new();
    let mut i = 0;
    while stock.len() + extra.len() < 2048 {
        extra.push_str(&format!(
            "        <!-- static content {i} -->\r\n        <staticContent><mimeMap fileExtension=\".x{i}\" mimeType=\"application/x-{i}\" /></staticContent>\r\n"
        ));
        i += 1;
    }
    stock
        .replacen(
            "        <httpErrors",
            &format!("{extra}        <httpErrors"),
            1,
        )
        .into_bytes()
}

fn measure(name: &str, size: usize, mut f: impl FnMut()) {
    for _ in 0..200 {
        f(); // warm-up
    }
    let budget = Duration::from_secs(2);
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<40} {size:>5} B  {:>9.0} files/s  {:>7.2} µs/file",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

fn main() {
    let src = input();
    let policy = CorsPolicy::recommended(&[
        "https://fin-a.example.com:8445".to_owned(),
        "https://fin-b.example.com:8445".to_owned(),
    ])
    .expect("valid policy");
    let patched = patch(&src, &policy).expect("patches");
    assert!(patched.changed);
    println!("corsfleet-webconfig patch benchmark (one thread)");
    measure("patch: add section (changed)", src.len(), || {
        black_box(patch(black_box(&src), &policy).expect("patches"));
    });
    measure(
        "patch: already compliant (unchanged)",
        patched.bytes.len(),
        || {
            black_box(patch(black_box(&patched.bytes), &policy).expect("patches"));
        },
    );
    measure(
        "read_cors (show / drift audit)",
        patched.bytes.len(),
        || {
            black_box(read_cors(black_box(&patched.bytes), None).expect("reads"));
        },
    );
}
