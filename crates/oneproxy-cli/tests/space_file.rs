//! End-to-end tests of `--space-file`: FBNet declared in a space file gives the built-in FBNet's
//! figures for the same seeds, and malformed files are refused with the file and line named.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fbnet_file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/fbnet.toml").display().to_string()
}

/// The bundled FBNet latencies as a user file keyed by architecture strings (a declared space
/// has no bundled data), rows in bundled order.
fn fbnet_latency_csv(dir: &Path) -> String {
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Fbnet).unwrap();
    let t = &b.latency;
    let space = oneproxy::SpaceId::Fbnet.space();
    let mut out = String::from("arch");
    for d in t.devices() {
        out.push(',');
        out.push_str(&d.name);
    }
    out.push('\n');
    for (row, arch) in t.archs().iter().enumerate() {
        out.push_str(&space.format(arch));
        for d in 0..t.devices().len() {
            out.push(',');
            if let Some(v) = t.get(row, d) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    let path = dir.join("fbnet_latency.csv");
    std::fs::write(&path, out).unwrap();
    path.display().to_string()
}

/// `cmd` with `args` on the built-in FBNet and on its declaration (with its latencies as a
/// file), as JSON with what names the space and its input files removed.
fn both(dir: &Path, cmd: &[&str], args: &[&str]) -> (Value, Value) {
    let csv = fbnet_latency_csv(dir);
    let file = fbnet_file();
    let run = |space: &[&str]| {
        let all: Vec<&str> = cmd.iter().chain(space).chain(&["--json"]).chain(args).copied().collect();
        json(&all)
    };
    let (b, d) = (run(&["--space", "fbnet"]), run(&["--space-file", &file, "--latency", &csv]));
    let space = |v: &Value| v["manifest"]["space"].as_str().map(str::to_string);
    assert_eq!((space(&b), space(&d)), (Some("fbnet".into()), Some("fbnet-declared".into())));
    (without_names(b), without_names(d))
}

/// Drop what names the space and its input files (the only expected differences).
fn without_names(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("manifest");
    o.remove("space");
    v
}

const POOL: &str = "essential_ph_1,pixel2,pixel3,raspi4,samsung_s7";

#[test]
fn evaluate_adapt_on_declared_fbnet_matches_built_in_fbnet() {
    let dir = tempfile::tempdir().unwrap();
    let common = ["--targets", "1080ti_1,2080ti_1,pixel3", "--pool", POOL, "--proxy", "auto", "--samples", "20"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = common.iter().chain(extra).copied().collect();
        both(dir.path(), &["evaluate", "adapt"], &args)
    };
    // Correction candidates only: identical figures.
    let (b, d) = run(&["--combine", "best", "--trials", "2"]);
    assert_eq!(b, d);
    // Averaged with the hypotheses: the same candidates, less `launch` (it counts the kernels
    // of each network, and a declared space has no network), plus `layers` (it counts the
    // layers run from the file's `skip` mark, which the built-in space does not declare).
    let (b, d) = run(&["--trials", "1"]);
    let members = |v: &Value, keep_launch: bool| -> Vec<Value> {
        let mut out = Vec::new();
        for t in v["targets"].as_array().unwrap() {
            for trial in t["trials"].as_array().unwrap() {
                for m in trial["members"].as_array().unwrap() {
                    if keep_launch || m["form"] != "launch" {
                        out.push(serde_json::json!([m["form"], m["proxy"], m["lambda"], m["cv_error"]]));
                    }
                }
            }
        }
        out
    };
    assert!(members(&b, true).iter().any(|m| m[0] == "launch"));
    assert!(!members(&d, true).iter().any(|m| m[0] == "launch"));
    assert!(members(&d, true).iter().any(|m| m[0] == "layers"));
    assert!(!members(&b, true).iter().any(|m| m[0] == "layers"));
    // Where `launch` dominates, the built-in keeps it alone; every other member it keeps is the
    // declared space's, with the same penalty and error.
    let declared = members(&d, true);
    assert!(members(&b, false).iter().all(|m| declared.contains(m)));
    assert!(members(&b, false).len() >= 10, "the comparison covers some members");
}

#[test]
fn evaluate_nas_on_declared_fbnet_matches_built_in_fbnet_but_for_the_flops_baseline_and_hypotheses() {
    let dir = tempfile::tempdir().unwrap();
    let acc = dir.path().join("acc.csv");
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Fbnet).unwrap();
    let space = oneproxy::SpaceId::Fbnet.space();
    let mut text = String::from("arch,accuracy\n");
    for (i, a) in b.archs.iter().enumerate() {
        text.push_str(&format!("{},{}\n", space.format(a), 60.0 + (i * 7919 % 1500) as f64 / 100.0));
    }
    std::fs::write(&acc, text).unwrap();
    let acc = acc.display().to_string();
    // The correction candidates only: the flow's default averaging adds each space's own
    // hypotheses (`launch` for the built-in, `layers` for the declaration), as in
    // `evaluate adapt` above.
    let args = [
        "--targets",
        "1080ti_1,raspi4",
        "--proxy",
        "pixel3",
        "--trials",
        "2",
        "--accuracy-file",
        &acc,
        "--combine",
        "best",
    ];
    let (mut b, mut d) = both(dir.path(), &["evaluate", "nas"], &args);
    assert!(b["baselines"]["flops"].is_object(), "the built-in space has FLOPs");
    assert!(d["baselines"]["flops"].is_null(), "a declared space has no network, so no FLOPs baseline");
    b["baselines"]["flops"] = Value::Null;
    d["baselines"]["flops"] = Value::Null;
    assert_eq!(b, d);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_malformed_space_file_is_refused_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = fbnet_latency_csv(dir.path());
    let refuse = |name: &str, text: &str| {
        let f = write(dir.path(), name, text).display().to_string();
        stderr_of(&["devices", "--space-file", &f, "--latency", &csv])
    };
    let e = refuse(
        "dup.toml",
        "name = \"x\"\n[[position]]\nname = \"a\"\nchoices = [\"p\"]\n[[position]]\nname = \"a\"\nchoices = [\"q\"]\n",
    );
    assert!(e.contains("dup.toml:6: position 'a' is declared twice (first on line 3)"), "{e}");
    let e = refuse("empty.toml", "name = \"x\"\n[[position]]\nname = \"a\"\nchoices = []\n");
    assert!(e.contains("empty.toml:4: position 'a' has no choices"), "{e}");
    let e = refuse("key.toml", "name = \"x\"\n[[position]]\nname = \"a\"\nchoices = [\"p\"]\ndepth = 2\n");
    assert!(e.contains("key.toml:5: unknown field `depth`"), "{e}");
    let e = stderr_of(&["devices", "--space-file", "/nonexistent/space.toml"]);
    assert!(e.contains("/nonexistent/space.toml"), "{e}");
    // A string outside the space: the latency file and its line are named.
    let file = fbnet_file();
    let bad = write(dir.path(), "bad.csv", "arch,board\nk3_e1-k3_e1,1.0\n").display().to_string();
    let e = stderr_of(&["devices", "--space-file", &file, "--latency", &bad]);
    assert!(e.contains("bad.csv:2") && e.contains("invalid fbnet-declared architecture"), "{e}");
    // --space and --space-file together are refused by the parser.
    let e = stderr_of(&["devices", "--space", "fbnet", "--space-file", &file]);
    assert!(e.contains("cannot be used with"), "{e}");
}

