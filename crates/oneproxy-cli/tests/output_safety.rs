//! End-to-end tests of the data-safety rules: what oneproxy may replace, the `measure`
//! lock, the external runner's protocol and time bounds, and cleanup after errors, SIGINT,
//! SIGTERM and SIGKILL. Everything runs inside temporary folders.

mod common;

use common::oneproxy;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NONE: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
const MIXED: &str = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn failure(cmd: &mut assert_cmd::Command) -> String {
    String::from_utf8_lossy(&cmd.assert().failure().get_output().stderr).into_owned()
}

/// Poll until `ready` holds (or panic after 30 s: the machine may be loaded, never that slow).
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runner folders (`oneproxy-runner-*`) in `tmp`.
fn runner_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("oneproxy-runner-"))
        .collect()
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

/// `oneproxy measure` of NONE (and MIXED with `two`) through `runner`, as a child process with
/// its own temporary folder.
fn spawn_measure(dir: &Path, runner: &str, extra: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("oneproxy"))
        .current_dir(dir)
        .env("TMPDIR", dir.join("tmp"))
        .args(["measure", "--space", "nb201", "--arch", NONE, "--runs", "1", "--warmup", "0", "--device-name", "fake"])
        .args(["--runner-cmd", runner, "--out", "lat.csv"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn kill(child: &Child, signal: &str) {
    assert!(Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status().unwrap().success());
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    (dir, tmp)
}

/// A runner that records its process group and that it started, then hangs.
fn hanging_runner(dir: &Path) -> String {
    format!("echo $$ > '{}/pgid'; sleep 30; echo 1; : {{model}}", dir.display())
}

/// `run` computes for about a second before it writes: only the two destructive cases of the
/// issue run end to end here; links, files, `./sub/..`, `/` and the home folder are refused by
/// the same check, tested in `oneproxy::output::report_dir`, and replacing a report folder
/// oneproxy wrote is tested in `tests/nas.rs`.
#[test]
fn run_never_replaces_a_folder_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("thesis.tex"), "years of work").unwrap();
    let results = d.join("results");
    std::fs::create_dir(&results).unwrap();
    std::fs::write(results.join("notes.txt"), "mine").unwrap();
    let run = |out: &str| {
        let mut c = oneproxy();
        c.current_dir(d).args(["run", "--targets", "raspi4", "--out", out]);
        c
    };
    let e = failure(&mut run("."));
    assert!(e.contains("is the current folder"), "{e}");
    let e = failure(&mut run("results"));
    assert!(e.contains("results") && e.contains("not written by oneproxy") && e.contains("move it away"), "{e}");
    assert_eq!(std::fs::read_to_string(d.join("thesis.tex")).unwrap(), "years of work");
    assert_eq!(std::fs::read_to_string(results.join("notes.txt")).unwrap(), "mine");
    assert_eq!(names(d), ["results", "thesis.tex"], "no temporary folder left");
}

#[test]
fn outputs_write_through_links_and_refuse_special_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("real.csv"), "old").unwrap();
    std::os::unix::fs::symlink("real.csv", d.join("link.csv")).unwrap();
    let plan = |out: &Path| {
        let mut c = oneproxy();
        c.args(["plan", "--budget", "3", "--proxy", "pixel3", "--out"]).arg(out);
        c
    };
    // The link's target is a user's file: left alone unless forced, then written through.
    let e = failure(&mut plan(&d.join("link.csv")));
    assert!(e.contains("not written by oneproxy") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read_to_string(d.join("real.csv")).unwrap(), "old");
    plan(&d.join("link.csv")).arg("--force").assert().success();
    assert!(std::fs::symlink_metadata(d.join("link.csv")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(d.join("real.csv")).unwrap().starts_with("arch"));
    let e = failure(&mut plan(Path::new("/dev/full")));
    assert!(e.contains("/dev/full") && e.contains("character device"), "{e}");
    assert!(Command::new("mkfifo").arg(d.join("fifo")).status().unwrap().success());
    let e = failure(&mut plan(&d.join("fifo")));
    assert!(e.contains("FIFO"), "{e}");
    // The ledger of what oneproxy wrote in the folder is the only file added.
    assert_eq!(names(d), [".oneproxy-outputs.json", "fifo", "link.csv", "real.csv"]);
}

