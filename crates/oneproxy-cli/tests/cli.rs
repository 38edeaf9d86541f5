//! End-to-end tests of the `oneproxy` binary.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

fn cell(v: &Value, a: &str, b: &str) -> f64 {
    let devs: Vec<&str> = v["devices"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    let i = devs.iter().position(|d| *d == a).unwrap();
    let j = devs.iter().position(|d| *d == b).unwrap();
    v["matrix"][i][j].as_f64().unwrap()
}

const A1: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
const A2: &str = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";
const A3: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn monotonicity_reference_figures() {
    let v = json(&["monotonicity", "--space", "nb201", "--json"]);
    assert!((cell(&v, "pixel3", "raspi4") - 0.9667486803297226).abs() < 1e-9);
    assert!((cell(&v, "eyeriss", "fpga") - 0.7540970421558715).abs() < 1e-9);
    assert_eq!(v["space"], "nb201");
    assert_eq!(v["metric"], "spearman");
    assert_eq!(v["manifest"]["units"], "ms per image");
    assert!(v["recommended_proxy"]["device"].is_string());
    let n = v["devices"].as_array().unwrap().len();
    assert_eq!(v["overlaps"][0][0].as_u64(), Some(15625));
    assert_eq!(v["matrix"].as_array().unwrap().len(), n);
    let k = json(&["monotonicity", "--space", "nb201", "--metric", "kendall", "--devices", "pixel3,raspi4", "--json"]);
    assert!((cell(&k, "pixel3", "raspi4") - 0.8461928843023325).abs() < 1e-9);
    // The shipped regret ranking covers both devices, so it decides, whatever the metric.
    assert_eq!(k["recommended_proxy"]["device"], "raspi4");
    assert_eq!(k["recommended_proxy"]["criterion"]["kind"], "lowest-regret");
    assert_eq!(k["recommended_proxy"]["by_correlation"]["device"], "pixel3");
}

#[test]
fn monotonicity_plan_and_run_recommend_the_same_measured_proxy_and_say_why() {
    let m = json(&["monotonicity", "--json"]);
    let rec = m["recommended_proxy"]["device"].as_str().unwrap().to_string();
    assert_eq!(m["recommended_proxy"]["criterion"]["kind"], "lowest-regret");
    assert!(rec != "fpga" && rec != "eyeriss", "a simulated device is never the default: {rec}");
    let text = |args: &[&str]| {
        let out = oneproxy().args(args).assert().success().get_output().clone();
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (table, _) = text(&["monotonicity"]);
    assert!(table.contains(&format!("recommended proxy: {rec} (lowest mean regret")), "{table}");
    let (_, plan) = text(&["plan", "--budget", "3"]);
    assert!(plan.contains(&format!("recommended proxy: {rec} (lowest mean regret")), "{plan}");
    assert!(plan.contains(&format!("spanning {rec}'s latency range")), "{plan}");
    // The report folder goes to a temporary folder, not into the working directory.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let run = json(&["run", "--targets", "pixel3", "--json", "--out", out.to_str().unwrap()]);
    assert_eq!(run["proxy"], rec.as_str());
    assert_eq!(run["recommended_proxy"]["device"], rec.as_str());
    assert_eq!(run["recommended_proxy"]["criterion"]["kind"], "lowest-regret");
    assert_eq!(run["proxy_reason"]["kind"], "lowest-regret");
}

#[test]
fn own_devices_outside_the_ranking_are_recommended_by_mean_correlation() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "mine.csv", &format!("arch,phone,board\n{A1},12.5,3\n{A2},8.0,2\n{A3},1.0,2.5\n"));
    let v = json(&["monotonicity", "--latency", &f, "--devices", "phone,board", "--min-overlap", "3", "--json"]);
    assert_eq!(v["recommended_proxy"]["criterion"]["kind"], "highest-mean-correlation");
    assert_eq!(v["recommended_proxy"]["criterion"]["metric"], "spearman");
    assert_eq!(v["recommended_proxy"]["device"], "phone");
}

#[test]
fn user_csv_in_arch_format_mixes_with_bundled_devices() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "mine.csv", &format!("arch,phone,board\n{A1},12.5,3\n{A2},8.0,2\n{A3},1.0,2.5\n"));
    // Three rows are far below the default minimum overlap; lowered here to test the arithmetic.
    let v = json(&["monotonicity", "--latency", &f, "--devices", "phone,board,pixel3", "--min-overlap", "3", "--json"]);
    assert_eq!(v["overlaps"][0][2], 3);
    assert!((cell(&v, "phone", "board") - 0.5).abs() < 1e-12);
    assert_eq!(v["manifest"]["inputs"].as_array().unwrap().iter().filter(|i| i["name"] == f.as_str()).count(), 1);
    let d = json(&["devices", "--latency", &f, "--json"]);
    let names: Vec<&str> = d["devices"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"phone") && names.contains(&"pixel3"));
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (format!("arch,dev\n{A1},fast\n"), ":2: column 'dev': invalid value 'fast'"),
        (format!("arch,dev\n{A1},-3\n"), "must be > 0"),
        (format!("arch,dev\n{A1},1\n{A1},2\n"), ":3: duplicate row"),
        (format!("arch,pixel3\n{A1},1\n"), "device 'pixel3' is already defined"),
        ("arch,dev\n|nope|,1\n".to_string(), "invalid nb201 architecture '|nope|'"),
        (format!("arch\n{A1}\n"), "no device column"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let f = write(dir.path(), &format!("bad{i}.csv"), text);
        let out = oneproxy().args(["monotonicity", "--latency", &f]).assert().failure().get_output().clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{text:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = oneproxy().args(["monotonicity", "--devices", "pixel3,nokia"]).assert().failure().get_output().clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown device 'nokia'"));
    oneproxy().args(["monotonicity", "--latency", "/no/such/file.csv"]).assert().failure();
}

#[test]
fn heatmap_plot_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["svg", "png"] {
        let p = dir.path().join(format!("h.{ext}"));
        oneproxy()
            .args(["monotonicity", "--devices", "pixel3,raspi4,fpga", "--plot", p.to_str().unwrap()])
            .assert()
            .success();
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes.len() > 1000);
        if ext == "svg" {
            assert!(String::from_utf8_lossy(&bytes).contains("raspi4"));
        } else {
            assert_eq!(&bytes[1..4], b"PNG");
        }
    }
    oneproxy().args(["monotonicity", "--plot", dir.path().join("h.jpg").to_str().unwrap()]).assert().failure();
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["devices", "monotonicity"] {
        oneproxy().args([sub, "--help"]).assert().success();
    }
    let out = oneproxy().arg("--help").assert().success().get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&out).contains("monotonicity"));
}

#[test]
fn other_spaces_load() {
    for space in ["fbnet", "ofa-mbv3"] {
        let v = json(&["monotonicity", "--space", space, "--json"]);
        assert!(v["devices"].as_array().unwrap().len() >= 12);
    }
}

#[test]
fn flops_and_params_are_pseudo_devices() {
    let v = json(&["monotonicity", "--devices", "flops,params,pixel3", "--json"]);
    let r = cell(&v, "flops", "pixel3");
    assert!(r > 0.7 && r < 1.0, "{r}");
    // Not part of "every device" by default.
    let all = json(&["monotonicity", "--json"]);
    let names: Vec<&str> = all["devices"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert!(!names.contains(&"flops") && names.contains(&"pixel3"));
}