#[test]
fn adapt_and_plan_on_declared_fbnet_match_built_in_fbnet() {
    let dir = tempfile::tempdir().unwrap();
    // A user's board: twelve bundled architectures with their raspi4 latencies.
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::Fbnet).unwrap();
    let raspi4 = b.latency.device_index("raspi4").unwrap();
    let space = oneproxy::SpaceId::Fbnet.space();
    let mut text = String::from("arch,board\n");
    for row in (0..12).map(|i| i * 397) {
        text.push_str(&format!("{},{}\n", space.format(&b.latency.archs()[row]), b.latency.get(row, raspi4).unwrap()));
    }
    let samples = write(dir.path(), "board.csv", &text).display().to_string();
    let args = ["--samples", samples.as_str(), "--proxy", "pixel3", "--combine", "best"];
    let (mut built_in, mut declared) = both(dir.path(), &["adapt"], &args);
    for v in [&mut built_in, &mut declared] {
        // Timings only.
        v.as_object_mut().unwrap().remove("solve_seconds");
        v["report"].as_object_mut().unwrap().remove("solve_seconds");
    }
    assert_eq!(built_in, declared);
    // A saved predictor of the declared space is read back with its space file.
    let (csv, file) = (fbnet_latency_csv(dir.path()), fbnet_file());
    let saved = |space: &[&str], name: &str| {
        let out = dir.path().join(name).display().to_string();
        let all: Vec<&str> = ["adapt", "--out", out.as_str()].iter().chain(space).chain(&args).copied().collect();
        oneproxy().args(&all).assert().success();
        out
    };
    let (pb, pd) =
        (saved(&["--space", "fbnet"], "b.json"), saved(&["--space-file", &file, "--latency", &csv], "d.json"));
    let predict = |extra: &[&str]| {
        let all: Vec<&str> = ["predict", "--archs", samples.as_str()].iter().chain(extra).copied().collect();
        String::from_utf8(oneproxy().args(&all).assert().success().get_output().stdout.clone()).unwrap()
    };
    assert_eq!(predict(&["--predictor", &pb]), predict(&["--predictor", &pd, "--space-file", &file]));
    let e = stderr_of(&["predict", "--predictor", &pd, "--archs", &samples]);
    assert!(e.contains("d.json") && e.contains("fbnet-declared"), "{e}");
    // `plan` draws from the user's architectures when the space has no bundled ones: the same
    // picks, as the rows are in the same order.
    let plan = |space: &[&str]| {
        let all: Vec<&str> = ["plan", "--budget", "8", "--proxy", "pixel3"].iter().chain(space).copied().collect();
        String::from_utf8(oneproxy().args(&all).assert().success().get_output().stdout.clone()).unwrap()
    };
    assert_eq!(plan(&["--space", "fbnet"]), plan(&["--space-file", &file, "--latency", &csv]));
}

