//! End-to-end tests of `oneproxy nas`, the flow on one real target: the table
//! oracle agrees with `evaluate nas`, and a manual target measured in several invocations
//! reaches exactly the same result.

mod common;

use common::*;
use oneproxy::data::bundled::bundle;
use oneproxy::SpaceId;
use serde_json::Value;
use std::path::Path;

const FLOW: [&str; 8] = ["nas", "--space", "nb201", "--accuracy", "cifar100", "--proxy", "pixel3", "--seed"];

fn nas(extra: &[&str], log: &Path) -> assert_cmd::assert::Assert {
    let mut c = oneproxy();
    c.args(FLOW).arg("7").args(extra).arg("--measurements").arg(log);
    c.assert()
}

/// `nas` with `extra` and `--json`, succeeding: its outcome.
fn nas_json(extra: &[&str], log: &Path) -> Value {
    let out = nas(&[extra, &["--json"]].concat(), log).success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

/// The text `nas` prints with `extra`, succeeding.
fn nas_text(extra: &[&str], log: &Path) -> String {
    String::from_utf8(nas(extra, log).success().get_output().stdout.clone()).unwrap()
}

/// Fill every empty value of a measurement log with the bundled latency of `device`.
fn fill_from_bundle(log: &Path, device: &str) -> usize {
    let b = bundle(SpaceId::Nb201).unwrap();
    let col = b.latency.device_index(device).unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    let mut filled = 0;
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        match line.strip_suffix(',') {
            Some(arch) if i > 0 => {
                let a = SpaceId::Nb201.space().parse(arch).unwrap();
                out.push_str(&format!("{arch},{}\n", b.latency.latency(&a, col).unwrap()));
                filled += 1;
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    std::fs::write(log, out).unwrap();
    filled
}

fn outcome_fields(v: &Value) -> Value {
    serde_json::json!({
        "action": v["action"], "proxy": v["proxy"], "spearman_samples": v["spearman_samples"],
        "measurements": v["measurements"], "chosen": v["chosen"], "picks": v["picks"],
        "remaining_regret": v["remaining_regret"],
    })
}

/// The flow says how much regret it believes it left, in words and in JSON, and an evaluation
/// sets that belief beside the truth.
#[test]
fn the_flow_states_the_regret_it_believes_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fpga.csv");
    let text = nas_text(&["--target", "fpga", "--oracle", "table"], &log);
    assert!(text.contains("estimated remaining regret <= ") && text.contains("(80% bound"), "{text}");
    let v = nas_json(&["--target", "fpga", "--oracle", "table"], &log);
    let e = &v["remaining_regret"];
    assert_eq!(e["level"].as_f64(), Some(0.8));
    let (mean, bound) = (e["mean"].as_f64().unwrap(), e["bound"].as_f64().unwrap());
    assert!(mean >= 0.0 && bound >= 0.0 && mean.is_finite() && bound.is_finite(), "{e}");
    let eval = oneproxy()
        .args(["evaluate", "nas", "--targets", "fpga,eyeriss", "--proxy", "pixel3", "--trials", "2", "--no-baselines"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let eval = String::from_utf8(eval).unwrap();
    assert!(eval.contains("estimated: mean, 80% bound") && eval.contains("within its 80% bound in"), "{eval}");
    // The calibration figure: the intervals' curve and the bound's point, as the text says.
    let figure = dir.path().join("calibration.svg");
    let args = ["evaluate", "nas", "--targets", "fpga,eyeriss", "--proxy", "pixel3", "--trials", "2", "--no-baselines"];
    oneproxy().args(args).arg("--calibration-plot").arg(&figure).assert().success();
    let svg = std::fs::read_to_string(&figure).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    assert!(svg.contains("central 80% intervals hold") && svg.contains("the 80% bound on the remaining regret holds"));
    // A file the user wrote is not replaced without --force.
    let theirs = dir.path().join("theirs.svg");
    std::fs::write(&theirs, "mine").unwrap();
    oneproxy()
        .args(args)
        .arg("--calibration-plot")
        .arg(&theirs)
        .assert()
        .failure()
        .stderr(predicates::str::contains("--calibration-plot"));
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "mine");
}

/// A phone that reports whole milliseconds is read as such, and says so; one that reports
/// fractions is not.
#[test]
fn a_target_reporting_whole_milliseconds_reads_its_budgets_on_that_step() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pixel2.csv");
    let text = nas_text(&["--target", "pixel2", "--oracle", "table"], &log);
    assert!(text.contains("reports latencies in steps of 1 ms"), "{text}");
    let v = nas_json(&["--target", "pixel2", "--oracle", "table"], &log);
    assert_eq!(v["reporting_step"].as_f64(), Some(1.0), "{v}");
    let v = nas_json(&["--target", "raspi4", "--oracle", "table"], &dir.path().join("raspi4.csv"));
    assert!(v.get("reporting_step").is_none(), "{v}");
}

#[test]
fn table_oracle_agrees_with_evaluate_nas() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("eyeriss.csv");
    let out = nas(&["--target", "eyeriss", "--oracle", "table", "--constraint", "5", "--json"], &log)
        .success()
        .get_output()
        .stdout
        .clone();
    let one: Value = serde_json::from_slice(&out).unwrap();
    // `nas` measures 3 initial samples by default, `evaluate` keeps HELP's 10.
    let eval = json(&[
        "evaluate",
        "nas",
        "--targets",
        "eyeriss",
        "--proxy",
        "pixel3",
        "--seed",
        "7",
        "--accuracy",
        "cifar100",
        "--samples",
        "3",
        "--constraint",
        "5",
        "--json",
    ]);
    assert_eq!(outcome_fields(&one), outcome_fields(&eval["targets"][0]));
    // Every measurement is in the JSON and in the log.
    let n = one["measurements"].as_u64().unwrap() as usize;
    assert_eq!(one["measured"].as_array().unwrap().len(), n);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), n + 1);
}

