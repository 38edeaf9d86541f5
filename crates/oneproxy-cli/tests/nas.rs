//! End-to-end tests of search, evaluate nas and run.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

const TARGETS: &str = "titan_rtx_256,gold_6226,fpga,pixel2,raspi4,eyeriss";

#[test]
fn goal_pixel3_help10_hv_ratio() {
    // Five trials: with HELP's fixed samples, only the adaptation's extra draws are random,
    // but one unlucky draw moves a target's hv_ratio by 0.02 (pixel2: 0.981 to 0.999).
    // The paper's flow; the sequential design is scored by regret below.
    let v = json(&[
        "evaluate",
        "nas",
        "--space",
        "nb201",
        "--proxy",
        "pixel3",
        "--targets",
        TARGETS,
        "--samples",
        "10",
        "--sample-set",
        "help10",
        "--accuracy",
        "cifar100",
        "--constraint",
        "5",
        "--constraint",
        "10",
        "--trials",
        "5",
        "--design",
        "layers",
        "--no-baselines",
        "--json",
    ]);
    let hv = v["mean_hv_ratio"].as_f64().unwrap();
    assert!(hv >= 0.985, "mean hv_ratio {hv}");
    assert_eq!(v["violations"], 0);
    for t in v["targets"].as_array().unwrap() {
        for key in ["target", "action", "spearman_samples", "measurements", "hv_ratio", "constraints"] {
            assert!(!t[key].is_null(), "{key}");
        }
        assert!(["reuse", "adapt"].contains(&t["action"].as_str().unwrap()));
        for c in t["constraints"].as_array().unwrap() {
            for key in ["constraint", "arch", "accuracy", "latency", "optimal_accuracy", "violated"] {
                assert!(c.get(key).is_some(), "{key}");
            }
        }
    }
}

/// HELP + MetaD2A (NeurIPS 2021, Table 4): per target, constraints and HELP's accuracy, and
/// whether HELP's own pick was within its constraint by true latency.
#[test]
fn goal_beats_help_metad2a_at_its_constraints() {
    // (constraint ms, HELP's accuracy, HELP's pick within its constraint) per target.
    type Published = [(f64, f64, bool); 3];
    let help: [(&str, Published); 5] = [
        ("titan_rtx_256", [(18.0, 69.7, true), (21.0, 71.5, true), (25.0, 71.8, true)]),
        ("gold_6226", [(8.0, 67.3, true), (11.0, 70.2, true), (14.0, 72.1, false)]),
        ("pixel2", [(14.0, 69.7, true), (18.0, 71.8, false), (22.0, 73.2, false)]),
        ("eyeriss", [(5.0, 71.5, true), (7.0, 71.8, true), (9.0, 73.5, false)]),
        ("fpga", [(4.0, 70.2, true), (5.0, 71.8, true), (6.0, 73.5, false)]),
    ];
    let mut gaps = Vec::new();
    for (target, picks) in help {
        let mut args: Vec<String> = [
            "evaluate",
            "nas",
            "--proxy",
            "pixel3",
            "--targets",
            target,
            "--sample-set",
            "help10",
            "--accuracy",
            "cifar100",
            "--design",
            "layers",
            "--no-baselines",
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (c, _, _) in picks {
            args.push("--constraint".into());
            args.push(c.to_string());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = json(&argv);
        for (got, (c, help_acc, help_ok)) in v["targets"][0]["constraints"].as_array().unwrap().iter().zip(picks) {
            assert_eq!(got["violated"], false, "{target} @{c}");
            let acc = got["accuracy"].as_f64().unwrap();
            if help_ok {
                assert!(acc >= help_acc, "{target} @{c}: {acc} < HELP {help_acc}");
            }
            gaps.push(got["optimal_accuracy"].as_f64().unwrap() - acc);
        }
    }
    let mean_gap = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!(mean_gap <= 0.3, "mean gap {mean_gap}");
}

fn front_set(v: &Value) -> BTreeSet<String> {
    v["front"].as_array().unwrap().iter().map(|p| p["arch"].as_str().unwrap().to_string()).collect()
}

#[test]
fn evolution_recovers_the_exhaustive_front_and_is_seeded() {
    let exact = json(&["search", "--accuracy", "cifar100", "--device", "pixel3", "--json"]);
    assert_eq!(exact["evaluated"], 15625);
    let evo = json(&[
        "search",
        "--accuracy",
        "cifar100",
        "--device",
        "pixel3",
        "--method",
        "evolution",
        "--seed",
        "0",
        "--json",
    ]);
    assert_eq!(front_set(&evo), front_set(&exact));
    assert!(evo["evaluated"].as_u64().unwrap() < 15625);
    let again = json(&[
        "search",
        "--accuracy",
        "cifar100",
        "--device",
        "pixel3",
        "--method",
        "evolution",
        "--seed",
        "0",
        "--json",
    ]);
    assert_eq!(evo["front"], again["front"]);
    assert_eq!(evo["manifest"]["seed"], 0);
}

#[test]
fn search_with_an_adapted_predictor_and_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("s.csv");
    std::fs::write(&samples, "index,board\n11982,5.1\n431,7.9\n55,3.2\n9,6.6\n14451,4.4\n8636,9.1\n").unwrap();
    let pred = dir.path().join("p.json");
    oneproxy()
        .args(["adapt", "--proxy", "raspi4", "--samples"])
        .arg(&samples)
        .arg("--out")
        .arg(&pred)
        .assert()
        .success();
    let plot = dir.path().join("front.svg");
    let v = json(&[
        "search",
        "--accuracy",
        "cifar100",
        "--predictor",
        pred.to_str().unwrap(),
        "--constraint",
        "5",
        "--plot",
        plot.to_str().unwrap(),
        "--json",
    ]);
    assert!(v["front"].as_array().unwrap().len() > 5);
    let pick = &v["constraints"][0];
    assert!(pick["latency"].as_f64().unwrap() <= 5.0);
    assert!(std::fs::metadata(&plot).unwrap().len() > 1000);
}

#[test]
fn search_errors_are_clear() {
    let out =
        oneproxy().args(["search", "--space", "fbnet", "--device", "pixel3"]).assert().failure().get_output().clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--accuracy-file"));
    let out = oneproxy()
        .args(["search", "--accuracy", "cifar1000", "--device", "pixel3"])
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown accuracy table 'cifar1000'"));
    oneproxy().args(["search", "--accuracy", "cifar100"]).assert().failure();
}

#[test]
fn run_writes_a_report_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let text = oneproxy()
        .current_dir(dir.path())
        .args(["run", "--targets", "raspi4,eyeriss,edgegpu", "--out"])
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("hv_ratio") && text.contains("eyeriss"));
    let report: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["targets"].as_array().unwrap().len(), 3);
    assert!(report["mean_hv_ratio"].as_f64().unwrap() > 0.9);
    for f in ["heatmap.svg", "pareto-raspi4.svg", "pareto-eyeriss.svg", "pareto-edgegpu.svg"] {
        assert!(out.join(f).exists(), "{f}");
    }
    // Re-running replaces the folder; nothing temporary is left beside it.
    oneproxy().args(["run", "--targets", "raspi4", "--out"]).arg(&out).assert().success();
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["report".to_string()]);
}

