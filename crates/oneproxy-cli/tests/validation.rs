//! Input validation, plausibility warnings and errors people can act on.
//! One test per behaviour: exit code, the fragment the message must contain, and for warnings the
//! stderr line (and the JSON `warnings`).

mod common;

use common::*;
use serde_json::Value;

/// A fixture under `tests/fixtures/`.
fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Run, expect exit code `code`, return stderr.
fn fails_with(args: &[&str], code: i32) -> String {
    let out = oneproxy().args(args).assert().code(code).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Run, expect success, return (stdout, stderr).
fn succeeds(args: &[&str]) -> (String, String) {
    let out = oneproxy().args(args).assert().success().get_output().clone();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn index_of(v: &Value, device: &str) -> usize {
    v["devices"].as_array().unwrap().iter().position(|d| d == device).unwrap()
}

// ---- 1. minimum overlap ----

#[test]
fn correlations_over_too_few_common_architectures_are_undefined_and_never_recommend() {
    // tiny_a and tiny_b rank their 10 common architectures identically: a perfect 1.0 over 10
    // points, which used to make one of them the "recommended proxy".
    let f = fixture("small_devices.csv");
    let v = json(&["monotonicity", "--latency", &f, "--devices", "tiny_a,tiny_b,pixel3,raspi4", "--json"]);
    let (a, b, p) = (index_of(&v, "tiny_a"), index_of(&v, "tiny_b"), index_of(&v, "pixel3"));
    assert_eq!(v["overlaps"][a][b], 10);
    assert_eq!(v["overlaps"][a][p], 10);
    let why = v["matrix"][a][b].as_str().expect("a reason in words, not a number or null");
    assert!(why.contains("10 architectures measured on both, fewer than the 30"), "{why}");
    assert!(v["matrix"][p][index_of(&v, "raspi4")].is_f64());
    assert_eq!(v["min_overlap"], 30);
    let rec = v["recommended_proxy"]["device"].as_str().unwrap();
    assert!(rec == "pixel3" || rec == "raspi4", "{rec}");
    assert_eq!(v["not_comparable"], serde_json::json!(["tiny_a", "tiny_b"]));
    assert!(!v.to_string().contains("null"));
    // The table shows '-' with the overlap in brackets, and says who cannot be compared.
    let (table, _) = succeeds(&["monotonicity", "--latency", &f, "--devices", "tiny_a,tiny_b,pixel3"]);
    assert!(table.contains("- [10]"), "{table}");
    assert!(
        table
            .contains("not comparable (fewer than 30 architectures in common with every other device): tiny_a, tiny_b"),
        "{table}"
    );
    // With the minimum lowered to the overlap, the pair counts.
    let low = json(&["monotonicity", "--latency", &f, "--devices", "tiny_a,tiny_b", "--min-overlap", "10", "--json"]);
    assert_eq!(low["matrix"][0][1].as_f64(), Some(1.0));
    let err = fails_with(&["monotonicity", "--min-overlap", "1"], 2);
    assert!(err.contains("invalid value '1' for '--min-overlap <N>': must be at least 2"), "{err}");
}

// ---- 2. clipped counts are said ----

#[test]
fn a_plan_budget_beyond_the_space_is_clipped_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.csv");
    let (_, err) = succeeds(&["plan", "--budget", "20000", "--proxy", "pixel3", "--out", out.to_str().unwrap()]);
    assert!(
        err.contains("asked for 20000 architectures, but space nb201 has 15625 candidates: planning all 15625"),
        "{err}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 1 + 15625);
    let err = fails_with(&["plan", "--budget", "0", "--proxy", "pixel3"], 2);
    assert!(err.contains("invalid value '0' for '--budget <BUDGET>': must be at least 1"), "{err}");
}

// ---- 3. plausibility warnings ----

#[test]
fn implausible_latencies_are_warned_on_stderr_and_in_json() {
    let f = fixture("implausible_latency.csv");
    let out = oneproxy().args(["devices", "--latency", &f, "--json"]).assert().success().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("warning: {f}:3: column 'board': implausibly fast: below 1 us per image")), "{err}");
    assert!(
        err.contains(&format!("warning: {f}:6: column 'board': implausibly slow: above 1 hour per image")),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let w = v["warnings"].as_array().unwrap();
    assert!(w.iter().any(|w| w["line"] == 3 && w["column"] == "board" && w["file"] == f.as_str()), "{w:?}");
    // Plausible data gives an empty list, and no warning line.
    let (stdout, stderr) = succeeds(&["monotonicity", "--devices", "pixel3,raspi4", "--json"]);
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap()["warnings"], serde_json::json!([]));
}

