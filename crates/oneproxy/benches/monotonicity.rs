//! Full 27 x 27 Spearman matrix over the 15625 NB201 architectures.
//!
//! Baseline: scipy takes about 34 ms for the same matrix on these machines
//! (`scipy.stats.spearmanr(latency_matrix)`); `oneproxy bench` measures it in the same run when
//! Python and scipy are available. This criterion benchmark reports our time.
use criterion::{criterion_group, criterion_main, Criterion};
use oneproxy::bundled::bundle;
use oneproxy::stats::{correlation_matrix, Metric};
use oneproxy::SpaceId;

fn bench(c: &mut Criterion) {
    let b = bundle(SpaceId::Nb201).unwrap();
    let devices: Vec<String> = b
        .latency
        .devices()
        .iter()
        .filter(|d| b.latency.measured_count(b.latency.device_index(&d.name).unwrap()) == b.latency.len())
        .map(|d| d.name.clone())
        .collect();
    assert_eq!(devices.len(), 27);
    c.bench_function("spearman_matrix_nb201_27x27", |bench| {
        bench.iter(|| correlation_matrix(&b.latency, &devices, Metric::Spearman).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
