//! End-to-end tests of `export` and `measure`.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn oneproxy() -> Command {
    Command::cargo_bin("oneproxy").unwrap()
}

const NONE: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
const CONV: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
const MIXED: &str = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";

fn stderr_of(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&cmd.assert().failure().get_output().stderr).into_owned()
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p).unwrap().lines().map(String::from).collect()
}

#[test]
fn export_writes_onnx_for_every_space() {
    let dir = tempfile::tempdir().unwrap();
    for (space, arch) in [
        ("nb201", MIXED),
        ("fbnet", "k5_e6-skip-k3_e1_g2-skip-k5_e1-skip-skip-skip-k5_e6-k5_e1-k3_e1_g2-k5_e1-k5_e6-k3_e6-k3_e3-k5_e6-k3_e6-k3_e3-k5_e1-k3_e3-k5_e1-k5_e1_g2"),
        ("ofa-mbv3", "r204_k75-55-77-57-573_e64-46-63-43-336"),
        ("mbv2", "r128_k33-33-33-33-33_e33-33-33-33-33"),
        ("proxyless", "r128_k33-33-33-33-33_e33-33-33-33-33"),
    ] {
        let out = dir.path().join(format!("{space}.onnx"));
        oneproxy().args(["export", "--space", space, "--arch", arch, "--batch", "2", "--out"]).arg(&out).assert().success();
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.len() > 10_000, "{space}: {} bytes", bytes.len());
        // The architecture string is recorded in the model's doc string.
        assert!(bytes.windows(arch.len()).any(|w| w == arch.as_bytes()), "{space}");
    }
}

#[test]
fn export_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let e = stderr_of(
        oneproxy().args(["export", "--space", "nb201", "--arch", "|conv~0|", "--out"]).arg(dir.path().join("x.onnx")),
    );
    assert!(e.contains("invalid nb201 architecture"), "{e}");
    let e =
        stderr_of(oneproxy().args(["export", "--space", "nb201", "--arch", NONE, "--out", "/nonexistent/dir/x.onnx"]));
    assert!(e.contains("/nonexistent/dir/x.onnx"), "{e}");
}

/// A fake runtime: succeeds with 2.5 ms unless the model is an all-conv3x3 one (its doc string
/// holds the architecture).
fn fake_runner() -> &'static str {
    "if grep -q 'nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1' {model}; then echo boom >&2; exit 3; fi; echo 'latency_ms: 2.5'"
}

#[test]
fn runner_writes_the_user_latency_format_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lat.csv");
    let base = |n: &str| {
        let mut c = oneproxy();
        c.args([
            "measure",
            "--space",
            "nb201",
            "--sample",
            n,
            "--seed",
            "4",
            "--runs",
            "3",
            "--warmup",
            "1",
            "--device-name",
            "fake",
        ])
        .args(["--runner-cmd", "echo 2.5 {model}", "--runner-regex", r"^([0-9.]+)", "--out"])
        .arg(&out);
        c
    };
    base("3").assert().success();
    let first = lines(&out);
    assert_eq!(first[0], "arch,fake");
    assert_eq!(first.len(), 4);
    // The shortest form that reads back to the same number.
    assert!(first[1..].iter().all(|l| l.ends_with(",2.5")), "{first:?}");
    // Same file without --resume: refused, nothing lost.
    let e = stderr_of(&mut base("5"));
    assert!(e.contains("--resume"), "{e}");
    assert_eq!(lines(&out), first);
    // --resume keeps the three rows and adds the two new samples.
    let v: Value =
        serde_json::from_slice(&base("5").arg("--resume").arg("--json").assert().success().get_output().stdout)
            .unwrap();
    assert_eq!(v["skipped"], 3);
    assert_eq!(v["measured"].as_array().unwrap().len(), 2);
    assert_eq!(v["measured"][0]["measurement"]["samples_ms"].as_array().unwrap().len(), 3);
    assert!(v["environment"]["engine"].as_str().unwrap().starts_with("external"));
    let all = lines(&out);
    assert_eq!(all.len(), 6);
    assert_eq!(all[..4], first[..]);
    // The output plugs into the other commands as a user latency file.
    oneproxy().args(["devices", "--space", "nb201", "--latency"]).arg(&out).assert().success();
}