#[test]
fn measure_out_errors_and_sample_beyond_the_space() {
    let (dir, _) = setup();
    let e = failure(
        oneproxy()
            .args(["measure", "--space", "nb201", "--sample", "20000", "--runner-cmd", "echo 1; : {model}", "--out"])
            .arg(dir.path()),
    );
    assert!(e.contains("--sample 20000: the nb201 space has only 15625 architectures"), "{e}");
    assert!(e.contains(&dir.path().display().to_string()) && e.contains("is a directory"), "{e}");
    let e =
        failure(
            oneproxy()
                .args(["measure", "--space", "nb201", "--arch", NONE, "--runner-cmd", "echo 1; : {model}"])
                .args(["--max-time", "1e300", "--out", "x.csv"]),
        );
    assert!(e.contains("--max-time must be a positive number"), "{e}");
}

#[test]
fn resume_validates_rows_and_remeasures_empty_ones() {
    let (dir, tmp) = setup();
    let out = dir.path().join("lat.csv");
    let measure = || {
        let mut c = oneproxy();
        c.env("TMPDIR", &tmp)
            .args(["measure", "--space", "nb201", "--sample", "3", "--seed", "1", "--runs", "1", "--warmup", "0"])
            .args(["--device-name", "fake", "--runner-cmd", "echo 2.5; : {model}", "--resume", "--out"])
            .arg(&out);
        c
    };
    std::fs::write(&out, format!("arch,fake\n{MIXED},\n{NONE},banana\n")).unwrap();
    let e = failure(&mut measure());
    assert!(e.contains("lat.csv:3") && e.contains("column 'fake'") && e.contains("'banana'"), "{e}");
    assert!(e.contains("positive number"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("arch,fake\n{MIXED},\n{NONE},banana\n"),
        "left as it was"
    );
    std::fs::write(&out, format!("arch,fake\n{MIXED},\n{NONE},3.0\n")).unwrap();
    let list = dir.path().join("archs.csv");
    std::fs::write(&list, format!("arch\n{MIXED}\n{NONE}\n")).unwrap();
    oneproxy()
        .env("TMPDIR", &tmp)
        .args(["measure", "--space", "nb201", "--runs", "1", "--warmup", "0", "--device-name", "fake"])
        .args(["--runner-cmd", "echo 2.5; : {model}", "--resume", "--archs"])
        .arg(&list)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("arch,fake\n{MIXED},2.5\n{NONE},3\n"));
    assert_eq!(names(dir.path()), [".lat.csv.oneproxy-log.json", "archs.csv", "lat.csv", "tmp"]);
    assert!(runner_dirs(&tmp).is_empty());
}

#[test]
fn runner_output_must_follow_the_protocol() {
    let (dir, tmp) = setup();
    for (runner, ok) in [
        ("echo 'warming up'; echo 'latency_ms: 2.5'; echo done; : {model}", true),
        ("echo 'latency 9 ms'; echo ' 2.5 '; : {model}", true),
        ("echo '4.20 ms, 238.1 FPS'; : {model}", false),
        ("echo '1,234.5'; : {model}", false),
        ("echo 'Error: unsupported op at node 17'; : {model}", false),
    ] {
        let mut c = oneproxy();
        c.current_dir(dir.path()).env("TMPDIR", &tmp);
        c.args([
            "measure",
            "--space",
            "nb201",
            "--arch",
            NONE,
            "--runs",
            "1",
            "--warmup",
            "0",
            "--device-name",
            "fake",
            "--runner-cmd",
            runner,
            "--out",
            "o.csv",
        ]);
        if ok {
            c.assert().success();
            assert!(std::fs::read_to_string(dir.path().join("o.csv")).unwrap().ends_with(",2.5\n"), "{runner}");
        } else {
            let e = failure(&mut c);
            assert!(e.contains("did not report a latency") && e.contains("latency_ms"), "{runner}: {e}");
        }
        std::fs::remove_file(dir.path().join("o.csv")).unwrap();
    }
    assert!(runner_dirs(&tmp).is_empty());
}