#[test]
fn rows_in_other_units_are_warned() {
    let f = fixture("mixed_units.csv");
    let (_, err) = succeeds(&["devices", "--latency", &f]);
    assert!(
        err.contains(&format!("warning: {f}:5: column 'board': 2 of 10 values lie across a 100x gap from the others")),
        "{err}"
    );
    assert!(err.contains("(nothing between 3.9 and 3600 ms): rows in different units? (lines 5, 9)"), "{err}");
}

#[test]
fn accuracies_outside_0_100_are_an_error() {
    let err = fails_with(&["search", "--accuracy-file", &fixture("accuracy_over_100.csv"), "--device", "pixel3"], 1);
    assert!(
        err.contains(":3: column 'accuracy': invalid value '140': an accuracy is a percentage in [0, 100]"),
        "{err}"
    );
}

#[test]
fn accuracies_that_look_like_fractions_are_warned() {
    let f = fixture("accuracy_fractions.csv");
    let (_, err) = succeeds(&["search", "--accuracy-file", &f, "--device", "pixel3"]);
    assert!(
        err.contains(&format!(
            "warning: {f}: column 'accuracy': all 12 accuracies lie in [0, 1]: they look like fractions"
        )),
        "{err}"
    );
}

#[test]
fn a_header_arch_arch_is_an_error() {
    let err = fails_with(&["monotonicity", "--latency", &fixture("arch_arch.csv")], 1);
    assert!(err.contains("duplicate column 'arch' (columns 1 and 2)"), "{err}");
}

#[test]
fn duplicate_targets_devices_and_pool_are_errors() {
    let err = fails_with(&["evaluate", "adapt", "--targets", "raspi4,fpga, raspi4", "--proxy", "pixel3"], 1);
    assert!(err.contains("--targets lists 'raspi4' twice"), "{err}");
    let err = fails_with(&["monotonicity", "--devices", "pixel3,pixel3"], 1);
    assert!(err.contains("--devices lists 'pixel3' twice"), "{err}");
    let err = fails_with(&["evaluate", "adapt", "--targets", "raspi4", "--pool", "pixel3,fpga,pixel3"], 1);
    assert!(err.contains("--pool lists 'pixel3' twice"), "{err}");
    let err = fails_with(&["monotonicity", "--devices", "pixel3,,raspi4"], 2);
    assert!(err.contains("empty name in the list"), "{err}");
}

#[test]
fn flow_numbers_out_of_range_are_refused_at_parse_time() {
    let base = ["evaluate", "nas", "--targets", "raspi4", "--proxy", "pixel3", "--accuracy", "cifar100"];
    for (flag, value, want) in [
        ("--threshold", "1.5", "must be a correlation in [-1, 1]"),
        ("--threshold", "NaN", "must be a correlation in [-1, 1]"),
        ("--threshold", "-2", "must be a correlation in [-1, 1]"),
        ("--max-samples", "0", "must be at least 1"),
        ("--layers", "0", "must be at least 1"),
    ] {
        let mut args = base.to_vec();
        args.extend([flag, value]);
        let err = fails_with(&args, 2);
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag}")) && err.contains(want),
            "{flag} {value}: {err}"
        );
    }
}

// ---- 4. device names ----

#[test]
fn plan_device_names_that_would_break_the_csv_are_refused() {
    for (name, why) in [
        ("a,b", "comma"),
        ("", "empty"),
        ("x\ny", "control character"),
        ("arch", "architecture column"),
        (" pad", "space"),
    ] {
        let err = fails_with(&["plan", "--budget", "3", "--proxy", "pixel3", "--device-name", name], 2);
        assert!(err.contains("invalid device name") && err.contains(why), "{name:?}: {err}");
    }
    // A valid name with a space inside is written as is, and reads back as a latency file.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.csv");
    succeeds(&[
        "plan",
        "--budget",
        "3",
        "--proxy",
        "pixel3",
        "--device-name",
        "my board",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("arch,my board\n"));
}

#[test]
fn csv_header_device_names_follow_the_same_rule() {
    let err = fails_with(&["monotonicity", "--latency", &fixture("quoted_device.csv")], 1);
    assert!(err.contains("column 2: invalid device name 'my\"board': it contains a quote"), "{err}");
}

#[test]
fn measure_device_name_follows_the_same_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.csv");
    let args = [
        "measure",
        "--space",
        "nb201",
        "--sample",
        "1",
        "--runner-cmd",
        "echo 1 {model}",
        "--device-name",
        "a,b",
        "--out",
    ];
    let mut args = args.to_vec();
    args.push(out.to_str().unwrap());
    let err = fails_with(&args, 1);
    assert!(err.contains("--device-name: invalid device name 'a,b': it contains a comma"), "{err}");
    assert!(!out.exists());
}

