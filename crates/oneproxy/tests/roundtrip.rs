//! Issue 5: every space's exported ONNX loads back into tract, optimises, runs and gives logits
//! of the right shape; and measured latencies behave physically.
#![cfg(feature = "tract")]

use oneproxy::measure::tract::{TractModel, TractTimer};
use oneproxy::measure::{measure, MeasureParams, Timer};
use oneproxy::network;
use oneproxy::onnx::{export, input_shape, seeded_input};
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
            let classes = network::build(space, &arch).output().c;
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

fn latency(arch: &Arch, runs: usize) -> f64 {
    let mut t = TractTimer::new(1);
    t.load(&export(SpaceId::Nb201, arch, 1, 0), input_shape(SpaceId::Nb201, arch, 1)).unwrap();
    let p = MeasureParams { warmup: 3, min_runs: runs, max_runs: runs, max_time: Duration::from_secs(10), ..Default::default() };
    measure(&mut t, &p).unwrap().summary.median_ms
}

#[test]
fn issue5_all_none_is_faster_than_all_conv3x3() {
    let none = latency(&Arch::from_genes(vec![0; 6]), 10);
    let conv = latency(&Arch::from_genes(vec![3; 6]), 10);
    eprintln!("all-none {none:.3} ms, all-conv3x3 {conv:.3} ms");
    assert!(none < conv, "none {none} ms, conv3x3 {conv} ms");
}

#[test]
fn issue5_flops_rank_like_measured_latency_on_nb201() {
    let mut rng = seeded_rng(2024);
    let archs: Vec<Arch> = (0..30).map(|_| oneproxy::SearchSpace::sample(SpaceId::Nb201.space(), &mut rng)).collect();
    let flops: Vec<f64> = archs.iter().map(|a| network::cost(SpaceId::Nb201, a).flops as f64).collect();
    let ms: Vec<f64> = archs.iter().map(|a| latency(a, 7)).collect();
    let rho = spearman(&flops, &ms);
    eprintln!("Spearman(FLOPs, tract latency) over 30 NB201 archs: {rho:.3}");
    assert!(rho > 0.8, "Spearman {rho}");
}