#[test]
fn manual_target_resumes_to_the_table_result() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("raspi4.csv");
    let mut rounds = 0;
    let out = loop {
        let a = nas(&["--target", "raspi4", "--manual", "--constraint", "5", "--json"], &log);
        let code = a.get_output().status.code();
        if code == Some(0) {
            break a.get_output().stdout.clone();
        }
        assert_eq!(code, Some(3), "{}", String::from_utf8_lossy(&a.get_output().stderr));
        let stderr = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(stderr.contains("need measuring on 'raspi4'") && stderr.contains("raspi4.csv"), "{stderr}");
        assert!(fill_from_bundle(&log, "raspi4") > 0, "each stop asks for something");
        rounds += 1;
        assert!(rounds < 20, "the flow must finish");
    };
    assert!(rounds >= 2, "samples first, then the front: {rounds}");
    let manual: Value = serde_json::from_slice(&out).unwrap();
    let table_log = dir.path().join("table.csv");
    // By hand the flow's rounds are larger: the same rounds through the table.
    let by_hand = ["--round-size", "5", "--stop", "0.01"];
    let out = nas(
        &[&["--target", "raspi4", "--oracle", "table", "--constraint", "5", "--json"][..], &by_hand].concat(),
        &table_log,
    )
    .success()
    .get_output()
    .stdout
    .clone();
    let table: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(outcome_fields(&manual), outcome_fields(&table));
    // Nothing is measured twice: a last run with the complete log asks for nothing.
    nas(&["--target", "raspi4", "--manual"], &log).success();
}

/// A person with the board on the desk, simulated: run `nas --manual` with `extra`, fill every
/// requested row from the bundled `device` column, run again, until the flow finishes. The
/// rows asked for in each request, in order (the final, successful run asks for nothing).
fn manual_requests(extra: &[&str], device: &str, log: &Path) -> Vec<usize> {
    let mut requests = Vec::new();
    loop {
        let a = nas(&[&["--target", device, "--manual"], extra].concat(), log);
        match a.get_output().status.code() {
            Some(0) => return requests,
            Some(3) => requests.push(fill_from_bundle(log, device)),
            other => panic!("{other:?}: {}", String::from_utf8_lossy(&a.get_output().stderr)),
        }
        assert!(requests.len() < 30, "the flow must finish: {requests:?}");
    }
}