#[test]
fn predict_refuses_a_predictor_device_that_would_break_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("board.json");
    let samples = fixture("board_samples.csv");
    let args = [
        "adapt",
        "--proxy",
        "pixel3",
        "--samples",
        &samples,
        "--form",
        "per-feature",
        "--lambda",
        "1",
        "--ensemble",
        "1",
        "--out",
    ];
    let mut args = args.to_vec();
    args.push(p.to_str().unwrap());
    succeeds(&args);
    let arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
    // The saved predictor predicts under its device name.
    let (csv, _) = succeeds(&["predict", "--predictor", p.to_str().unwrap(), "--arch", arch]);
    assert!(csv.starts_with(&format!("arch,board\n{arch},")), "{csv}");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["device"] = "a,b\nc".into();
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let err = fails_with(&["predict", "--predictor", p.to_str().unwrap(), "--arch", arch], 1);
    assert!(
        err.contains("the predictor's 'device' field cannot name a CSV column") && err.contains("it contains a comma"),
        "{err}"
    );
}

// ---- 5. errors people can act on ----

#[test]
fn a_missing_file_says_its_cause_once() {
    let err = fails_with(&["monotonicity", "--latency", "/no/such/file.csv"], 1);
    assert!(err.contains("/no/such/file.csv"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let err = fails_with(&["predict", "--predictor", "/no/such/p.json", "--all"], 1);
    assert_eq!(err.matches("/no/such/p.json").count(), 1, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn a_huge_value_is_cut_in_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("huge.csv");
    let cell = "|".to_string() + &"nor_conv_3x3".repeat(100_000);
    std::fs::write(&f, format!("arch,board\n{cell},1.5\n")).unwrap();
    let err = fails_with(&["monotonicity", "--latency", f.to_str().unwrap()], 1);
    assert!(err.len() < 2_000, "{} bytes of error", err.len());
    assert!(
        err.contains(":2: invalid nb201 architecture '|nor_conv_3x3") && err.contains("(1200001 characters in all)"),
        "{err}"
    );
}

#[test]
fn device_lists_are_trimmed() {
    let v = json(&["monotonicity", "--devices", "pixel3, raspi4 ", "--json"]);
    assert_eq!(v["devices"], serde_json::json!(["pixel3", "raspi4"]));
}

#[test]
fn an_unknown_device_gets_a_near_miss_and_a_short_list() {
    let err = fails_with(&["monotonicity", "--devices", "pixel 3,raspi4"], 1);
    assert!(err.contains("unknown device 'pixel 3'; did you mean 'pixel3'?"), "{err}");
    assert!(err.contains("in all, see `oneproxy devices`)"), "{err}");
    assert!(!err.contains("titan_rtx_256"), "the full list of devices: {err}");
    let err = fails_with(&["search", "--accuracy", "cifar100", "--device", "Raspi4"], 1);
    assert!(err.contains("did you mean 'raspi4'?"), "{err}");
}

#[test]
fn negative_numbers_parse_and_get_a_domain_error() {
    let err = fails_with(&["search", "--accuracy", "cifar100", "--device", "pixel3", "--constraint", "-1"], 2);
    assert!(!err.contains("unexpected argument"), "{err}");
    assert!(err.contains("invalid value '-1' for '--constraint <MS>': must be a positive number of ms"), "{err}");
    // A negative value that is valid (a threshold) is accepted: the run gets as far as the
    // unknown target.
    let err = fails_with(
        &[
            "evaluate",
            "nas",
            "--targets",
            "nosuch",
            "--proxy",
            "pixel3",
            "--accuracy",
            "cifar100",
            "--threshold",
            "-0.5",
        ],
        1,
    );
    assert!(err.contains("unknown device 'nosuch'"), "{err}");
}

// ---- parameters named as flags ----

#[test]
fn library_errors_name_the_parameter_as_its_flag() {
    let err = fails_with(&["search", "--device", "pixel3", "--method", "evolution", "--population", "1"], 1);
    assert!(err.contains("--population: must be at least 2"), "{err}");
    let err = fails_with(&["evaluate", "adapt", "--targets", "pixel3", "--trials", "0"], 1);
    assert!(err.contains("--trials: at least one trial"), "{err}");
    assert!(!err.contains('`'), "the library's own spelling leaked: {err}");
}
