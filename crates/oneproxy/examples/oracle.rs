use oneproxy::bundled::bundle;
use oneproxy::evaluate::ProxyPredictors;
use oneproxy::stats::spearman;
fn main() {
    let b = bundle(oneproxy::SpaceId::Nb201).unwrap();
    let t = &b.latency;
    let mut c = ProxyPredictors::default();
    for d in ["titan_rtx_256","gold_6226","fpga","pixel2","raspi4","eyeriss","pixel3","edgegpu","edgetpu"] {
        let col = t.device_index(d).unwrap();
        let rows = t.measured_rows(col);
        let archs: Vec<_> = rows.iter().map(|&r| t.archs()[r].clone()).collect();
        let y: Vec<f64> = rows.iter().map(|&r| t.column(col)[r]).collect();
        let p = c.get(t, d).unwrap();
        println!("{d}: additive self-fit spearman {:.4}", spearman(&p.predict_all(&archs), &y));
    }
}
