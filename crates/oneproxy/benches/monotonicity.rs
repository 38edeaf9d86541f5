//! Full 27 x 27 Spearman matrix over the 15625 NB201 architectures, against scipy.
//!
//! Criterion measures our matrix; then, in the same run, the same matrix is timed with
//! `scipy.stats.spearmanr` (if `python3` with scipy is available) on the same data, and the ratio
//! is printed. Goal: at least 10x faster than scipy.
use criterion::{criterion_group, Criterion};
use oneproxy::data::bundled::bundle;
use oneproxy::stats::{correlation_matrix, Metric};
use oneproxy::SpaceId;
use std::io::Write;
use std::time::Instant;

fn devices() -> Vec<String> {
    let t = &bundle(SpaceId::Nb201).unwrap().latency;
    (0..t.devices().len()).filter(|&i| t.measured_count(i) == t.len()).map(|i| t.devices()[i].name.clone()).collect()
}

fn bench(c: &mut Criterion) {
    let t = &bundle(SpaceId::Nb201).unwrap().latency;
    let devs = devices();
    assert_eq!(devs.len(), 27);
    c.bench_function("spearman_matrix_nb201_27x27", |b| {
        b.iter(|| correlation_matrix(t, &devs, Metric::Spearman).unwrap())
    });
}

fn median_seconds(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut v: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[runs / 2]
}

/// Time scipy on the same 15625 x 27 matrix; `None` if python3/scipy is unavailable.
fn scipy_seconds() -> Option<f64> {
    let t = &bundle(SpaceId::Nb201).unwrap().latency;
    let devs = devices();
    let cols: Vec<usize> = devs.iter().map(|d| t.device_index(d).unwrap()).collect();
    let mut f = tempfile::NamedTempFile::new().ok()?;
    for r in 0..t.len() {
        let row: Vec<String> = cols.iter().map(|&c| t.get(r, c).unwrap().to_string()).collect();
        writeln!(f, "{}", row.join(",")).ok()?;
    }
    let script = format!(
        "import numpy as np, time, scipy.stats as s\nx=np.loadtxt('{}',delimiter=',')\nts=[]\nfor _ in range(15):\n t=time.perf_counter(); s.spearmanr(x); ts.append(time.perf_counter()-t)\nprint(sorted(ts)[7])",
        f.path().display()
    );
    let out = std::process::Command::new("python3").arg("-c").arg(script).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let t = &bundle(SpaceId::Nb201).unwrap().latency;
    let devs = devices();
    let ours = median_seconds(|| drop(correlation_matrix(t, &devs, Metric::Spearman).unwrap()), 51);
    println!("oneproxy 27x27 Spearman matrix (median of 51): {:.3} ms", ours * 1e3);
    match scipy_seconds() {
        Some(s) => println!(
            "scipy.stats.spearmanr same matrix (median of 15): {:.3} ms\nratio scipy / oneproxy: {:.1}x (goal >= 10x)",
            s * 1e3,
            s / ours
        ),
        None => println!("scipy not available (pip install numpy scipy): no ratio; published baseline ~34 ms"),
    }
}