#[test]
fn manual_requests_hold_the_samples_at_once_then_up_to_a_round_each() {
    let dir = tempfile::tempdir().unwrap();
    for (round, log) in [(5, "five.csv"), (12, "twelve.csv")] {
        let n = round.to_string();
        let requests = manual_requests(&["--round-size", &n], "eyeriss", &dir.path().join(log));
        // The 6 default samples in one request, then rounds of at most `round` candidates.
        assert_eq!(requests[0], 6, "{requests:?}");
        assert!(requests[1..].iter().all(|&r| (1..=round).contains(&r)), "{requests:?}");
        assert!(requests.len() >= 2, "{requests:?}");
        if round == 12 {
            assert!(requests[1..].iter().any(|&r| r > 5), "a larger round asks for more at once: {requests:?}");
        }
    }
}

#[test]
fn by_hand_the_default_rounds_are_of_five_after_six_samples_and_rounds_of_one_start_from_three() {
    let dir = tempfile::tempdir().unwrap();
    // A person filling requests: few, larger rounds unless asked otherwise.
    let requests = manual_requests(&[], "eyeriss", &dir.path().join("default.csv"));
    assert_eq!(requests[0], 6, "{requests:?}");
    assert!(requests[1..].iter().all(|&r| (1..=5).contains(&r)), "{requests:?}");
    assert!(requests[1..].iter().any(|&r| r > 1), "rounds of more than one: {requests:?}");
    // Rounds of one (the default without --manual) start from 3 samples.
    let one =
        manual_requests(&["--round-size", "1", "--max-measurements", "9"], "eyeriss", &dir.path().join("one.csv"));
    assert_eq!(one[0], 3, "{one:?}");
    assert!(one[1..].iter().all(|&r| r == 1) && one.len() > 1, "{one:?}");
}

#[test]
fn an_upfront_manual_target_asks_once_and_the_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("raspi4.csv");
    let first = nas(&["--target", "raspi4", "--manual", "--design", "upfront"], &log);
    let stderr = String::from_utf8_lossy(&first.get_output().stderr).into_owned();
    assert_eq!(first.get_output().status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("one request of 35 rows") && stderr.contains("once more"), "{stderr}");
    std::fs::remove_file(&log).unwrap();
    assert_eq!(manual_requests(&["--design", "upfront"], "raspi4", &log), [35]);
    // The budget caps the one request.
    let capped = dir.path().join("capped.csv");
    assert_eq!(manual_requests(&["--design", "upfront", "--max-measurements", "20"], "raspi4", &capped), [20]);
    // What evaluate nas makes of the design on the same table.
    let v = json(&[
        "evaluate",
        "nas",
        "--targets",
        "raspi4,eyeriss",
        "--proxy",
        "pixel3",
        "--accuracy",
        "cifar100",
        "--design",
        "upfront",
        "--samples",
        "6",
        "--no-baselines",
        "--json",
    ]);
    for t in v["targets"].as_array().unwrap() {
        assert_eq!(t["measurements"], 35, "{t}");
    }
}

#[test]
fn a_foreign_measurements_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mine.csv");
    std::fs::write(&log, "arch,other\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1.5\n").unwrap();
    let err = String::from_utf8_lossy(&nas(&["--target", "raspi4", "--manual"], &log).failure().get_output().stderr)
        .into_owned();
    assert!(err.contains("mine.csv"), "{err}");
    assert!(std::fs::read_to_string(&log).unwrap().starts_with("arch,other\n"));
}

