//! Exact Pareto fronts (latency vs cifar100 accuracy) of all 15625 NB201 architectures on every
//! fully measured bundled device. Goal: all 27 fronts well under 100 ms in total.
use criterion::{criterion_group, Criterion};
use oneproxy::data::bundled::bundle;
use oneproxy::search::pareto_front;
use oneproxy::SpaceId;
use std::time::Instant;

/// The latency columns of the fully measured devices and the accuracies in table row order.
fn data() -> (Vec<&'static [f64]>, Vec<f64>) {
    let b = bundle(SpaceId::Nb201).unwrap();
    let t = &b.latency;
    let acc = b.accuracy("cifar100").unwrap();
    let accuracy: Vec<f64> = t.archs().iter().map(|a| acc.get(a).unwrap_or(f64::NAN)).collect();
    let columns = (0..t.devices().len()).filter(|&d| t.measured_count(d) == t.len()).map(|d| t.column(d)).collect();
    (columns, accuracy)
}

fn all_fronts(columns: &[&[f64]], accuracy: &[f64]) -> usize {
    columns.iter().map(|c| pareto_front(c, accuracy).unwrap().len()).sum()
}

fn bench(c: &mut Criterion) {
    let (columns, accuracy) = data();
    assert_eq!(columns.len(), 27);
    c.bench_function("pareto_fronts_nb201_27_devices", |b| b.iter(|| all_fronts(&columns, &accuracy)));
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let (columns, accuracy) = data();
    let mut times: Vec<f64> = (0..51)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(all_fronts(&columns, &accuracy));
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "exact NB201 Pareto fronts for {} devices (median of 51): {:.3} ms total (goal < 100 ms); {} front points",
        columns.len(),
        times[25] * 1e3,
        all_fronts(&columns, &accuracy)
    );
}
