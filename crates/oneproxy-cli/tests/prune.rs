//! End-to-end tests of `--prune-dead`: models built as a deployment
//! compiler runs an NB201 cell, measured under the architecture as written.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The only conv (0->1) is dead: node 1 leads nowhere.
const DEAD: &str = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|";
/// No `none` edge, so nothing to prune.
const CONV: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
const FBNET: &str = "k5_e6-skip-k3_e1_g2-skip-k5_e1-skip-skip-skip-k5_e6-k5_e1-k3_e1_g2-k5_e1-k5_e6-k3_e6-k3_e3-k5_e6-k3_e6-k3_e3-k5_e1-k3_e3-k5_e1-k5_e1_g2";

fn export(dir: &Path, arch: &str, prune: bool) -> Vec<u8> {
    let out = dir.join(format!("m{}.onnx", std::fs::read_dir(dir).unwrap().count()));
    let mut c = oneproxy();
    c.args(["export", "--space", "nb201", "--arch", arch, "--seed", "3", "--out"]).arg(&out);
    if prune {
        c.arg("--prune-dead");
    }
    c.assert().success();
    std::fs::read(&out).unwrap()
}

#[test]
fn export_prunes_only_what_is_dead() {
    let dir = tempfile::tempdir().unwrap();
    let (written, pruned) = (export(dir.path(), DEAD, false), export(dir.path(), DEAD, true));
    assert_ne!(written, pruned);
    // Fifteen 3x3 convolutions fewer (241,920 weights): a much smaller file.
    assert!(pruned.len() * 2 < written.len(), "{} vs {} bytes", pruned.len(), written.len());
    // The model still names the architecture as given.
    assert!(pruned.windows(DEAD.len()).any(|w| w == DEAD.as_bytes()));
    assert_eq!(export(dir.path(), CONV, false), export(dir.path(), CONV, true));
}

#[test]
fn prune_dead_outside_nb201_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.onnx");
    let e =
        stderr_of(&["export", "--space", "fbnet", "--arch", FBNET, "--prune-dead", "--out", model.to_str().unwrap()]);
    assert!(e.contains("--prune-dead") && e.contains("fbnet") && e.contains("nb201"), "{e}");
    assert!(!model.exists());
    let csv = dir.path().join("lat.csv");
    let e = stderr_of(&[
        "measure",
        "--space",
        "ofa-mbv3",
        "--sample",
        "2",
        "--prune-dead",
        "--runner-cmd",
        "echo 1 {model}",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(e.contains("--prune-dead") && e.contains("ofa-mbv3"), "{e}");
    assert!(!csv.exists(), "nothing is written");
}

#[test]
fn measure_keys_rows_by_the_arch_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("archs.csv");
    std::fs::write(&list, format!("arch\n{DEAD}\n{CONV}\n")).unwrap();
    // The "latency" is the model's size in bytes: the runner sees the pruned model.
    let measure = |prune: bool, out: &PathBuf| -> Value {
        let mut c = oneproxy();
        c.args(["measure", "--space", "nb201", "--archs"])
            .arg(&list)
            .args([
                "--runs",
                "1",
                "--warmup",
                "0",
                "--device-name",
                "size",
                "--json",
                "--runner-cmd",
                "wc -c < {model}",
                "--out",
            ])
            .arg(out);
        if prune {
            c.arg("--prune-dead");
        }
        serde_json::from_slice(&c.assert().success().get_output().stdout).unwrap()
    };
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let (written, pruned) = (measure(false, &a), measure(true, &b));
    assert_eq!((&written["prune_dead"], &pruned["prune_dead"]), (&Value::Bool(false), &Value::Bool(true)));
    let rows = |p: &Path| -> Vec<(String, f64)> {
        let text = std::fs::read_to_string(p).unwrap();
        assert_eq!(text.lines().next(), Some("arch,size"));
        text.lines()
            .skip(1)
            .map(|l| {
                let (arch, v) = l.rsplit_once(',').unwrap();
                (arch.to_string(), v.parse().unwrap())
            })
            .collect()
    };
    let (ra, rb) = (rows(&a), rows(&b));
    assert_eq!(ra.iter().map(|r| &r.0).collect::<Vec<_>>(), [DEAD, CONV]);
    assert_eq!(rb.iter().map(|r| &r.0).collect::<Vec<_>>(), [DEAD, CONV]);
    assert!(rb[0].1 < ra[0].1, "the dead conv is gone: {} vs {} bytes", rb[0].1, ra[0].1);
    assert_eq!(rb[1].1, ra[1].1, "nothing to prune");
    // The JSON's costs are those of the model measured.
    let flops = |v: &Value| v["measured"][0]["flops"].as_u64().unwrap();
    assert_eq!(flops(&pruned), 7_783_040);
    assert!(flops(&written) > flops(&pruned));
    assert_eq!(pruned["measured"][0]["arch"], DEAD);
}

#[test]
fn help_explains_prune_dead() {
    for cmd in ["export", "measure"] {
        let out = oneproxy().args([cmd, "--help"]).assert().success().get_output().stdout.clone();
        let help = String::from_utf8(out).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("--prune-dead") && help.contains("dead operations") && help.contains("NB201 only"),
            "{cmd}: {help}"
        );
    }
}