/// A "device" behind the runner protocol: a script that looks the architecture up in a copy
/// of the bundled raspi4 column. The flow through it equals the table oracle's.
#[test]
fn runner_target_equals_the_table_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(SpaceId::Nb201).unwrap();
    let col = b.latency.device_index("raspi4").unwrap();
    let mut lookup = String::new();
    for a in b.latency.archs() {
        lookup.push_str(&format!("{},{}\n", SpaceId::Nb201.space().format(a), b.latency.latency(a, col).unwrap()));
    }
    let data = dir.path().join("raspi4.txt");
    std::fs::write(&data, lookup).unwrap();
    let script = dir.path().join("device.sh");
    std::fs::write(
        &script,
        format!(
            "test -s \"$2\" || exit 1\nv=$(grep -F -- \"$1,\" '{}' | cut -d, -f2)\necho \"latency_ms: $v\"\n",
            data.display()
        ),
    )
    .unwrap();
    let cmd = format!("sh {} {{arch}} {{model}}", script.display());
    let log = dir.path().join("runner.csv");
    let out = nas(
        &["--target", "raspi4", "--runner-cmd", &cmd, "--runs", "1", "--warmup", "0", "--constraint", "5", "--json"],
        &log,
    )
    .success()
    .get_output()
    .stdout
    .clone();
    let runner: Value = serde_json::from_slice(&out).unwrap();
    let out =
        nas(&["--target", "raspi4", "--oracle", "table", "--constraint", "5", "--json"], &dir.path().join("t.csv"))
            .success()
            .get_output()
            .stdout
            .clone();
    let table: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(outcome_fields(&runner), outcome_fields(&table));
    assert_eq!(runner["oracle"], "runner");
}

#[test]
fn nas_out_writes_a_report_folder_and_never_replaces_a_user_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("board-nas");
    let log = dir.path().join("pixel2.csv");
    nas(&["--target", "pixel2", "--oracle", "table", "--out", out.to_str().unwrap()], &log).success();
    let report: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["target"], "pixel2");
    assert_eq!(std::fs::read_to_string(out.join("measurements.csv")).unwrap(), std::fs::read_to_string(&log).unwrap());
    // A folder holding a user's file is refused before anything is measured.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let log2 = dir.path().join("other.csv");
    nas(&["--target", "pixel2", "--oracle", "table", "--out", mine.to_str().unwrap()], &log2).failure();
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep");
    assert!(!log2.exists(), "nothing measured");
}

/// A runner looking raspi4's latencies up (as above) that appends a line to `calls` per run and
/// fails on every architecture with an `avg_pool_3x3` edge from node 1 (a device that cannot run
/// an operation there); `sleep` seconds per run.
fn lookup_runner(dir: &Path, sleep: f64) -> String {
    let b = bundle(SpaceId::Nb201).unwrap();
    let col = b.latency.device_index("raspi4").unwrap();
    let mut lookup = String::new();
    for a in b.latency.archs() {
        lookup.push_str(&format!("{},{}\n", SpaceId::Nb201.space().format(a), b.latency.latency(a, col).unwrap()));
    }
    let data = dir.join("raspi4.txt");
    std::fs::write(&data, lookup).unwrap();
    let script = dir.join("device.sh");
    std::fs::write(
        &script,
        format!(
            "echo run >> '{calls}'\nsleep {sleep}\ncase \"$1\" in *'avg_pool_3x3~1'*) echo 'unsupported op' >&2; exit 1;; esac\n\
             v=$(grep -F -- \"$1,\" '{data}' | cut -d, -f2)\necho \"latency_ms: $v\"\n",
            calls = dir.join("calls").display(),
            data = data.display()
        ),
    )
    .unwrap();
    format!("sh {} {{arch}} {{model}}", script.display())
}

fn runner_calls(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("calls")).map_or(0, |t| t.lines().count())
}

