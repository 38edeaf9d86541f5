//! End-to-end tests of scoring: regret per latency budget, baselines, the sequential design,
//! and `run` telling the truth.

mod common;

use common::*;
use serde_json::Value;

/// The shipped proxy ranking is what the code computes: its best device, as the proxy of every
/// other full-table device with the default flow, reaches exactly the recorded mean regret.
#[test]
fn the_shipped_proxy_ranking_is_reproduced() {
    let ranking: Value =
        serde_json::from_str(include_str!("../../oneproxy/data/nasbench201/proxy_ranking.json")).unwrap();
    let rows = ranking["ranking"].as_array().unwrap();
    let regrets: Vec<f64> = rows.iter().map(|r| r["mean_regret"].as_f64().unwrap()).collect();
    assert!(regrets.windows(2).all(|w| w[0] <= w[1]), "best first");
    for r in rows {
        assert!(!["fpga", "eyeriss"].contains(&r["proxy"].as_str().unwrap()), "simulated devices are not ranked");
    }
    let best = rows[0]["proxy"].as_str().unwrap();
    let devices = json(&["devices", "--json"]);
    let full: Vec<String> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["archs_measured"] == devices["architectures"] && !d["source"].as_str().unwrap().starts_with("computed")
        })
        .map(|d| d["name"].as_str().unwrap().to_string())
        .filter(|d| d != best)
        .collect();
    let v = json(&[
        "evaluate",
        "nas",
        "--targets",
        &full.join(","),
        "--proxy",
        best,
        "--accuracy",
        "cifar100",
        "--samples",
        "3",
        "--seed",
        "0",
        "--trials",
        "3",
        "--no-baselines",
        "--json",
    ]);
    let got = v["mean_regret"].as_f64().unwrap();
    assert!((got - regrets[0]).abs() < 1e-5, "recomputed {got}, shipped {}", regrets[0]);
    let served: std::collections::BTreeSet<&str> =
        v["targets"].as_array().unwrap().iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(served.len(), rows[0]["targets"].as_u64().unwrap() as usize);
}

