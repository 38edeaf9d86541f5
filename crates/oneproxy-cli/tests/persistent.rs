//! End-to-end tests of `--runner-persistent` on `measure` and `nas`: one runner process for all
//! architectures, the settings it leaves in the measurement log, the refusal to resume with
//! another runner, giving up on a runner that keeps crashing, and cleanup after a signal.

mod common;

use common::oneproxy;
use oneproxy::data::bundled::bundle;
use oneproxy::SpaceId;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NONE: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

/// A persistent runner in Python (no packages): records each start in `starts` and each
/// request in `requests`; answers the raspi4 latency of the architecture when `raspi4.txt` is
/// in `dir`, else 2.5; crashes on every run when the architecture holds `crash_on`.
fn python_runner(dir: &Path, crash_on: &str) -> String {
    let script = dir.join("runner.py");
    std::fs::write(
        &script,
        format!(
            r#"import json, os, sys
d = {dir:?}
open(os.path.join(d, "starts"), "a").write(f"{{os.getpid()}}\n")
table = {{}}
if os.path.exists(os.path.join(d, "raspi4.txt")):
    for line in open(os.path.join(d, "raspi4.txt")):
        arch, v = line.rsplit(",", 1)
        table[arch] = v.strip()
print("importing nothing", file=sys.stderr)
print("ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    open(os.path.join(d, "requests"), "a").write(line)
    if req["op"] == "load":
        ok = os.path.getsize(req["model"]) > 0
        print("ok" if ok else "error: empty model", flush=True)
    elif {crash_on:?} and {crash_on:?} in req["arch"]:
        print("Segmentation fault in the fake engine", file=sys.stderr, flush=True)
        os._exit(139)
    else:
        print("latency_ms: " + table.get(req["arch"], "2.5"), flush=True)
"#,
            dir = dir.display().to_string(),
        ),
    )
    .unwrap();
    format!("python3 '{}'", script.display())
}

fn count(p: &Path) -> usize {
    std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
}

fn settings(log: &Path) -> Value {
    let side = log.with_file_name(format!(".{}.oneproxy-log.json", log.file_name().unwrap().to_string_lossy()));
    let v: Value = serde_json::from_slice(&std::fs::read(side).unwrap()).unwrap();
    v["settings"].clone()
}

fn measure(dir: &Path, runner: &[&str], extra: &[&str]) -> assert_cmd::assert::Assert {
    oneproxy()
        .current_dir(dir)
        .env("TMPDIR", dir.join("tmp"))
        .env_remove("VIRTUAL_ENV")
        .args(["measure", "--space", "nb201", "--runs", "3", "--warmup", "1", "--device-name", "fake"])
        .args(runner)
        .args(["--out", "lat.csv"])
        .args(extra)
        .assert()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tmp")).unwrap();
    dir
}

fn runner_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("oneproxy-runner-"))
        .collect()
}

#[test]
fn measure_through_one_runner_process_records_the_persistent_settings() {
    let dir = setup();
    let d = dir.path();
    let runner = python_runner(d, "");
    let out = measure(d, &["--runner-persistent", &runner], &["--sample", "3", "--seed", "2", "--json"]).success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("runner: python3 -> /"), "the resolved interpreter is printed: {stderr}");
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["measured"].as_array().unwrap().len(), 3);
    assert_eq!(v["measured"][0]["measurement"]["samples_ms"], serde_json::json!([2.5, 2.5, 2.5]));
    assert_eq!(v["environment"]["engine"], format!("persistent: {runner}"));
    assert_eq!(count(&d.join("starts")), 1, "one process for the three architectures");
    // Per architecture: a load, one warm-up and three timed runs.
    assert_eq!(count(&d.join("requests")), 3 * 5);
    let lines = std::fs::read_to_string(d.join("lat.csv")).unwrap();
    assert_eq!(lines.lines().count(), 4);
    assert!(lines.lines().skip(1).all(|l| l.ends_with(",2.5")), "{lines}");
    let s = settings(&d.join("lat.csv"));
    assert_eq!(s["engine"], format!("persistent: {runner}"));
    assert!(s["runner"].as_str().unwrap().starts_with("python3 -> /"), "{s}");
    assert!(runner_dirs(&d.join("tmp")).is_empty(), "the model folder is removed");

    // A resume through the per-run runner would mix two engines in one column: refused.
    let e =
        measure(d, &["--runner-cmd", "echo latency_ms: 2.5; : {model}"], &["--sample", "4", "--seed", "2", "--resume"])
            .failure();
    let e = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(e.contains(&format!("engine = persistent: {runner}")) && e.contains("(now external: echo"), "{e}");
    assert_eq!(std::fs::read_to_string(d.join("lat.csv")).unwrap(), lines, "nothing written");
    // The same runner resumes.
    measure(d, &["--runner-persistent", &runner], &["--sample", "4", "--seed", "2", "--resume"]).success();
    assert_eq!(std::fs::read_to_string(d.join("lat.csv")).unwrap().lines().count(), 5);
}