#[test]
fn architectures_the_device_cannot_run_are_logged_replaced_and_never_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = lookup_runner(dir.path(), 0.0);
    let log = dir.path().join("board.csv");
    let run = |extra: &[&str]| {
        let mut args = vec!["--target", "raspi4", "--runner-cmd", &cmd, "--runs", "1", "--warmup", "0", "--json"];
        args.extend_from_slice(extra);
        nas(&args, &log)
    };
    let first: Value = serde_json::from_slice(&run(&["--max-failures", "30"]).success().get_output().stdout).unwrap();
    let failed = first["failed"].as_array().expect("failures are reported");
    assert!(!failed.is_empty(), "some sampled or candidate architecture has such an edge");
    for f in failed {
        assert!(f["arch"].as_str().unwrap().contains("avg_pool_3x3~1"), "{f}");
        assert!(f["reason"].as_str().unwrap().contains("unsupported op"), "{f}");
    }
    assert!(!first["chosen"].as_array().unwrap().is_empty());
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().filter(|l| l.ends_with(",failed")).count(), failed.len(), "{text}");
    // A resume answers everything from the log: no run, no redraw of a failed architecture.
    let calls = runner_calls(dir.path());
    let again: Value = serde_json::from_slice(&run(&["--max-failures", "30"]).success().get_output().stdout).unwrap();
    assert_eq!(runner_calls(dir.path()), calls, "nothing measured again");
    assert_eq!(outcome_fields(&again), outcome_fields(&first));
    // With no failure allowed, the first one stops the flow with a clear error.
    let other = dir.path().join("strict.csv");
    let mut c = oneproxy();
    c.args(FLOW).arg("7").args(["--target", "raspi4", "--runner-cmd", &cmd, "--runs", "1", "--warmup", "0"]);
    c.args(["--max-failures", "0", "--measurements"]).arg(&other);
    let e = String::from_utf8_lossy(&c.assert().failure().get_output().stderr).into_owned();
    assert!(
        e.contains("could not be measured on 'raspi4', more than the 0 allowed") && e.contains("unsupported op"),
        "{e}"
    );
}

#[test]
fn two_nas_runs_on_one_measurements_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = lookup_runner(dir.path(), 0.05);
    let log = dir.path().join("board.csv");
    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("oneproxy"))
        .args(FLOW)
        .arg("7")
        .args(["--target", "raspi4", "--runner-cmd", &cmd, "--runs", "1", "--warmup", "0", "--max-failures", "30"])
        .args(["--max-measurements", "20", "--json", "--measurements"])
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while runner_calls(dir.path()) == 0 {
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "the first run never measured");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = nas(&["--target", "raspi4", "--runner-cmd", &cmd, "--runs", "1", "--warmup", "0"], &log).failure();
    let e = String::from_utf8_lossy(&second.get_output().stderr).into_owned();
    assert!(e.contains(&format!("another oneproxy nas is writing {} (pid {})", log.display(), first.id())), "{e}");
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let measured = v["measurements"].as_u64().unwrap() as usize;
    let failed = v["failed"].as_array().map_or(0, Vec::len);
    let rows = std::fs::read_to_string(&log).unwrap().lines().count() - 1;
    assert_eq!(rows, measured + failed, "every answer of the first run is in the file");
    // The second run, once the first is done, resumes from all of it.
    let calls = runner_calls(dir.path());
    nas(
        &[
            "--target",
            "raspi4",
            "--runner-cmd",
            &cmd,
            "--runs",
            "1",
            "--warmup",
            "0",
            "--max-failures",
            "30",
            "--max-measurements",
            "20",
        ],
        &log,
    )
    .success();
    assert_eq!(runner_calls(dir.path()), calls, "the second run measured nothing twice");
}

#[test]
fn the_text_output_names_the_runner_up_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("edgegpu.csv");
    let run = |extra: &[&str]| {
        let mut c = oneproxy();
        c.args(["nas", "--target", "edgegpu", "--oracle", "table", "--proxy", "auto", "--max-measurements", "12"]);
        c.args(extra).arg("--measurements").arg(&log);
        c.assert().success().get_output().stdout.clone()
    };
    let v: Value = serde_json::from_slice(&run(&["--json"])).unwrap();
    let ranking = v["proxy_ranking"].as_array().unwrap();
    assert!(ranking.len() >= 2, "{ranking:?}");
    assert_eq!(ranking[0]["proxy"], v["proxy"]);
    // The same run again from its log, as text.
    let text = String::from_utf8(run(&[])).unwrap();
    let line = text.lines().find(|l| l.starts_with("runner-up proxies")).unwrap_or_else(|| panic!("{text}"));
    for r in &ranking[1..] {
        assert!(line.contains(r["proxy"].as_str().unwrap()), "{line}");
    }
}