#[test]
fn accuracy_file_makes_any_space_searchable() {
    // Accuracies for the first 300 bundled FBNet architectures (a made-up but deterministic
    // score), then an exhaustive search against pixel3's measured latency.
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Fbnet).unwrap();
    let space = oneproxy::SpaceId::Fbnet.space();
    let mut text = String::from("arch,accuracy\n");
    for (i, a) in b.archs.iter().take(300).enumerate() {
        text.push_str(&format!("{},{}\n", space.format(a), 50.0 + (i * 37 % 101) as f64 / 4.0));
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("acc.csv");
    std::fs::write(&f, text).unwrap();
    let v =
        json(&["search", "--space", "fbnet", "--accuracy-file", f.to_str().unwrap(), "--device", "pixel3", "--json"]);
    assert_eq!(v["evaluated"], 300);
    let front = v["front"].as_array().unwrap();
    assert!(!front.is_empty());
    for w in front.windows(2) {
        assert!(w[0]["latency"].as_f64() < w[1]["latency"].as_f64());
        assert!(w[0]["accuracy"].as_f64() < w[1]["accuracy"].as_f64());
    }
}

#[test]
fn search_feeds_measure_and_shows_the_nb201_index() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("to-measure.csv");
    let front_csv = dir.path().join("front.csv");
    let v = json(&[
        "search",
        "--accuracy",
        "cifar100",
        "--device",
        "pixel3",
        "--constraint",
        "5",
        "--to-measure",
        csv.to_str().unwrap(),
        "--device-name",
        "board",
        "--out-csv",
        front_csv.to_str().unwrap(),
        "--json",
    ]);
    let front = v["front"].as_array().unwrap();
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Nb201).unwrap();
    for p in front {
        let i = p["index"].as_u64().unwrap() as usize;
        assert_eq!(oneproxy::SpaceId::Nb201.space().format(&b.archs[i]), p["arch"].as_str().unwrap());
    }
    // --out-csv is the front itself, with the latency and accuracy the JSON reports.
    let mut rows = csv::Reader::from_path(&front_csv).unwrap();
    assert_eq!(rows.headers().unwrap(), vec!["arch", "latency_ms", "accuracy", "index"]);
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), front.len());
    for (r, p) in rows.iter().zip(front) {
        assert_eq!(&r[0], p["arch"].as_str().unwrap());
        assert_eq!(r[1].parse::<f64>().unwrap(), p["latency"].as_f64().unwrap());
        assert_eq!(r[2].parse::<f64>().unwrap(), p["accuracy"].as_f64().unwrap());
        assert_eq!(r[3].parse::<u64>().unwrap(), p["index"].as_u64().unwrap());
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("arch,board"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), front.len(), "the pick is on the front");
    assert!(rows.iter().all(|r| r.ends_with(',')));
    // Ready for `measure --archs`: it parses as an architecture list.
    oneproxy()
        .args(["measure", "--space", "nb201", "--archs"])
        .arg(&csv)
        .args(["--out"])
        .arg(dir.path().join("m.csv"))
        .args([
            "--runner-cmd",
            "echo latency_ms: 1.5; : {model}",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--device-name",
            "board",
        ])
        .assert()
        .success();
}

#[test]
fn evolution_with_an_accuracy_file_searches_the_file() {
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Fbnet).unwrap();
    let space = oneproxy::SpaceId::Fbnet.space();
    let mut text = String::from("arch,accuracy\n");
    for (i, a) in b.archs.iter().take(200).enumerate() {
        text.push_str(&format!("{},{}\n", space.format(a), 60.0 + (i * 13 % 97) as f64 / 5.0));
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("acc.csv");
    std::fs::write(&f, text).unwrap();
    let out = oneproxy()
        .args([
            "search",
            "--space",
            "fbnet",
            "--accuracy-file",
            f.to_str().unwrap(),
            "--device",
            "pixel3",
            "--method",
            "evolution",
            "--json",
        ])
        .assert()
        .success();
    let o = out.get_output();
    assert!(String::from_utf8_lossy(&o.stderr).contains("exhaustively"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["evaluated"], 200);
    assert_eq!(v["method"], "exhaustive");
}
