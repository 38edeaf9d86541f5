//! End-to-end tests of `--builder-cmd`: the user's program builds the models that `export`
//! writes and `measure` times, for a declared space (which has no network) or a built-in one.

mod common;

use common::oneproxy;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A folder with a two-position space file, an ONNX model to copy and builder scripts.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("space.toml"),
            "name = \"two-choice\"\n[[position]]\nname = \"a\"\nchoices = [\"x\", \"y\"]\n\
             [[position]]\nname = \"b\"\nchoices = [\"p\", \"q\"]\n",
        )
        .unwrap();
        let s = Setup { dir };
        // Any small valid model serves: the builder copies it whatever the architecture.
        oneproxy()
            .args(["export", "--space", "nb201", "--arch", CELL, "--out"])
            .arg(s.path("fixture.onnx"))
            .assert()
            .success();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn space(&self) -> String {
        self.path("space.toml").display().to_string()
    }

    /// A builder command running a script with `body` as `script ARCH OUT`; the script appends
    /// each architecture it is given to `calls.txt`.
    fn builder(&self, name: &str, body: &str) -> String {
        let script = self.path(name);
        let calls = self.path("calls.txt");
        std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n{body}\n", calls.display()))
            .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("'{}' {{arch}} {{out}}", script.display())
    }

    fn copier(&self) -> String {
        self.builder("copy.sh", &format!("cp '{}' \"$2\"", self.path("fixture.onnx").display()))
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("calls.txt")).unwrap_or_default().lines().map(String::from).collect()
    }
}

const CELL: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

/// A runner that times nothing: every run takes 2 ms.
const RUNNER: &str = "true {model}; echo latency_ms: 2";

fn stderr(cmd: &mut assert_cmd::Command) -> String {
    String::from_utf8_lossy(&cmd.assert().failure().get_output().stderr).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    // Besides oneproxy's record of the outputs it wrote.
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".oneproxy-outputs.json")
        .collect();
    v.sort();
    v
}

#[test]
fn export_writes_what_the_builder_wrote_for_a_declared_space() {
    let s = Setup::new();
    let out = s.path("model.onnx");
    let run = oneproxy()
        .args(["export", "--space-file", &s.space(), "--arch", "y-p", "--builder-cmd", &s.copier(), "--out"])
        .arg(&out)
        .assert()
        .success();
    let note = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(note.contains("built by --builder-cmd") && note.contains("[1, 3, 32, 32]"), "{note}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(s.path("fixture.onnx")).unwrap());
    assert_eq!(s.calls(), ["y-p"]);
    // The builder's private folder next to --out is gone.
    assert_eq!(files_in(s.dir.path()), ["calls.txt", "copy.sh", "fixture.onnx", "model.onnx", "space.toml"]);
}

#[test]
fn without_a_builder_a_declared_space_is_refused_naming_the_flag() {
    let s = Setup::new();
    let e =
        stderr(oneproxy().args(["export", "--space-file", &s.space(), "--arch", "x-p", "--out"]).arg(s.path("m.onnx")));
    assert!(e.contains("no network") && e.contains("--builder-cmd"), "{e}");
    let e = stderr(
        oneproxy()
            .args(["measure", "--space-file", &s.space(), "--arch", "x-p", "--runner-cmd", RUNNER, "--out"])
            .arg(s.path("lat.csv")),
    );
    assert!(e.contains("no network") && e.contains("--builder-cmd"), "{e}");
    assert!(!s.path("m.onnx").exists() && !s.path("lat.csv").exists());
}

#[test]
fn a_failing_or_silent_builder_is_an_error_naming_the_architecture_and_command() {
    let s = Setup::new();
    let out = s.path("model.onnx");
    for (name, body, why) in [
        ("fail.sh", "echo 'no such block: y' >&2; exit 4", "no such block: y"),
        ("silent.sh", "echo ok", "wrote no file"),
        ("junk.sh", "echo not a model > \"$2\"", "not an ONNX model"),
    ] {
        let cmd = s.builder(name, body);
        let e = stderr(
            oneproxy()
                .args(["export", "--space-file", &s.space(), "--arch", "y-q", "--builder-cmd", &cmd, "--out"])
                .arg(&out),
        );
        assert!(e.contains("y-q") && e.contains(name) && e.contains(why), "{name}: {e}");
        assert!(!out.exists(), "{name}");
    }
}

#[test]
fn measure_keeps_what_was_measured_when_the_builder_fails_on_one_and_records_the_builder() {
    let s = Setup::new();
    let archs = s.path("archs.csv");
    std::fs::write(&archs, "arch\nx-p\ny-q\nx-q\n").unwrap();
    let body = format!(
        "[ \"$1\" = y-q ] && {{ echo 'cannot build y-q' >&2; exit 1; }}\ncp '{}' \"$2\"",
        s.path("fixture.onnx").display()
    );
    let cmd = s.builder("some.sh", &body);
    let log = s.path("lat.csv");
    let measure = |builder: &str| {
        let mut c = oneproxy();
        c.args(["measure", "--space-file", &s.space(), "--archs"]).arg(&archs).args([
            "--builder-cmd",
            builder,
            "--runner-cmd",
            RUNNER,
            "--runs",
            "2",
            "--warmup",
            "0",
            "--device-name",
            "board",
            "--json",
            "--out",
        ]);
        c.arg(&log);
        c
    };
    let out = measure(&cmd).assert().failure().get_output().clone();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("1 of 3 architectures failed") && e.contains("cannot build y-q"), "{e}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["measured"].as_array().unwrap().len(), 2);
    // The model is the user's: oneproxy does not claim to know its FLOPs.
    assert!(report["measured"][0].get("flops").is_none(), "{}", report["measured"][0]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("arch,board\n"), "{text}");
    assert!(text.contains("x-p,2") && text.contains("x-q,2") && text.contains("y-q,failed"), "{text}");
    // Resuming with another builder would mix models: refused, the log untouched.
    let e = stderr(measure(&s.copier()).arg("--resume"));
    assert!(e.contains("builder = ") && e.contains("some.sh"), "{e}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), text);
}

#[test]
fn a_builtin_space_takes_a_builder_too_but_not_with_pruning() {
    let s = Setup::new();
    let out = s.path("m.onnx");
    oneproxy()
        .args(["export", "--space", "nb201", "--arch", CELL, "--builder-cmd", &s.copier(), "--out"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(s.calls(), [CELL]);
    let e = stderr(
        oneproxy()
            .args([
                "export",
                "--space",
                "nb201",
                "--arch",
                CELL,
                "--prune-dead",
                "--builder-cmd",
                &s.copier(),
                "--force",
            ])
            .arg("--out")
            .arg(&out),
    );
    assert!(e.contains("pruning") && e.contains("--builder-cmd"), "{e}");
}

#[test]
fn nas_refuses_a_builder_it_would_not_use() {
    let e = common::stderr_of(&["nas", "--target", "pixel3", "--oracle", "table", "--builder-cmd", "b {arch} {out}"]);
    assert!(e.contains("--builder-cmd builds the models"), "{e}");
}

#[cfg(feature = "tract")]
#[test]
fn tract_times_a_builders_models() {
    let s = Setup::new();
    let log = s.path("lat.csv");
    let run = oneproxy()
        .args(["measure", "--space-file", &s.space(), "--sample", "2", "--builder-cmd", &s.copier()])
        .args(["--runs", "2", "--warmup", "0", "--device-name", "here", "--json", "--out"])
        .arg(&log)
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(report["measured"].as_array().unwrap().len(), 2);
    assert!(report["measured"][0]["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(s.calls().len(), 2);
}