#[cfg(feature = "tract")]
#[test]
fn measure_with_tract_records_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("here.csv");
    let v = json(&[
        "measure",
        "--space",
        "nb201",
        "--arch",
        DEAD,
        "--runs",
        "3",
        "--warmup",
        "1",
        "--device-name",
        "here_pruned",
        "--prune-dead",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(v["prune_dead"], true);
    assert!(v["environment"]["engine"].as_str().unwrap().starts_with("tract-onnx"));
    assert_eq!(v["measured"][0]["flops"], 7_783_040);
    assert!(std::fs::read_to_string(&out).unwrap().starts_with(&format!("arch,here_pruned\n{DEAD},")));
}

/// The example dataset measured with `scripts/measure_here.sh`.
fn here_dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../oneproxy/data/examples/nb201_here.csv")
}

#[test]
fn the_shipped_here_dataset() {
    let path = here_dataset();
    let file = path.to_str().unwrap();
    let v = json(&["devices", "--space", "nb201", "--latency", file, "--json"]);
    for name in ["here", "here_pruned"] {
        let d = v["devices"].as_array().unwrap().iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!((d["archs_measured"].as_u64(), &d["simulated"]), (Some(300), &Value::Bool(false)), "{name}");
    }
    // Pruning changes the ranking: a repeat of the as-written column ranks like it at 0.996,
    // the pruned column at 0.828 (the README's figures).
    let m = json(&["monotonicity", "--space", "nb201", "--latency", file, "--devices", "here,here_pruned", "--json"]);
    let rho = m["matrix"][0][1].as_f64().unwrap();
    assert!((0.82..0.84).contains(&rho), "Spearman(here, here_pruned) = {rho}");
    // The architectures of docs/results/real-devices/here300.csv (the same --sample 300 --seed 1), in order.
    let archs = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        archs(&path),
        archs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/results/real-devices/here300.csv"))
    );
    // Every architecture with a dead op ran faster pruned; 115 of the 300 have one.
    let space = oneproxy::SpaceId::Nb201.space();
    let mut dead = 0;
    for line in std::fs::read_to_string(&path).unwrap().lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (written, pruned): (f64, f64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        if oneproxy::space::cell::has_dead(space.parse(f[0]).unwrap().genes()) {
            dead += 1;
            assert!(pruned < written, "{line}");
        }
    }
    assert_eq!(dead, 115);
}

/// The goal on the device measured here: with the bundled devices as the pool and 10
/// samples, the averaged hypotheses rank `here_pruned` (a device that removes dead ops) far
/// better than the correction forms alone, and say why (the live-op models carry the weight);
/// `here`, which runs cells as written, stays with the proxies.
#[test]
fn goal_the_pruning_device_measured_here() {
    let path = here_dataset();
    let pool = "1080ti_1,1080ti_256,1080ti_32,2080ti_1,2080ti_256,2080ti_32,essential_ph_1,eyeriss,fpga,gold_6226,gold_6240,pixel2,pixel3,raspi4,samsung_a50,samsung_s7,silver_4114,silver_4210r,titan_rtx_1,titan_rtx_256,titan_rtx_32,titanx_1,titanx_256,titanx_32,titanxp_1,titanxp_256,titanxp_32,edgegpu,edgetpu";
    let run = |combine: &str| {
        json(&[
            "evaluate",
            "adapt",
            "--latency",
            path.to_str().unwrap(),
            "--targets",
            "here,here_pruned",
            "--pool",
            pool,
            "--samples",
            "10",
            "--trials",
            "4",
            "--combine",
            combine,
            "--json",
        ])
    };
    let (averaged, best) = (run("averaged"), run("best"));
    let after = |v: &Value, i: usize| v["targets"][i]["spearman_after"].as_f64().unwrap();
    assert!(
        after(&averaged, 1) >= 0.90 && after(&averaged, 1) > after(&best, 1) + 0.08,
        "here_pruned: {} vs {}",
        after(&averaged, 1),
        after(&best, 1)
    );
    assert!(after(&averaged, 0) >= 0.93, "here: {}", after(&averaged, 0));
    let structural = ["live-ops", "live-path", "pruned-stacking"];
    let trials = averaged["targets"][1]["trials"].as_array().unwrap();
    let mut live = 0.0;
    for trial in trials {
        let members = trial["members"].as_array().unwrap();
        let total: f64 = members.iter().map(|m| m["weight"].as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(structural.contains(&members[0]["form"].as_str().unwrap()), "{members:?}");
        live += members
            .iter()
            .filter(|m| structural.contains(&m["form"].as_str().unwrap()))
            .map(|m| m["weight"].as_f64().unwrap())
            .sum::<f64>();
    }
    assert!(
        live / trials.len() as f64 > 0.5,
        "mean weight of the structural hypotheses {}",
        live / trials.len() as f64
    );
    for trial in averaged["targets"][0]["trials"].as_array().unwrap() {
        assert!(!structural.contains(&trial["members"][0]["form"].as_str().unwrap()), "{trial}");
    }
}