#[test]
fn one_failing_architecture_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("archs.csv");
    std::fs::write(&list, format!("arch\n{NONE}\n{CONV}\n{MIXED}\n")).unwrap();
    let out = dir.path().join("lat.csv");
    let e = stderr_of(
        oneproxy()
            .args(["measure", "--space", "nb201", "--archs"])
            .arg(&list)
            .args(["--runs", "2", "--warmup", "0", "--device-name", "fake", "--runner-cmd", fake_runner(), "--out"])
            .arg(&out),
    );
    assert!(e.contains("boom") && e.contains("1 of 3 architectures failed"), "{e}");
    let rows = lines(&out);
    assert_eq!(
        rows,
        vec!["arch,fake".to_string(), format!("{NONE},2.5"), format!("{CONV},failed"), format!("{MIXED},2.5")]
    );
    // The failure is recorded: a resume does not ask for it again (empty the cell to retry).
    let again = oneproxy()
        .args(["measure", "--space", "nb201", "--archs"])
        .arg(&list)
        .args([
            "--runs",
            "2",
            "--warmup",
            "0",
            "--device-name",
            "fake",
            "--runner-cmd",
            fake_runner(),
            "--resume",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let e = String::from_utf8_lossy(&again.get_output().stderr).into_owned();
    assert!(e.contains("1 architecture(s) are marked failed"), "{e}");
    assert_eq!(lines(&out), rows);
}

#[test]
fn measure_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.csv");
    let e = stderr_of(
        oneproxy()
            .args(["measure", "--space", "nb201", "--arch", "nope", "--runner-cmd", "echo 1 {model}", "--out"])
            .arg(&out),
    );
    assert!(e.contains("invalid nb201 architecture 'nope'"), "{e}");
    let e = stderr_of(
        oneproxy().args(["measure", "--space", "nb201", "--arch", NONE, "--runner-cmd", "echo 1", "--out"]).arg(&out),
    );
    assert!(e.contains("{model}"), "{e}");
    let e = stderr_of(oneproxy().args([
        "measure",
        "--space",
        "nb201",
        "--arch",
        NONE,
        "--runner-cmd",
        "echo 1 {model}",
        "--out",
        "/nonexistent/x.csv",
    ]));
    assert!(e.contains("/nonexistent/x.csv"), "{e}");
    let e = stderr_of(
        oneproxy()
            .args([
                "measure",
                "--space",
                "nb201",
                "--arch",
                NONE,
                "--runner-cmd",
                "echo none {model}",
                "--runner-regex",
                "ms=([0-9.]+)",
                "--out",
            ])
            .arg(&out),
    );
    assert!(e.contains("did not report a latency") && e.contains("--runner-regex"), "{e}");
    // The CPU clock times tract in this process; a runner's value is what it prints.
    let out = dir.path().join("clock.csv");
    let e = stderr_of(
        oneproxy()
            .args(["measure", "--space", "nb201", "--arch", NONE, "--runner-cmd", "echo 1 {model}", "--clock", "cpu"])
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("--clock cpu") && e.contains("runner"), "{e}");
    assert!(!out.exists());
}

#[cfg(not(feature = "tract"))]
#[test]
fn measure_without_tract_names_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let e = stderr_of(
        oneproxy().args(["measure", "--space", "nb201", "--arch", NONE, "--out"]).arg(dir.path().join("x.csv")),
    );
    assert!(e.contains("`tract` feature") && e.contains("--runner-cmd"), "{e}");
}

#[test]
fn spaces_without_data_say_so() {
    let e = stderr_of(oneproxy().args(["monotonicity", "--space", "mbv2"]));
    assert!(e.contains("mbv2") && e.contains("no bundled"), "{e}");
    let e = stderr_of(oneproxy().args(["plan", "--space", "proxyless", "--budget", "5"]));
    assert!(e.contains("proxyless") && e.contains("no bundled"), "{e}");
}

#[cfg(feature = "tract")]
mod tract {
    use super::*;

    #[test]
    fn measure_with_tract_records_everything() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("local.csv");
        let v: Value = serde_json::from_slice(
            &oneproxy()
                .args([
                    "measure", "--space", "nb201", "--arch", NONE, "--runs", "4", "--warmup", "1", "--json", "--out",
                ])
                .arg(&out)
                .assert()
                .success()
                .get_output()
                .stdout,
        )
        .unwrap();
        let m = &v["measured"][0];
        assert_eq!(m["measurement"]["samples_ms"].as_array().unwrap().len(), 4);
        assert!(m["latency_ms"].as_f64().unwrap() > 0.0);
        assert!(v["environment"]["engine"].as_str().unwrap().starts_with("tract-onnx"));
        assert!(v["environment"]["cpu_model"].is_string());
        let device = v["device"].as_str().unwrap();
        assert!(device.starts_with("tract"));
        assert_eq!(lines(&out)[0], format!("arch,{device}"));
        // One thread: timed on the CPU clock by default, and the log says so.
        let sidecar: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(".local.csv.oneproxy-log.json")).unwrap())
                .unwrap();
        assert_eq!(sidecar["settings"]["clock"], "cpu", "{sidecar}");
    }

    #[test]
    fn the_cpu_clock_refuses_a_thread_pool() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("local.csv");
        let e = stderr_of(
            oneproxy()
                .args(["measure", "--space", "nb201", "--arch", NONE, "--threads", "2", "--clock", "cpu", "--out"])
                .arg(&out),
        );
        assert!(e.contains("--clock") && e.contains("2 threads"), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn dump_io_gives_tracts_output() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("io.json");
        oneproxy()
            .args(["export", "--space", "nb201", "--arch", MIXED, "--out"])
            .arg(dir.path().join("m.onnx"))
            .arg("--dump-io")
            .arg(&dump)
            .assert()
            .success();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
        assert_eq!(v["input_shape"], serde_json::json!([1, 3, 32, 32]));
        assert_eq!(v["output_shape"], serde_json::json!([1, 10]));
        assert_eq!(v["input"].as_array().unwrap().len(), 3 * 32 * 32);
    }
}
