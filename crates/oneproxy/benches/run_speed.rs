//! Wall time of the main job (`oneproxy run`'s library part: the flow for every bundled NB201
//! target, scored, CIFAR-100 accuracies, default settings), with the sequential design's
//! reference scan (every candidate scored at every pick, budgets by a full sort, as the design
//! was first written) and with the pruned scan (the default), in the same process, alternated.
//! The two reports must be equal; the ratio of the fastest times is printed.
//!
//! `cargo bench -p oneproxy --bench run_speed` (`RUN_SPEED_REPEATS=n` for more rounds, 2 by
//! default). The report folder and plots of the CLI are not part of it.
use oneproxy::data::bundled::bundle;
use oneproxy::workflow::design_scan::{set_scan, Scan};
use oneproxy::workflow::{run, RunConfig, RunReport};
use oneproxy::SpaceId;
use std::time::{Duration, Instant};

fn timed(scan: Scan) -> (Duration, RunReport) {
    let b = bundle(SpaceId::Nb201).expect("bundled NB201");
    let acc = b.accuracy("cifar100").expect("bundled CIFAR-100 accuracies");
    set_scan(scan);
    let t = Instant::now();
    let report = run(&b.latency, acc, &RunConfig::default(), &|| {}).expect("the main job runs");
    let took = t.elapsed();
    set_scan(Scan::Pruned);
    (took, report)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names something else skips this bench.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if !args.is_empty() && !args.iter().any(|a| "run_speed".contains(a.as_str())) {
        return;
    }
    let repeats: usize = std::env::var("RUN_SPEED_REPEATS").ok().and_then(|v| v.parse().ok()).unwrap_or(2).max(1);
    let (mut every, mut pruned) = (Vec::new(), Vec::new());
    for round in 0..repeats {
        let (t_every, r_every) = timed(Scan::Every);
        let (t_pruned, r_pruned) = timed(Scan::Pruned);
        assert_eq!(r_every, r_pruned, "the two scans must give the same report");
        println!(
            "round {}: reference scan {:.3} s, pruned scan {:.3} s ({} targets)",
            round + 1,
            t_every.as_secs_f64(),
            t_pruned.as_secs_f64(),
            r_pruned.targets.len()
        );
        every.push(t_every);
        pruned.push(t_pruned);
    }
    let (old, new) = (every.iter().min().unwrap().as_secs_f64(), pruned.iter().min().unwrap().as_secs_f64());
    println!("run_speed: reference {old:.3} s, pruned {new:.3} s (fastest of {repeats}); {:.1}x faster", old / new);
}
