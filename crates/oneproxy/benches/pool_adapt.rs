//! Cost of one whole adaptation over a pool, the way `evaluate adapt --proxy auto` runs it:
//! NB201, the 28 other bundled devices as candidate proxies (4 correction forms each), 10
//! random samples of the target (raspi4).
//!
//! * `averaged`: the default of `adapt`, the correction forms plus the structure-aware
//!   hypotheses, averaged with LOO weights (goal: under 100 ms at 10 samples);
//! * `best3`: the rule before it (`--combine best`, the mean of the 3 best), as the baseline
//!   measured in the same run; the ratio is printed.
use criterion::{criterion_group, Criterion};
use oneproxy::data::bundled::bundle;
use oneproxy::predictor::{adapt_pool, AdaptParams, Combination, Proxy, ProxyPool};
use oneproxy::space::seeded_rng;
use oneproxy::{Arch, SpaceId};
use std::time::Instant;

struct Setup {
    fitted: ProxyPool<'static>,
    pool: Vec<String>,
    archs: Vec<Arch>,
    y: Vec<f64>,
}

fn setup() -> Setup {
    let t = &bundle(SpaceId::Nb201).unwrap().latency;
    let target = t.device_index("raspi4").unwrap();
    let pool: Vec<String> = t
        .measured_device_names()
        .into_iter()
        .filter(|d| d != "raspi4" && t.device_index(d).is_ok_and(|i| t.measured_count(i) > 1000))
        .collect();
    let fitted = ProxyPool::new(t);
    fitted.proxies_named(&pool).unwrap();
    let mut rng = seeded_rng(0);
    let idx = rand::seq::index::sample(&mut rng, t.len(), 10);
    let archs: Vec<Arch> = idx.iter().map(|i| t.archs()[i].clone()).collect();
    let y = archs.iter().map(|a| t.latency(a, target).unwrap()).collect();
    Setup { fitted, pool, archs, y }
}

fn run(s: &Setup, combination: Combination) {
    let proxies: Vec<Proxy> = s.fitted.proxies_named(&s.pool).unwrap();
    let params = AdaptParams { combination, ..AdaptParams::default() };
    std::hint::black_box(adapt_pool(&proxies, &s.archs, &s.y, &params).unwrap());
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group("pool_adapt");
    g.sample_size(20);
    g.bench_function("averaged", |b| b.iter(|| run(&s, Combination::Averaged)));
    g.bench_function("best3", |b| b.iter(|| run(&s, Combination::Best)));
    g.finish();
}

criterion_group!(benches, bench);

fn per_call(f: impl Fn(), n: usize) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() / n as f64
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let s = setup();
    let averaged = per_call(|| run(&s, Combination::Averaged), 30);
    let best = per_call(|| run(&s, Combination::Best), 30);
    println!(
        "one adaptation, pool of {} proxies, 10 samples: averaged {:.1} ms, best-3 {:.1} ms, ratio {:.2}x (goal: averaged under 100 ms)",
        s.pool.len(),
        averaged * 1e3,
        best * 1e3,
        averaged / best
    );
}
