//! The issue-3 goal table for NB201 through the library API (`cargo run --release --example eval_adapt`).
use oneproxy::predictor::AdaptParams;
use oneproxy::predictor::ProxySelection;
use oneproxy::workflow::{evaluate_adapt, SampleSet, Trials};
use oneproxy::SpaceId;

fn main() -> oneproxy::Result<()> {
    let b = oneproxy::data::bundled::bundle(SpaceId::Nb201)?;
    let pool: Vec<String> = "1080ti_1,1080ti_32,1080ti_256,silver_4114,silver_4210r,samsung_a50,pixel3,essential_ph_1,samsung_s7,titanx_1,titanx_32,titanx_256,gold_6240"
        .split(',')
        .map(String::from)
        .collect();
    let targets: Vec<String> =
        "titan_rtx_256,gold_6226,fpga,pixel2,raspi4,eyeriss".split(',').map(String::from).collect();
    let help = SampleSet::help10(SpaceId::Nb201)?;
    for (name, params) in [("paper", AdaptParams::paper()), ("oneproxy", AdaptParams::default())] {
        for (pname, proxy) in [
            ("pixel3", ProxySelection::Device("pixel3".into())),
            ("auto", ProxySelection::Auto { pool: Some(pool.clone()) }),
        ] {
            let e = evaluate_adapt(&b.latency, &targets, &proxy, &help, Trials::default(), &params, &|| {})?;
            let per: Vec<String> = e.targets.iter().map(|t| format!("{} {:.3}", t.target, t.spearman_after)).collect();
            println!(
                "{name:>8} proxy={pname:<6} help10: mean {:.3} -> {:.3} | {}",
                e.mean_before,
                e.mean_after,
                per.join(", ")
            );
        }
    }
    Ok(())
}
