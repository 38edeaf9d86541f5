//! AdaProxy on large sample sets (issue 8): wall time of one adaptation at 1,000 / 6,400 /
//! 15,625 NB201 samples (pixel3 as proxy with its measurements, raspi4 as target, samples
//! drawn with seed 0), for the default ridge penalty (exact leave-one-out from one fit) and the
//! 2-norm (10-fold above 200 samples). For comparison, the ridge adaptation validated by
//! refitting every leave-one-out fold (the algorithm before issue 8) where that is cheap.
//!
//! ```sh
//! cargo run --release -p oneproxy --example adapt_scaling              # refits up to 1,000 samples
//! cargo run --release -p oneproxy --example adapt_scaling -- 3200      # refits up to 3,200
//! ```
use oneproxy::data::bundled::bundle;
use oneproxy::predictor::{adapt, AdaptParams, Penalty, Proxy, Validation};
use oneproxy::space::seeded_rng;
use oneproxy::workflow::ProxyPredictors;
use std::time::Instant;

fn main() -> oneproxy::Result<()> {
    let refit_up_to: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let b = bundle(oneproxy::SpaceId::Nb201)?;
    let mut cache = ProxyPredictors::default();
    let proxy = Proxy::with_table(cache.get(&b.latency, "pixel3")?, &b.latency)?;
    let target = b.latency.device_index("raspi4")?;
    println!(
        "{:>7}  {:>12}  {:>12}  {:>20}  form, lambda (ridge)",
        "samples", "ridge (s)", "2-norm (s)", "ridge, refits (s)"
    );
    for n in [1000, 6400, 15625] {
        let idx = rand::seq::index::sample(&mut seeded_rng(0), b.archs.len(), n);
        let archs: Vec<_> = idx.iter().map(|i| b.archs[i].clone()).collect();
        let y: Vec<f64> = idx.iter().map(|i| b.latency.get(i, target).unwrap_or(f64::NAN)).collect();
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