#[test]
fn evaluate_nas_reports_regret_and_baselines() {
    let v = json(&[
        "evaluate",
        "nas",
        "--targets",
        "pixel2,titan_rtx_256",
        "--proxy",
        "pixel3",
        "--accuracy",
        "cifar100",
        "--trials",
        "2",
        "--json",
    ]);
    for key in ["mean_regret", "mean_measurements", "mean_random_regret", "mean_pareto_recall", "mean_hv_ratio"] {
        assert!(v[key].is_number(), "{key}");
    }
    for t in v["targets"].as_array().unwrap() {
        for key in ["regret", "regret_max", "measurements", "pareto_recall", "random_regret", "hv_ratio"] {
            assert!(t[key].is_number(), "{key}");
        }
        assert!(t["regret"].as_f64().unwrap() <= t["regret_max"].as_f64().unwrap());
        let recall = t["pareto_recall"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&recall));
    }
    for name in ["random", "flops", "always-adapt"] {
        let b = &v["baselines"][name];
        assert!(b["regret"]["mean"].is_number() && b["regret"]["std"].is_number(), "{name}: {b}");
    }
    assert!(
        v["method"]["regret"]["mean"].as_f64().unwrap() < v["baselines"]["random"]["regret"]["mean"].as_f64().unwrap()
    );
    // The text shows the method beside its baselines.
    let out = oneproxy()
        .args(["evaluate", "nas", "--targets", "pixel2", "--proxy", "pixel3", "--accuracy", "cifar100"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for s in ["regret", "random (same count)", "flops as proxy", "always adapt", "±"] {
        assert!(text.contains(s), "{s} missing:\n{text}");
    }
}

/// The measurement budget bounds the sequential design, and more measurements never raise the
/// regret of a run much: it is the regret curve.
#[test]
fn the_sequential_design_spends_what_it_is_given() {
    let at = |n: &str| {
        let v = json(&[
            "evaluate",
            "nas",
            "--targets",
            "gold_6226,samsung_s7",
            "--proxy",
            "raspi4",
            "--accuracy",
            "cifar100",
            "--stop",
            "0",
            "--max-measurements",
            n,
            "--no-baselines",
            "--json",
        ]);
        for t in v["targets"].as_array().unwrap() {
            assert_eq!(
                t["measurements"].as_u64().unwrap(),
                n.parse::<u64>().unwrap(),
                "--stop 0 spends the whole budget"
            );
        }
        v["mean_regret"].as_f64().unwrap()
    };
    let (r15, r60) = (at("15"), at("60"));
    assert!(r60 < r15, "60 measurements {r60}, 15 measurements {r15}");
    // The paper's flow stays available and measures far more.
    let layers = json(&[
        "evaluate",
        "nas",
        "--targets",
        "gold_6226",
        "--proxy",
        "raspi4",
        "--accuracy",
        "cifar100",
        "--design",
        "layers",
        "--no-baselines",
        "--json",
    ]);
    let seq = json(&[
        "evaluate",
        "nas",
        "--targets",
        "gold_6226",
        "--proxy",
        "raspi4",
        "--accuracy",
        "cifar100",
        "--no-baselines",
        "--json",
    ]);
    assert!(layers["mean_measurements"].as_f64().unwrap() > seq["mean_measurements"].as_f64().unwrap());
    assert!(stderr_of(&["evaluate", "nas", "--targets", "gold_6226", "--stop", "-1"]).contains("--stop"));
    assert!(stderr_of(&["evaluate", "nas", "--targets", "gold_6226", "--stop-regret", "-1"]).contains("--stop-regret"));
    assert!(stderr_of(&["evaluate", "nas", "--targets", "gold_6226", "--round-size", "0"]).contains("--round-size"));
}

#[test]
fn run_tells_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = oneproxy()
        .args(["run", "--targets", "pixel2,edgegpu", "--out"])
        .arg(dir.path().join("r"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    // Why the proxy, measured by regret; never a simulated device by default.
    assert!(text.contains("lowest mean regret"), "{text}");
    assert!(!text.contains("proxy fpga") && !text.contains("proxy eyeriss"), "{text}");
    for s in ["measured", "regret", "random", "tight (10%)", "mid (50%)", "loose (90%)", "mean over 2 targets: regret"]
    {
        assert!(text.contains(s), "{s} missing:\n{text}");
    }
    // edgegpu measured a subset of the space: marked.
    assert!(text.contains("edgegpu*") && text.contains("* scored on the architectures the device measured"), "{text}");
    let report: Value = serde_json::from_slice(&std::fs::read(dir.path().join("r/report.json")).unwrap()).unwrap();
    assert_eq!(report["proxy_reason"]["kind"], "lowest-regret");
    assert!(report["mean_regret"].is_number() && report["baselines"]["random"]["regret"]["mean"].is_number());
    // The per-target measurement count is what the flow measured, samples included.
    for t in report["targets"].as_array().unwrap() {
        assert!(t["measurements"].as_u64().unwrap() >= t["samples"].as_u64().unwrap());
    }
    // A named simulated device stays possible.
    oneproxy()
        .args(["run", "--proxy", "fpga", "--targets", "pixel2", "--out"])
        .arg(dir.path().join("f"))
        .assert()
        .success();
}

#[test]
fn devices_says_which_are_simulated() {
    let v = json(&["devices", "--json"]);
    for d in v["devices"].as_array().unwrap() {
        let simulated = ["fpga", "eyeriss"].contains(&d["name"].as_str().unwrap());
        assert_eq!(d["simulated"], simulated, "{d}");
    }
    let text = String::from_utf8(oneproxy().arg("devices").assert().success().get_output().stdout.clone()).unwrap();
    assert!(text.lines().any(|l| l.starts_with("fpga") && l.contains("simulated")));
}

/// `--min-checks`: by default the flow measures the floor of checked predictions before its
/// threshold may stop it (25 measurements with 3 samples); `--min-checks 0` lets a confident
/// flow stop sooner on a device unlike its proxy; a value that is not a count is refused by name.
#[test]
fn the_flow_checks_its_model_before_it_may_stop() {
    let measured = |extra: &[&str]| -> u64 {
        let mut args = vec!["evaluate", "nas", "--targets", "edgetpu", "--proxy", "raspi4", "--samples", "3"];
        args.extend_from_slice(&["--seed", "0", "--no-baselines", "--json"]);
        args.extend_from_slice(extra);
        json(&args)["targets"][0]["measurements"].as_u64().unwrap()
    };
    let (floored, free) = (measured(&[]), measured(&["--min-checks", "0"]));
    assert!(floored >= 25, "{floored} measurements with the default floor");
    assert!(free < floored, "without the floor {free}, with it {floored}");
    let thirty = measured(&["--min-checks", "30"]);
    assert!(thirty >= 33, "{thirty}: at least 30 checked candidates after 3 samples");
    assert!(stderr_of(&["evaluate", "nas", "--targets", "gold_6226", "--min-checks", "-1"]).contains("--min-checks"));
}