#[test]
fn a_runner_that_keeps_crashing_stops_the_measurement_and_keeps_the_log() {
    let dir = setup();
    let d = dir.path();
    let list = d.join("archs.csv");
    let archs = [
        NONE,
        "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ];
    std::fs::write(&list, format!("arch\n{}\n", archs.join("\n"))).unwrap();
    let runner = python_runner(d, "nor_conv");
    let out =
        measure(d, &["--runner-persistent", &runner, "--runner-restarts", "1"], &["--archs", "archs.csv"]).failure();
    let e = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(e.contains("Segmentation fault in the fake engine"), "the runner's stderr is quoted: {e}");
    assert!(e.contains("engine lost") && e.contains("failed 2 times in a row"), "{e}");
    let rows = std::fs::read_to_string(d.join("lat.csv")).unwrap();
    // The first crash fails its architecture; the second stops before marking the next one.
    assert_eq!(rows, format!("arch,fake\n{},2.5\n{},failed\n", archs[0], archs[1]));
    assert_eq!(count(&d.join("starts")), 2);
    assert!(runner_dirs(&d.join("tmp")).is_empty());
}

#[test]
fn runner_flags_are_checked_before_anything_runs() {
    let dir = setup();
    let d = dir.path();
    let e = measure(d, &["--runner-persistent", "python3 r.py {model}"], &["--arch", NONE]).failure();
    let e = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(e.contains("takes no {model}"), "{e}");
    let e = measure(d, &["--runner-persistent", "r", "--runner-cmd", "r {model}"], &["--arch", NONE]).failure();
    let e = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(e.contains("cannot be used with"), "{e}");
    let e = measure(d, &["--runner-cmd", "r {model}", "--runner-restarts", "3"], &["--arch", NONE]).failure();
    let e = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(e.contains("--runner-persistent"), "{e}");
    // A runner that cannot start is reported with its stderr, and nothing is marked failed.
    let e = measure(d, &["--runner-persistent", "echo 'No module named onnxruntime' >&2; exit 1"], &["--arch", NONE])
        .failure();
    let e = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(e.contains("before it printed 'ready'") && e.contains("No module named onnxruntime"), "{e}");
    assert_eq!(std::fs::read_to_string(d.join("lat.csv")).unwrap(), "arch,fake\n");
    assert!(runner_dirs(&d.join("tmp")).is_empty());
}

#[test]
fn a_system_python_beside_an_inactive_venv_is_named_in_a_warning() {
    let dir = setup();
    let d = dir.path();
    std::fs::create_dir_all(d.join(".venv/bin")).unwrap();
    std::fs::write(d.join(".venv/bin/python"), "").unwrap();
    let runner = python_runner(d, "");
    let out = measure(d, &["--runner-persistent", &runner], &["--arch", NONE]).success();
    let e = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(e.contains("warning: the runner's `python3` is /") && e.contains(".venv/bin/python exists"), "{e}");
    // Named explicitly, the interpreter needs no warning (and the file here is no interpreter).
    let e = measure(d, &["--runner-cmd", ".venv/bin/python r.py {model}"], &["--arch", NONE, "--resume"]).failure();
    let e = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(e.contains("runner: .venv/bin/python -> ") && !e.contains("warning: the runner"), "{e}");
}

/// `nas` through a persistent runner that looks raspi4's latencies up gives the table oracle's
/// result, with the runner's settings in the log.
#[test]
fn nas_through_a_persistent_runner_equals_the_table_oracle() {
    let dir = setup();
    let d = dir.path();
    let b = bundle(SpaceId::Nb201).unwrap();
    let col = b.latency.device_index("raspi4").unwrap();
    let mut lookup = String::new();
    for a in b.latency.archs() {
        lookup.push_str(&format!("{},{}\n", SpaceId::Nb201.space().format(a), b.latency.latency(a, col).unwrap()));
    }
    std::fs::write(d.join("raspi4.txt"), lookup).unwrap();
    let runner = python_runner(d, "");
    let flow = ["nas", "--space", "nb201", "--accuracy", "cifar100", "--proxy", "pixel3", "--seed", "7"];
    let run = |oracle: &[&str], log: &str| -> Value {
        let out = oneproxy()
            .current_dir(d)
            .env("TMPDIR", d.join("tmp"))
            .args(flow)
            .args(["--target", "raspi4", "--constraint", "5", "--json", "--measurements", log])
            .args(oracle)
            .assert()
            .success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    };
    let persistent = run(&["--runner-persistent", &runner, "--runs", "1", "--warmup", "0"], "p.csv");
    let table = run(&["--oracle", "table"], "t.csv");
    for k in ["action", "proxy", "spearman_samples", "measurements", "chosen", "picks"] {
        assert_eq!(persistent[k], table[k], "{k}");
    }
    assert_eq!(count(&d.join("starts")), 1, "one runner for the whole flow");
    let s = settings(&d.join("p.csv"));
    assert_eq!(s["engine"], format!("persistent: {runner}"));
    assert!(s["runner"].as_str().unwrap().starts_with("python3 -> /"), "{s}");
    // Resuming with the per-run runner is refused by the log's settings.
    let out = oneproxy()
        .current_dir(d)
        .args(flow)
        .args(["--target", "raspi4", "--measurements", "p.csv", "--runner-cmd", "echo 1; : {model}"])
        .assert()
        .failure();
    let e = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(e.contains("engine = persistent:") && e.contains("(now external: echo 1"), "{e}");
    assert!(runner_dirs(&d.join("tmp")).is_empty());
}

/// Processes of a group still running (zombies waiting for a reaper do not count).
fn live_in_group(pgid: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
        .filter(|stat| {
            let f: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
            f.len() > 2 && f[0] != "Z" && f[2] == pgid
        })
        .count()
}

fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_kills_the_persistent_runner_and_removes_its_models() {
    let dir = setup();
    let d = dir.path();
    let tmp = d.join("tmp");
    // Ready at once, then hangs on the first request with a child of its own.
    let runner = format!("echo $$ > '{}/pgid'; echo ready; read line; sleep 100 & wait", d.display());
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("oneproxy"))
        .current_dir(d)
        .env("TMPDIR", &tmp)
        .args(["measure", "--space", "nb201", "--arch", NONE, "--device-name", "fake", "--out", "lat.csv"])
        .args(["--runner-persistent", &runner])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the runner to start", || d.join("pgid").exists() && runner_dirs(&tmp).len() == 1);
    assert!(runner_dirs(&tmp)[0].join("model1.onnx").exists());
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert!(runner_dirs(&tmp).is_empty(), "the model folder is removed");
    let pgid = std::fs::read_to_string(d.join("pgid")).unwrap();
    wait_for("the runner's group to die", || live_in_group(pgid.trim()) == 0);
}
