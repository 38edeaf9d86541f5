//! Every space's exported ONNX loads back into tract, optimises, runs and gives logits
//! of the right shape; and measured latencies behave physically.
#![cfg(feature = "tract")]

use oneproxy::measure::tract::{TractModel, TractTimer};
use oneproxy::measure::{measure, MeasureParams, Timer};
use oneproxy::network::Execution;
use oneproxy::onnx::{export, export_with, input_shape, seeded_input};
use oneproxy::space::seeded_rng;
use oneproxy::stats::spearman;
use oneproxy::{Arch, SpaceId};
use std::time::Duration;

fn run(space: SpaceId, arch: &Arch, batch: usize) -> (Vec<usize>, Vec<f32>) {
    let bytes = export(space, arch, batch, 1);
    let shape = input_shape(space, arch, batch);
    let input = seeded_input(shape, 2);
    let mut m = TractModel::load(&bytes, shape, &input, 1)
        .unwrap_or_else(|e| panic!("{space} {}: {e}", space.space().format(arch)));
    m.run().unwrap()
}

#[test]
fn every_space_round_trips_through_tract() {
    for space in SpaceId::ALL {
        let mut rng = seeded_rng(11);
        let n = if space == SpaceId::Nb201 { 4 } else { 2 };
        for i in 0..n {
            let arch = space.space().sample(&mut rng);
            let batch = 1 + i % 2;
            let classes = space.network(&arch).output().c;
            let (shape, out) = run(space, &arch, batch);
            assert_eq!(shape, vec![batch, classes], "{space} {}", space.space().format(&arch));
            assert!(out.iter().all(|v| v.is_finite()), "{space}: non-finite logits");
            assert!(out.iter().any(|&v| v != 0.0), "{space}: all-zero logits");
        }
    }
}

#[test]
fn every_nb201_op_and_fbnet_block_round_trips() {
    for op in 0..5u8 {
        let (shape, out) = run(SpaceId::Nb201, &Arch::from_genes(vec![op; 6]), 1);
        assert_eq!(shape, vec![1, 10]);
        assert!(out.iter().all(|v| v.is_finite()));
    }
    for block in 0..9u8 {
        let (shape, _) = run(SpaceId::Fbnet, &Arch::from_genes(vec![block; 22]), 1);
        assert_eq!(shape, vec![1, 100]);
    }
}

/// Pruned models load and run too, the all-none one included: its cells output
/// zeros, so its logits do not depend on the input.
#[test]
fn pruned_models_round_trip() {
    let run_pruned = |arch: &Arch, input_seed| {
        let bytes = export_with(SpaceId::Nb201, arch, 1, 1, Execution::PruneDead).unwrap();
        let shape = input_shape(SpaceId::Nb201, arch, 1);
        let mut m = TractModel::load(&bytes, shape, &seeded_input(shape, input_seed), 1).unwrap();
        m.run().unwrap()
    };
    let none = Arch::from_genes(vec![0; 6]);
    let (shape, a) = run_pruned(&none, 2);
    assert_eq!(shape, vec![1, 10]);
    assert_eq!(a, run_pruned(&none, 3).1);
    let dead = SpaceId::Nb201
        .space()
        .parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|")
        .unwrap();
    let (shape, a) = run_pruned(&dead, 2);
    assert_eq!(shape, vec![1, 10]);
    assert!(a.iter().all(|v| v.is_finite()));
    assert_ne!(a, run_pruned(&dead, 3).1, "a live path: the logits follow the input");
}

fn latency(arch: &Arch, runs: usize) -> f64 {
    let mut t = TractTimer::new(1);
    t.load(&export(SpaceId::Nb201, arch, 1, 0), input_shape(SpaceId::Nb201, arch, 1)).unwrap();
    let p = MeasureParams {
        warmup: 3,
        min_runs: runs,
        max_runs: runs,
        max_time: Duration::from_secs(10),
        ..Default::default()
    };
    measure(&mut t, &p).unwrap().summary.median_ms
}

#[test]
fn one_thread_is_timed_on_the_cpu_clock_and_a_pool_on_the_wall_clock() {
    use oneproxy::measure::Clock;
    assert_eq!(TractTimer::new(1).clock(), Clock::Cpu);
    assert_eq!(TractTimer::new(4).clock(), Clock::Wall);
    assert_eq!(TractTimer::new(1).with_clock(Clock::Wall).unwrap().clock(), Clock::Wall);
    assert_eq!(TractTimer::new(4).with_clock(Clock::Auto).unwrap().clock(), Clock::Wall);
    let e = TractTimer::new(4).with_clock(Clock::Cpu).unwrap_err().to_string();
    assert!(e.contains("4 threads"), "{e}");
    assert_eq!(TractTimer::new(1).settings()["clock"], "cpu");
}