/// The bundled OFA-MobileNetV3 latencies keyed by the strings of its declaration
/// (examples/spaces/ofa-mbv3.toml): `r<res>`, then per stage `d<depth>`, four kernel sizes and
/// four expand ratios, `~` beyond the depth.
fn ofa_latency_csv(dir: &Path) -> String {
    use oneproxy::space::OfaMbv3;
    let b = oneproxy::data::bundled::bundle(oneproxy::SpaceId::OfaMbv3).unwrap();
    let t = &b.latency;
    let names: Vec<&str> = t.devices().iter().map(|d| d.name.as_str()).collect();
    let mut out = format!("arch,{}\n", names.join(","));
    for (row, arch) in t.archs().iter().enumerate() {
        let mut parts = vec![format!("r{}", OfaMbv3::resolution(arch))];
        for (d, blocks) in OfaMbv3::depths(arch).iter().zip(OfaMbv3::SPEC.blocks(arch)) {
            parts.push(format!("d{d}"));
            parts.extend((0..4).map(|j| blocks.get(j).map_or("~".into(), |b| format!("k{}", b.0))));
            parts.extend((0..4).map(|j| blocks.get(j).map_or("~".into(), |b| format!("e{}", b.1))));
        }
        out.push_str(&parts.join("-"));
        for d in 0..names.len() {
            out.push(',');
            if let Some(v) = t.get(row, d) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    write(dir, "ofa_latency.csv", &out).display().to_string()
}

#[test]
fn declared_ofa_with_elastic_depth_and_resolution_adapts_as_the_built_in_ofa() {
    let dir = tempfile::tempdir().unwrap();
    let csv = ofa_latency_csv(dir.path());
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/ofa-mbv3.toml").display().to_string();
    let common = ["--json", "--targets", "v100_1,titan_xp_1", "--proxy", "auto", "--samples", "10", "--trials", "2"];
    let run = |space: &[&str]| -> Value {
        let all: Vec<&str> = ["evaluate", "adapt"].iter().chain(space).chain(&common).copied().collect();
        json(&all)
    };
    let b = run(&["--space", "ofa-mbv3"]);
    let d = run(&["--space-file", &file, "--latency", &csv]);
    let (mb, md) = (b["mean_after"].as_f64().unwrap(), d["mean_after"].as_f64().unwrap());
    assert!((mb - md).abs() < 0.05, "built-in {mb:.3}, declared {md:.3}");
    let forms = |v: &Value| -> Vec<String> {
        v["targets"].as_array().unwrap()[0]["trials"][0]["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["form"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(forms(&d).contains(&"layers".to_string()) && forms(&b).contains(&"launch-depth".to_string()));
    // A `~` inside a stage's depth is refused with the file and line.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().take(3).map(str::to_string).collect();
    let (arch, values) = lines[2].split_once(',').unwrap();
    let mut parts: Vec<&str> = arch.split('-').collect();
    parts[2] = "~"; // the first block of stage 1, which every depth runs
    lines[2] = format!("{},{values}", parts.join("-"));
    let bad = write(dir.path(), "bad_ofa.csv", &(lines.join("\n") + "\n")).display().to_string();
    let e = stderr_of(&["devices", "--space-file", &file, "--latency", &bad]);
    assert!(e.contains("bad_ofa.csv:3") && e.contains("beyond its stage's depth"), "{e}");
}
