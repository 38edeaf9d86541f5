//! End-to-end tests of `oneproxy evaluate fleet`: a small fleet scored beside the flow one
//! device at a time, in JSON and for people, and its refusals.

mod common;

use common::*;

const FLEET: [&str; 4] = ["evaluate", "fleet", "--targets", "titanx_1,titanx_32,titanxp_1,pixel2"];

#[test]
fn a_small_fleet_is_scored_beside_the_flow_one_device_at_a_time() {
    let out = json(&[&FLEET[..], &["--order", "given", "--json"]].concat());
    assert_eq!(out["trials"], 1);
    assert_eq!(out["order"], "given");
    let pool: Vec<&str> = out["initial_pool"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(!pool.is_empty() && !pool.contains(&"pixel2") && !pool.contains(&"titanx_1"), "{pool:?}");
    let devices = out["runs"][0]["devices"].as_array().unwrap();
    let targets: Vec<&str> = devices.iter().map(|d| d["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["titanx_1", "titanx_32", "titanxp_1", "pixel2"]);
    // The first device has nobody to learn from; a fleet member's name says so.
    assert_eq!(devices[0]["measurements"], devices[0]["alone_measurements"]);
    for d in devices {
        let from_fleet = d["proxy_source"]["kind"] == "fleet";
        assert_eq!(from_fleet, d["proxy"].as_str().unwrap().starts_with("fleet-"), "{d}");
    }
    let curve = out["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 4);
    for key in ["fleet", "alone"] {
        assert!(out[key]["measurements"]["mean"].as_f64().unwrap() > 0.0, "{key}");
        assert!(out[key]["regret"]["mean"].as_f64().unwrap() >= 0.0, "{key}");
    }
    let text = oneproxy().args(FLEET).args(["--order", "given"]).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(text).unwrap();
    for part in ["per arrival index", "one at a time", "a fleet member was the proxy of"] {
        assert!(text.contains(part), "{part}: {text}");
    }
}

/// With `--join-regret`, devices side by side join the pools of the devices that start after
/// them as soon as their estimate is within it; the JSON says which, and when on the clock.
#[test]
fn a_confident_device_joins_the_devices_that_start_before_it_ends() {
    let out = json(&[&FLEET[..], &["--order", "given", "--concurrency", "2", "--join-regret", "5", "--json"]].concat());
    assert_eq!((out["concurrency"].as_u64(), out["join_regret"].as_f64()), (Some(2), Some(5.0)));
    assert!(out["joined_when_confident"].as_f64().unwrap() > 0.0, "{}", out["runs"]);
    let devices = out["runs"][0]["devices"].as_array().unwrap();
    let end = |d: &serde_json::Value| {
        let s = &d["span"];
        ["start", "samples", "candidates", "remeasurements"].iter().map(|k| s[k].as_u64().unwrap()).sum::<u64>()
    };
    let last = devices.iter().map(end).max().unwrap();
    assert_eq!(out["slots"]["mean"].as_f64(), Some(last as f64));
    for d in devices {
        for m in d["confident_members"].as_array().into_iter().flatten() {
            let member = devices.iter().find(|e| format!("fleet-{}", e["target"].as_str().unwrap()) == *m).unwrap();
            assert!(end(member) > d["span"]["start"].as_u64().unwrap(), "{m} ended before {} started", d["target"]);
        }
    }
    let err = stderr_of(&[&FLEET[..], &["--join-regret", "-1"]].concat());
    assert!(err.contains("--join-regret"), "{err}");
}

#[test]
fn a_fleet_with_an_unknown_or_repeated_target_is_refused() {
    let err = stderr_of(&["evaluate", "fleet", "--targets", "pixel2,nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
    let err = stderr_of(&["evaluate", "fleet", "--targets", "pixel2,pixel2"]);
    assert!(err.contains("twice"), "{err}");
    let err = stderr_of(&["evaluate", "fleet", "--targets", "pixel2", "--concurrency", "0"]);
    assert!(err.contains("at least 1"), "{err}");
}

// ---- `oneproxy fleet`: a fleet file of real (here: recorded or scripted) devices ----

/// The example fleet file (four bundled devices measured through their tables).
fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleets/titanx-family.toml")
}

/// Write a fleet file into `dir`.
fn fleet_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_fleet_file_of_tables_gives_what_evaluate_fleet_gives_and_a_rerun_measures_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fleet");
    let run = || {
        let o = oneproxy().arg("fleet").arg(example()).arg("--out").arg(&out).arg("--json").assert().success();
        let o = o.get_output();
        (
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (first, _) = run();
    let eval = json(
        &[
            &FLEET[..],
            &["--order", "given", "--trials", "1", "--seed", "0", "--accuracy", "cifar100"],
            &["--constraint", "5", "--constraint", "10", "--json"],
        ]
        .concat(),
    );
    let simulated = eval["runs"][0]["devices"].as_array().unwrap();
    let devices = first["devices"].as_array().unwrap();
    assert_eq!(devices.len(), simulated.len());
    for (d, s) in devices.iter().zip(simulated) {
        let o = &d["outcome"];
        assert_eq!(o["target"], s["target"]);
        assert_eq!(o["proxy"], s["proxy"], "{}", s["target"]);
        assert_eq!(o["action"], s["action"], "{}", s["target"]);
        assert_eq!(o["measurements"], s["measurements"], "{}", s["target"]);
        assert_eq!(d["oracle"], "table");
    }
    // One report folder: the index, the figure, every device's page and front; the logs beside.
    let report = out.join("report");
    let index = std::fs::read_to_string(report.join("report.html")).unwrap();
    for d in devices {
        let name = d["outcome"]["target"].as_str().unwrap();
        assert!(index.contains(&format!("href=\"{name}.report.html\"")), "{name}");
        assert!(report.join(format!("{name}.report.html")).is_file());
        assert!(report.join(format!("front-{name}.csv")).is_file());
        let log = out.join("devices").join(name).join("measurements.csv");
        assert_eq!(
            std::fs::read(&log).unwrap(),
            std::fs::read(report.join(format!("{name}.measurements.csv"))).unwrap()
        );
    }
    roxmltree::Document::parse(&std::fs::read_to_string(report.join("fleet.svg")).unwrap()).unwrap();
    // The fleet's life: a bar per device, named after it, inlined in the index.
    let timeline = std::fs::read_to_string(report.join("timeline.svg")).unwrap();
    roxmltree::Document::parse(&timeline).unwrap();
    assert!(index.contains("The fleet's life") && index.contains("href=\"timeline.svg\""));
    for d in devices {
        let name = d["outcome"]["target"].as_str().unwrap();
        assert!(timeline.contains(&format!("<title>{name}: ")), "{name}");
    }
    // Run again: every answer comes from the logs, and the fleet is the same.
    let (again, stderr) = run();
    assert_eq!(again["devices"], first["devices"]);
    assert_eq!(stderr.matches("resuming").count(), 4, "{stderr}");
}

#[test]
fn an_interrupted_fleet_resumes_without_measuring_a_logged_architecture_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A runner that times nothing: a latency from the architecture's checksum; every call is
    // written down, and with `stop` present the run is interrupted (SIGINT to oneproxy) at the
    // call after that many.
    std::fs::write(
        d.join("runner.sh"),
        "echo \"$1\" >> \"$2/calls.txt\"\nn=$(wc -l < \"$2/calls.txt\")\n\
         if [ -f \"$2/stop\" ] && [ \"$n\" -gt \"$(cat \"$2/stop\")\" ]; then kill -INT $PPID; sleep 20; fi\n\
         c=$(printf %s \"$1\" | cksum | cut -d' ' -f1)\necho \"latency_ms: $((c % 900 + 100))\"\n",
    )
    .unwrap();
    // Interrupted after the 6 samples (random architectures; one may end on the final front,
    // which is measured again at the end).
    std::fs::write(d.join("stop"), "6").unwrap();
    let file = fleet_file(
        d,
        &format!(
            "accuracy = \"cifar100\"\nmax_measurements = 14\nsamples = 6\n\n[[device]]\nname = \"titanx_1\"\noracle = \"table\"\n\n\
             [[device]]\nname = \"board\"\noracle = \"runner\"\nruns = 1\nwarmup = 0\n\
             runner_cmd = \"exec sh {} {{arch}} {} ; : {{model}}\"\n",
            d.join("runner.sh").display(),
            d.display()
        ),
    );
    let out = d.join("fleet");
    let interrupted = oneproxy().arg("fleet").arg(&file).arg("--out").arg(&out).output().unwrap();
    assert!(!interrupted.status.success(), "{}", String::from_utf8_lossy(&interrupted.stderr));
    let log = out.join("devices/board/measurements.csv");
    let logged: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    assert_eq!(logged.len(), 6, "every answer before the interruption is logged");
    assert!(!out.join("report").exists(), "no report of a fleet that did not finish");
    std::fs::remove_file(d.join("stop")).unwrap();
    std::fs::write(d.join("calls.txt"), "").unwrap();
    let resumed = oneproxy().arg("fleet").arg(&file).arg("--out").arg(&out).arg("--json").output().unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let calls = std::fs::read_to_string(d.join("calls.txt")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    let board = &v["devices"][1];
    assert_eq!(board["oracle"], "runner");
    let o = &board["outcome"];
    let remeasured = o["remeasurements"].as_u64().unwrap() as usize;
    // A logged architecture is asked for again only to be re-measured before the front is
    // reported (a sample can end on the front), never as a measurement of its own.
    let logged_again = calls.lines().filter(|c| logged.iter().any(|a| a.trim_matches('"') == *c)).count();
    assert!(
        logged_again <= remeasured,
        "{logged_again} logged architectures asked again, {remeasured} re-measurements"
    );
    // Every call of the rerun is a new measurement or a re-measurement: an architecture
    // measured anew would be counted once in `measurements` for two calls.
    let made = o["measurements"].as_u64().unwrap() as usize + remeasured;
    assert_eq!(made, 6 + calls.lines().count());
}

#[test]
fn malformed_fleet_files_are_refused_with_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let device = "[[device]]\nname = \"pixel2\"\noracle = \"table\"\n";
    let cases: [(String, &str); 6] = [
        (format!("seed = 1\nbogus = 2\n{device}"), ":2: unknown key 'bogus'"),
        (
            format!("{device}\n[[device]]\nname = \"pixel2\"\noracle = \"table\"\n"),
            ":6: device 'pixel2' is listed twice",
        ),
        (
            "[[device]]\nname = \"x\"\noracle = \"psychic\"\n".into(),
            ":3: invalid value 'psychic' for oracle (one of: tract, table",
        ),
        ("[[device]]\nname = \"x\"\noracle = \"runner\"\n".into(), "needs runner_cmd"),
        (format!("threshold = 3\n{device}"), ":1: invalid value '3' for threshold"),
        ("seed = 1\n".into(), "no [[device]]"),
    ];
    for (text, want) in cases {
        let file = fleet_file(dir.path(), &text);
        let err = stderr_of(&["fleet", file.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
        assert!(err.contains(&format!("{}", file.display())) && err.contains(want), "{want}: {err}");
    }
    let missing = dir.path().join("nope.toml");
    let err = stderr_of(&["fleet", missing.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert!(err.contains("nope.toml"), "{err}");
    // A folder oneproxy did not write is never written into.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let err = stderr_of(&["fleet", example().to_str().unwrap(), "--out", mine.to_str().unwrap()]);
    assert!(err.contains("not written by oneproxy"), "{err}");
}