/// The CPU clock counts only the work of the thread that runs the model, so within one run it
/// can never exceed the wall time around that same run; and it does see the model's work (a run
/// costs about as much CPU as its quietest wall time). Comparing separate runs would not test
/// this: the fastest wall run can beat the fastest CPU run by chance on a busy machine.
#[test]
fn the_cpu_clock_never_exceeds_the_wall_clock() {
    use oneproxy::measure::Clock;
    use std::time::Instant;
    let arch = Arch::from_genes(vec![3; 6]);
    let bytes = export(SpaceId::Nb201, &arch, 1, 0);
    let shape = input_shape(SpaceId::Nb201, &arch, 1);
    let input = seeded_input(shape, 2);
    let mut m = TractModel::load(&bytes, shape, &input, 1).unwrap();
    m.time(Clock::Wall).unwrap();
    let (mut fastest_cpu, mut fastest_wall) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..10 {
        let start = Instant::now();
        let cpu = m.time(Clock::Cpu).unwrap();
        let around = start.elapsed().as_secs_f64() * 1e3;
        assert!(cpu > 0.0 && cpu <= around, "one run: cpu {cpu} ms, wall around it {around} ms");
        fastest_cpu = fastest_cpu.min(cpu);
        fastest_wall = fastest_wall.min(m.time(Clock::Wall).unwrap());
    }
    eprintln!("fastest run: cpu {fastest_cpu:.3} ms, wall {fastest_wall:.3} ms");
    assert!(fastest_cpu >= 0.5 * fastest_wall, "cpu {fastest_cpu} ms, wall {fastest_wall} ms");
}

#[test]
fn all_none_is_faster_than_all_conv3x3() {
    let none = latency(&Arch::from_genes(vec![0; 6]), 10);
    let conv = latency(&Arch::from_genes(vec![3; 6]), 10);
    eprintln!("all-none {none:.3} ms, all-conv3x3 {conv:.3} ms");
    assert!(none < conv, "none {none} ms, conv3x3 {conv} ms");
}

/// Median latency of each architecture, measured in interleaved rounds (every model once per
/// round) so that interference from other programs spreads over all of them.
fn interleaved_latencies(archs: &[Arch], rounds: usize) -> Vec<f64> {
    let mut timers: Vec<TractTimer> = archs
        .iter()
        .map(|a| {
            let mut t = TractTimer::new(1);
            t.load(&export(SpaceId::Nb201, a, 1, 0), input_shape(SpaceId::Nb201, a, 1)).unwrap();
            t.run().unwrap(); // warm-up
            t
        })
        .collect();
    let mut samples = vec![Vec::new(); archs.len()];
    for _ in 0..rounds {
        for (t, s) in timers.iter_mut().zip(&mut samples) {
            s.push(t.run().unwrap());
        }
    }
    samples.iter().map(|s| oneproxy::measure::summarize(s).median_ms).collect()
}

/// FLOPs against tract latency over 30 sampled NB201 architectures. On tract, 3x3 average
/// pooling (0 FLOPs) costs about half as much as a 3x3 convolution edge, so over architectures
/// that use it FLOPs rank latency only moderately; without pooling FLOPs rank it well.
#[test]
fn flops_rank_like_measured_latency_on_nb201() {
    let mut rng = seeded_rng(2024);
    let archs: Vec<Arch> = (0..30).map(|_| oneproxy::SearchSpace::sample(SpaceId::Nb201.space(), &mut rng)).collect();
    let flops: Vec<f64> = archs.iter().map(|a| SpaceId::Nb201.cost(a).flops as f64).collect();
    let ms = interleaved_latencies(&archs, 7);
    for (a, (f, m)) in archs.iter().zip(flops.iter().zip(&ms)) {
        eprintln!("{:>6.1} MFLOPs {m:>8.3} ms {}", f / 1e6, SpaceId::Nb201.space().format(a));
    }
    let rho = spearman(&flops, &ms);
    eprintln!("Spearman(FLOPs, tract latency) over 30 NB201 archs: {rho:.3}");
    assert!(rho > 0.3, "Spearman {rho}");
    // The same 30 cells with every avg_pool_3x3 edge replaced by none.
    let no_pool: Vec<Arch> = archs
        .iter()
        .map(|a| Arch::from_genes(a.genes().iter().map(|&g| if g == 4 { 0 } else { g }).collect::<Vec<u8>>()))
        .collect();
    let flops: Vec<f64> = no_pool.iter().map(|a| SpaceId::Nb201.cost(a).flops as f64).collect();
    let ms = interleaved_latencies(&no_pool, 7);
    let rho = spearman(&flops, &ms);
    eprintln!("Spearman(FLOPs, tract latency) over the same 30 without pooling: {rho:.3}");
    assert!(rho > 0.8, "Spearman without pooling {rho}");
}

/// The bundled devices, for reference: FLOPs against each device's NB201 latencies.
#[test]
fn flops_against_bundled_nb201_devices() {
    let b = oneproxy::data::bundled::bundle(SpaceId::Nb201).unwrap();
    let flops: Vec<f64> = b.archs.iter().map(|a| SpaceId::Nb201.cost(a).flops as f64).collect();
    let mut all = Vec::new();
    for (d, dev) in b.latency.devices().iter().enumerate() {
        let rows = b.latency.measured_rows(d);
        let x: Vec<f64> = rows.iter().map(|&r| flops[r]).collect();
        let y: Vec<f64> = rows.iter().map(|&r| b.latency.get(r, d).unwrap()).collect();
        let rho = spearman(&x, &y);
        eprintln!("{:>16} {rho:.3}", dev.name);
        all.push(rho);
    }
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    eprintln!("mean Spearman(FLOPs, latency) over {} bundled devices: {mean:.3}", all.len());
    assert!(mean > 0.5);
}
