//! Quick research driver: the issue-3 goal table for NB201.
use oneproxy::bundled::{bundle, HELP10_NB201};
use oneproxy::evaluate::*;
use oneproxy::predictor::*;
fn main() {
    let b = bundle(oneproxy::SpaceId::Nb201).unwrap();
    let pool: Vec<String> = "1080ti_1,1080ti_32,1080ti_256,silver_4114,silver_4210r,samsung_a50,pixel3,essential_ph_1,samsung_s7,titanx_1,titanx_32,titanx_256,gold_6240".split(',').map(String::from).collect();
    let targets: Vec<String> = "titan_rtx_256,gold_6226,fpga,pixel2,raspi4,eyeriss".split(',').map(String::from).collect();
    let help: Vec<_> = HELP10_NB201.iter().map(|&i| b.archs[i].clone()).collect();
    for (name, params) in [("paper", AdaptParams::paper()), ("auto-form", AdaptParams::default()), ("ridge", AdaptParams{penalty: Penalty::Ridge, ..AdaptParams::default()})] {
        for (pname, proxy) in [("pixel3", ProxyChoice::Device("pixel3".into())), ("auto", ProxyChoice::Auto{pool: pool.clone()})] {
            let t = std::time::Instant::now();
            let e = evaluate_adapt(&b.latency, &targets, &proxy, &SampleSet::Fixed(help.clone()), &params).unwrap();
            let r: Vec<String> = e.targets.iter().map(|t| format!("{}:{:.3}({})", t.target, t.spearman_after, t.proxy)).collect();
            println!("{name} {pname} help10: before {:.3} after {:.3}  {}  [{:.1}s]", e.mean_before, e.mean_after, r.join(" "), t.elapsed().as_secs_f64());
        }
    }
}
