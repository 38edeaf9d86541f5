//! AdaProxy on large sample sets: wall time of one adaptation as the number of NB201 samples
//! grows (raspi4 as the target, samples drawn with seed 0).
//!
//! 1. The default pool adaptation, as `oneproxy adapt --samples FILE` runs it: `--proxy auto`
//!    (every other bundled device with enough measurements), every correction form plus the
//!    hypotheses (live ops, costliest path, stacking, pruned stacking, pool prior), averaged,
//!    ridge with the exact leave-one-out, at 800 / 1,600 / 6,400 / 15,625 samples. Its time
//!    should grow about linearly with the samples.
//! 2. One proxy (pixel3, with its measurements) at 1,000 / 6,400 / 15,625 samples, for the
//!    default ridge penalty (exact leave-one-out from one fit) and the 2-norm (10-fold above
//!    200 samples); for comparison, the ridge adaptation validated by refitting every
//!    leave-one-out fold where that is cheap.
//!
//! ```sh
//! cargo run --release -p oneproxy --example adapt_scaling              # refits up to 1,000 samples
//! cargo run --release -p oneproxy --example adapt_scaling -- 3200      # refits up to 3,200
//! cargo run --release -p oneproxy --example adapt_scaling -- 0 pool    # the pool table only
//! ```
//!
//! Peak memory is not measured here; run the CLI under `/usr/bin/time -v` for it.
use oneproxy::data::bundled::{bundle, Bundle};
use oneproxy::predictor::{adapt, AdaptParams, Penalty, ProxyPool, ProxySelection, Validation};
use oneproxy::space::seeded_rng;
use oneproxy::workflow::adapt_target;
use oneproxy::Arch;
use std::time::Instant;

const TARGET: &str = "raspi4";

/// `n` samples of the target, drawn with seed 0.
fn samples(b: &Bundle, n: usize) -> oneproxy::Result<(Vec<Arch>, Vec<f64>)> {
    let target = b.latency.device_index(TARGET)?;
    let idx = rand::seq::index::sample(&mut seeded_rng(0), b.archs.len(), n);
    let archs: Vec<Arch> = idx.iter().map(|i| b.archs[i].clone()).collect();
    let y: Vec<f64> = idx.iter().map(|i| b.latency.get(i, target).unwrap_or(f64::NAN)).collect();
    Ok((archs, y))
}

fn pool(b: &Bundle) -> oneproxy::Result<()> {
    println!("default pool adaptation (--proxy auto, averaged, ridge, leave-one-out), target {TARGET}");
    println!(
        "{:>7}  {:>9}  {:>7}  {:>10}  {:>8}  validation",
        "samples", "wall (s)", "solves", "candidates", "members"
    );
    for n in [800, 1600, 6400, 15625] {
        let (archs, y) = samples(b, n)?;
        let t = Instant::now();
        let a = adapt_target(
            &b.latency,
            &ProxySelection::default(),
            TARGET,
            &archs,
            &y,
            &AdaptParams::default(),
            &|_, _| {},
        )?;
        let wall = t.elapsed().as_secs_f64();
        let r = &a.adapted.report;
        println!(
            "{n:>7}  {wall:>9.3}  {:>7}  {:>10}  {:>8}  {}",
            r.solves,
            r.candidates,
            r.members.len(),
            r.validation
        );
    }
    Ok(())
}

fn one_proxy(b: &Bundle, refit_up_to: usize) -> oneproxy::Result<()> {
    let pool = ProxyPool::new(&b.latency);
    let proxy = pool.proxies_named(&["pixel3".into()])?.remove(0);
    println!("one proxy (pixel3), target {TARGET}");
    println!(
        "{:>7}  {:>12}  {:>12}  {:>20}  form, lambda (ridge)",
        "samples", "ridge (s)", "2-norm (s)", "ridge, refits (s)"
    );
    for n in [1000, 6400, 15625] {
        let (archs, y) = samples(b, n)?;
        let time = |params: &AdaptParams| -> oneproxy::Result<(f64, String)> {
            let t = Instant::now();
            let r = adapt(&proxy, &archs, &y, params)?.report;
            Ok((t.elapsed().as_secs_f64(), format!("{}, {:.2e}", r.form.name(), r.lambda)))
        };
        let (ridge, chosen) = time(&AdaptParams::default())?;
        let (l2, _) = time(&AdaptParams { penalty: Penalty::L2, ..AdaptParams::default() })?;
        let refits = if n <= refit_up_to {
            let (s, old) = time(&AdaptParams { validation: Validation::KFold(n), ..AdaptParams::default() })?;
            format!("{s:.2} ({old})")
        } else {
            "-".into()
        };
        println!("{n:>7}  {ridge:>12.3}  {l2:>12.3}  {refits:>20}  {chosen}");
    }
    Ok(())
}

fn main() -> oneproxy::Result<()> {
    let refit_up_to: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let pool_only = std::env::args().nth(2).is_some_and(|a| a == "pool");
    let b = bundle(oneproxy::SpaceId::Nb201)?;
    pool(b)?;
    if !pool_only {
        println!();
        one_proxy(b, refit_up_to)?;
    }
    Ok(())
}