#[test]
fn runner_timeout_and_max_time_bound_the_wall_clock() {
    let (dir, tmp) = setup();
    let d = dir.path();
    // A hanging runner: killed with its child after --runner-timeout, a clear error.
    let out = spawn_measure(d, &hanging_runner(d), &["--runner-timeout", "1"]).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("did not finish within 1 s") && err.contains("--runner-timeout"), "{err}");
    let pgid = std::fs::read_to_string(d.join("pgid")).unwrap();
    wait_for("the runner and its sleep to be killed", || live_in_group(pgid.trim()) == 0);
    // --max-time 1 with 0.2 s runs: at most 5 runs start (at >= 0, 0.2, 0.4, 0.6, 0.8 s), not 20.
    let starts = d.join("starts");
    let runner = format!("echo run >> '{}'; sleep 0.2; echo 1; : {{model}}", starts.display());
    let v: serde_json::Value = serde_json::from_slice(
        &oneproxy()
            .current_dir(d)
            .env("TMPDIR", &tmp)
            .args([
                "measure",
                "--space",
                "nb201",
                "--arch",
                NONE,
                "--runs",
                "20",
                "--warmup",
                "0",
                "--max-time",
                "1",
                "--json",
            ])
            .args(["--device-name", "fake", "--runner-cmd", &runner, "--out", "t.csv"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    let started = std::fs::read_to_string(&starts).unwrap().lines().count();
    assert!((1..=5).contains(&started), "{started} runs started");
    let samples = v["measured"][0]["measurement"]["samples_ms"].as_array().unwrap().len();
    assert!(samples <= started && samples >= 1, "{samples} samples of {started} runs");
    assert!(runner_dirs(&tmp).is_empty());
}

#[test]
fn sigterm_and_sigint_clean_up_and_exit_non_zero() {
    // SIGHUP is a closed terminal; a closed stderr (`2>&1 | tee log` with tee killed first) must
    // not make the cleanup panic and the process unstoppable.
    for (signal, code, close_stderr) in
        [("TERM", 143, false), ("INT", 130, false), ("HUP", 129, false), ("INT", 130, true)]
    {
        let (dir, tmp) = setup();
        let d = dir.path();
        let mut child = spawn_measure(d, &hanging_runner(d), &["--max-time", "60"]);
        wait_for("the runner to start", || d.join("pgid").exists() && runner_dirs(&tmp).len() == 1);
        if close_stderr {
            drop(child.stderr.take());
        }
        let runner_dir = runner_dirs(&tmp).remove(0);
        assert!(runner_dir.join("model1.onnx").exists());
        assert!(d.join(".lat.csv.oneproxy-lock").exists());
        kill(&child, signal);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{signal}");
        assert!(runner_dirs(&tmp).is_empty(), "SIG{signal}: the runner folder is removed");
        assert_eq!(
            names(d),
            [".lat.csv.oneproxy-log.json", "lat.csv", "pgid", "tmp"],
            "SIG{signal}: no temporary or lock file left (the log and its record stay)"
        );
        let pgid = std::fs::read_to_string(d.join("pgid")).unwrap();
        wait_for("the runner's group to die", || live_in_group(pgid.trim()) == 0);
    }
}

#[test]
fn a_second_measure_on_the_same_file_fails_and_sigkill_leftovers_are_cleaned() {
    let (dir, tmp) = setup();
    let d = dir.path();
    let mut first = spawn_measure(d, &hanging_runner(d), &["--max-time", "60"]);
    wait_for("the first measure to hold the lock", || d.join("pgid").exists());
    let second = failure(
        oneproxy()
            .current_dir(d)
            .env("TMPDIR", &tmp)
            .args(["measure", "--space", "nb201", "--arch", MIXED, "--device-name", "fake", "--resume"])
            .args(["--runner-cmd", "echo 1; : {model}", "--out", "lat.csv"]),
    );
    assert!(second.contains(&format!("another oneproxy measure is writing lat.csv (pid {})", first.id())), "{second}");
    // SIGKILL: nothing can clean up; the next run must not be blocked, and removes the leftovers
    // that are provably its own (dead pid, our name pattern) and nothing else.
    kill(&first, "KILL");
    first.wait().unwrap();
    let pgid = std::fs::read_to_string(d.join("pgid")).unwrap();
    assert!(Command::new("kill").args(["-KILL", "--", &format!("-{}", pgid.trim())]).status().unwrap().success());
    assert_eq!(runner_dirs(&tmp).len(), 1, "left by the SIGKILL");
    let stale = d.join(format!(".lat.csv.oneproxy-tmp.{}-0", first.id()));
    std::fs::write(&stale, "half").unwrap();
    std::fs::write(d.join(".lat.csv.tmp"), "a user's file").unwrap();
    let foreign = tmp.join(format!("oneproxy-runner-{}-7", first.id()));
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "not a model").unwrap();
    oneproxy()
        .current_dir(d)
        .env("TMPDIR", &tmp)
        .args([
            "measure",
            "--space",
            "nb201",
            "--arch",
            MIXED,
            "--runs",
            "1",
            "--warmup",
            "0",
            "--device-name",
            "fake",
            "--resume",
        ])
        .args(["--runner-cmd", "echo 1; : {model}", "--out", "lat.csv"])
        .assert()
        .success();
    assert_eq!(names(d), [".lat.csv.oneproxy-log.json", ".lat.csv.tmp", "lat.csv", "pgid", "tmp"]);
    assert_eq!(runner_dirs(&tmp), [foreign], "only the folder that is provably ours is removed");
}
