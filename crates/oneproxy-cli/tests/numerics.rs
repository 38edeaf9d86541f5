//! AdaProxy numerics end to end: any positive finite latencies adapt without a
//! panic or a non-finite number, every prediction over the space is positive, and the JSON
//! holds no `null` where a number belongs.

mod common;

use common::*;
use oneproxy::SearchSpace;
use serde_json::Value;
use std::path::Path;

/// Bundled NB201 latency of `device` for each architecture string.
fn bundled(device: &str, archs: &[String]) -> Vec<f64> {
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Nb201).unwrap();
    let col = b.latency.device_index(device).unwrap();
    archs.iter().map(|a| b.latency.latency(&oneproxy::space::Nb201.parse(a).unwrap(), col).unwrap()).collect()
}

/// The README flow's first two steps: `plan` 10 architectures with pixel3, then fill them in
/// with `latency(arch)` (as a user would after measuring). Returns the samples file.
fn planned_samples(dir: &Path, seed: u64, latency: impl Fn(&[String]) -> Vec<f64>) -> String {
    let plan = dir.join(format!("plan{seed}.csv"));
    let seed = seed.to_string();
    oneproxy()
        .args(["plan", "--space", "nb201", "--budget", "10", "--proxy", "pixel3", "--seed", &seed, "--out"])
        .arg(&plan)
        .assert()
        .success();
    let archs: Vec<String> = std::fs::read_to_string(&plan)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.strip_suffix(',').expect("empty latency column").trim_matches('"').to_string())
        .collect();
    assert_eq!(archs.len(), 10);
    let mut text = String::from("arch,board\n");
    for (a, v) in archs.iter().zip(latency(&archs)) {
        text.push_str(&format!("\"{a}\",{v:e}\n"));
    }
    let file = dir.join(format!("samples{seed}.csv"));
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

/// `adapt --out P --json`, then `predict --all`: the JSON and every prediction.
fn adapt_and_predict(dir: &Path, samples: &str, extra: &[&str]) -> (Value, Vec<f64>) {
    let pred = dir.join("p.json");
    let mut args = vec![
        "adapt",
        "--space",
        "nb201",
        "--proxy",
        "pixel3",
        "--samples",
        samples,
        "--json",
        "--out",
        pred.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let v = json(&args);
    let text = std::fs::read_to_string(&pred).unwrap();
    assert!(!text.contains("null"), "a predictor file holds null: {text}");
    let out = oneproxy()
        .args(["predict", "--predictor", pred.to_str().unwrap(), "--all"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let values: Vec<f64> = String::from_utf8(out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit_once(',').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(values.len(), 15625);
    (v, values)
}

/// Paths of every `null` in a JSON document.
fn nulls(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(path.to_string()),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| nulls(x, &format!("{path}[{i}]"), out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| nulls(x, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

/// No null but `predictor_file` (a path, null without `--out`): serde_json writes NaN and
/// infinity as null, so a null elsewhere is a number gone wrong.
fn assert_no_null_numbers(v: &Value) {
    let mut found = Vec::new();
    nulls(v, "", &mut found);
    found.retain(|p| p != ".predictor_file");
    assert!(found.is_empty(), "null where a number belongs: {found:?}");
}

fn assert_positive(values: &[f64], what: &str) {
    let low = values.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(values.iter().all(|v| v.is_finite() && *v > 0.0), "{what}: lowest prediction {low}");
}

#[test]
fn any_positive_finite_latency_adapts() {
    let dir = tempfile::tempdir().unwrap();
    for (i, factor) in [1e-14, 1e-300, 1e306].into_iter().enumerate() {
        let samples =
            planned_samples(dir.path(), i as u64, |a| bundled("raspi4", a).into_iter().map(|v| v * factor).collect());
        let (v, values) = adapt_and_predict(dir.path(), &samples, &[]);
        assert_no_null_numbers(&v);
        assert_positive(&values, &format!("x{factor}"));
        // The predictions are in the samples' unit.
        let median = {
            let mut s = values.clone();
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        };
        assert!(median / factor > 0.5 && median / factor < 500.0, "x{factor}: median {median}");
        // The conic norms too (Clarabel on the same rescaled problems), at the extremes.
        if !(1e-100..=1e303).contains(&factor) {
            let (v, values) = adapt_and_predict(dir.path(), &samples, &["--norm", "1"]);
            assert_no_null_numbers(&v);
            assert_positive(&values, &format!("x{factor}, norm 1"));
        }
    }
}

#[test]
fn readme_flow_predicts_positive_latencies_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    for (device, seed) in [("raspi4", 0), ("fpga", 1), ("titan_rtx_256", 2)] {
        let samples = planned_samples(dir.path(), seed, |a| bundled(device, a));
        let (v, values) = adapt_and_predict(dir.path(), &samples, &[]);
        assert_no_null_numbers(&v);
        assert_positive(&values, &format!("{device}, seed {seed}"));
    }
    // The search puts only positive latencies on its front.
    let s = json(&[
        "search",
        "--accuracy",
        "cifar100",
        "--predictor",
        dir.path().join("p.json").to_str().unwrap(),
        "--json",
    ]);
    for p in s["front"].as_array().unwrap() {
        assert!(p["latency"].as_f64().unwrap() > 0.0, "{p}");
    }
}

#[test]
fn adversarial_target_stays_positive() {
    // The slower on pixel3, the faster on the target.
    let dir = tempfile::tempdir().unwrap();
    for seed in [0, 5] {
        let samples = planned_samples(dir.path(), seed, |a| {
            bundled("pixel3", a).into_iter().map(|v| 100.0 / (1.0 + v)).collect()
        });
        for extra in [&[][..], &["--form", "per-feature", "--norm", "2"][..]] {
            let (v, values) = adapt_and_predict(dir.path(), &samples, extra);
            assert_no_null_numbers(&v);
            assert_positive(&values, &format!("seed {seed} {extra:?}"));
        }
    }
}

#[test]
fn adapt_json_says_no_correction_in_words() {
    // HELP's 10 gold_6226 samples with the paper's form: the best lambda is infinite.
    let dir = tempfile::tempdir().unwrap();
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Nb201).unwrap();
    let col = b.latency.device_index("gold_6226").unwrap();
    let mut text = String::from("index,board\n");
    for &i in oneproxy::data::bundled::HELP10_NB201.iter() {
        text.push_str(&format!("{i},{}\n", b.latency.get(i, col).unwrap()));
    }
    let f = dir.path().join("help10.csv");
    std::fs::write(&f, text).unwrap();
    let v = json(&[
        "adapt",
        "--proxy",
        "pixel3",
        "--samples",
        f.to_str().unwrap(),
        "--form",
        "per-feature",
        "--norm",
        "2",
        "--json",
    ]);
    assert_eq!(v["lambda"], "none", "{}", v["lambda"]);
    assert_eq!(v["report"]["members"][0]["lambda"], "none");
    assert_no_null_numbers(&v);
    let text = String::from_utf8(
        oneproxy()
            .args([
                "adapt",
                "--proxy",
                "pixel3",
                "--samples",
                f.to_str().unwrap(),
                "--form",
                "per-feature",
                "--norm",
                "2",
            ])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    assert!(text.contains("lambda none (no correction)"), "{text}");
}
