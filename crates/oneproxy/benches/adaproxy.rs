//! AdaProxy solver speed, against the paper's reference solver (Python + cvxpy) in the same run.
//!
//! Problem size as in the paper's example: NB201 one-hot encoding (30 features + intercept),
//! proxy pixel3, 60 target samples (raspi4), p = 2. Criterion times
//! * `spectral_one_solve`: a complete solve from scratch (projection, eigendecomposition, root),
//! * `spectral_sweep_step`: one more lambda once the decomposition exists,
//! * `clarabel_one_solve`: the same conic program through Clarabel,
//! * `sweep_1000_lambdas`: a full sweep of 1000 lambdas.
//!
//! Then, if `python3` with cvxpy is installed, the same problem is solved with cvxpy for 50
//! lambdas and the ratios are printed. Goal: >= 100x faster per solve.
use criterion::{criterion_group, Criterion};
use oneproxy::data::bundled::bundle;
use oneproxy::predictor::solver::{solve_conic, Penalty, Problem, Spectral};
use oneproxy::predictor::ProxyPool;
use oneproxy::space::seeded_rng;
use oneproxy::SpaceId;
use std::io::Write;
use std::time::Instant;

fn problem() -> Problem {
    let b = bundle(SpaceId::Nb201).unwrap();
    let w = ProxyPool::new(&b.latency).get_or_fit("pixel3").unwrap().weights().to_vec();
    let target = b.latency.device_index("raspi4").unwrap();
    let mut rng = seeded_rng(0);
    let idx = rand::seq::index::sample(&mut rng, b.archs.len(), 60);
    let space = SpaceId::Nb201.space();
    let mut c = nalgebra::DMatrix::zeros(60, 30);
    let mut z = vec![0.0; 60];
    let mut y = vec![0.0; 60];
    let scale = idx.iter().map(|i| b.latency.get(i, target).unwrap()).sum::<f64>() / 60.0;
    for (r, i) in idx.iter().enumerate() {
        let x = space.encode(&b.archs[i]);
        for j in 0..30 {
            c[(r, j)] = x[j] * w[j] / scale;
            z[r] += c[(r, j)];
        }
        y[r] = b.latency.get(i, target).unwrap() / scale;
    }
    Problem { z, c, y }
}

fn bench(cr: &mut Criterion) {
    let p = problem();
    cr.bench_function("spectral_one_solve", |b| b.iter(|| Spectral::new(p.clone()).solve(Penalty::L2, 0.01).unwrap()));
    let s = Spectral::new(p.clone());
    cr.bench_function("spectral_sweep_step", |b| b.iter(|| s.solve(Penalty::L2, 0.01).unwrap()));
    cr.bench_function("clarabel_one_solve", |b| b.iter(|| solve_conic(&p, Penalty::L2, 0.01).unwrap()));
    cr.bench_function("sweep_1000_lambdas", |b| b.iter(|| sweep(&p)));
}

fn sweep(p: &Problem) -> f64 {
    let s = Spectral::new(p.clone());
    (0..1000).map(|i| s.solve(Penalty::L2, 1e-5 * 1e6f64.powf(i as f64 / 999.0)).unwrap().objective).sum()
}

fn per_call(mut f: impl FnMut(), n: usize) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() / n as f64
}

/// Seconds per cvxpy solve (the paper's formulation), or None without python3 + cvxpy.
fn cvxpy_seconds(p: &Problem) -> Option<f64> {
    let mut f = tempfile::NamedTempFile::new().ok()?;
    for i in 0..p.y.len() {
        let row: Vec<String> = (0..p.c.ncols()).map(|j| p.c[(i, j)].to_string()).collect();
        writeln!(f, "{},{}", row.join(","), p.y[i]).ok()?;
    }
    let script = format!(
        r#"import numpy as np, time, cvxpy as cp
d=np.loadtxt('{}',delimiter=',')
X=d[:,:-1]; y=d[:,-1]; n,k=X.shape
ts=[]
for lam in np.logspace(-4,0,50):
    a=cp.Variable(); b=cp.Variable(k); c=cp.Variable()
    pred=X@(a*np.ones(k)+b)+c
    prob=cp.Problem(cp.Minimize(cp.sum_squares(pred-y)/n+lam*cp.norm(b,2)))
    t=time.perf_counter(); prob.solve(); ts.append(time.perf_counter()-t)
print(sorted(ts)[len(ts)//2])"#,
        f.path().display()
    );
    let out = std::process::Command::new("python3").arg("-c").arg(script).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let p = problem();
    let one = per_call(|| drop(Spectral::new(p.clone()).solve(Penalty::L2, 0.01).unwrap()), 2000);
    let s = Spectral::new(p.clone());
    let step = per_call(|| drop(s.solve(Penalty::L2, 0.01).unwrap()), 20000);
    let conic = per_call(|| drop(solve_conic(&p, Penalty::L2, 0.01).unwrap()), 200);
    let sweep_s = per_call(
        || {
            std::hint::black_box(sweep(&p));
        },
        20,
    );
    println!("spectral solve from scratch: {:.1} us; per extra lambda: {:.2} us", one * 1e6, step * 1e6);
    println!("clarabel solve: {:.1} us; 1000-lambda sweep: {:.2} ms", conic * 1e6, sweep_s * 1e3);
    match cvxpy_seconds(&p) {
        Some(c) => println!(
            "cvxpy (paper's reference) per solve: {:.2} ms\nratio cvxpy / spectral-from-scratch: {:.0}x; cvxpy / spectral-sweep-step: {:.0}x; cvxpy / clarabel-rust: {:.0}x (goal >= 100x)",
            c * 1e3,
            c / one,
            c / step,
            c / conic
        ),
        None => println!("cvxpy not available (pip install cvxpy): no ratio; published baseline 9-12 ms per solve"),
    }
}
