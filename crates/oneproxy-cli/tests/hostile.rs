//! The hostile-input matrix: one row per case, each run in a fresh temporary folder.
//! A row gives the command, the files it starts from, the exit code it must give, a fragment
//! stderr must contain, and the files that must be there afterwards with their content intact.
//! Destructive cases (`run --out` on a user's folder and on `.`, special files, symlinks) are
//! rows like the others.

mod common;

use common::oneproxy;
use std::path::Path;

/// An NB201 cell used in fixtures.
const CELL: &str = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
const CELL2: &str = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|";

struct Case {
    name: &'static str,
    /// Arguments; `{d}` is replaced by the case's folder.
    args: &'static [&'static str],
    /// Files to create first (relative path, content).
    files: &'static [(&'static str, &'static str)],
    /// Extra setup (special files, links).
    setup: Option<fn(&Path)>,
    /// Expected exit status.
    code: i32,
    /// A fragment of stderr.
    stderr: &'static str,
    /// Files that must exist afterwards, with this content.
    keep: &'static [(&'static str, &'static str)],
    /// A further check of the folder afterwards.
    after: Option<fn(&Path)>,
}

const NOTES: &[(&str, &str)] = &[("notes.txt", "my thesis\n")];
const RESULTS: &[(&str, &str)] = &[("results/notes.txt", "my thesis\n")];

fn fifo(d: &Path) {
    let ok = std::process::Command::new("mkfifo").arg(d.join("pipe.csv")).status().unwrap().success();
    assert!(ok, "mkfifo");
}

fn link_to_real(d: &Path) {
    std::fs::write(d.join("real.csv"), "old\n").unwrap();
    std::os::unix::fs::symlink(d.join("real.csv"), d.join("link.csv")).unwrap();
}

fn link_still_a_link(d: &Path) {
    assert!(std::fs::symlink_metadata(d.join("link.csv")).unwrap().file_type().is_symlink(), "the link stays a link");
    assert!(std::fs::read_to_string(d.join("real.csv")).unwrap().starts_with("arch,"), "written through the link");
}

fn huge_cell(d: &Path) {
    std::fs::write(d.join("huge.csv"), format!("arch,board\n{},1.0\n", "x".repeat(200_000))).unwrap();
}

/// The board fixture's latencies times `scale` (tiny or huge, still positive and finite).
fn scaled(d: &Path, scale: f64) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/board_samples.csv"))
        .unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for l in lines {
        let (arch, v) = l.rsplit_once(',').unwrap();
        out.push_str(&format!("{arch},{:e}\n", v.parse::<f64>().unwrap() * scale));
    }
    std::fs::write(d.join("scaled.csv"), out).unwrap();
}

/// The board fixture as `name` in the case's folder.
fn board(d: &Path, name: &str) {
    std::fs::copy(fixture("board_samples.csv"), d.join(name)).unwrap();
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// `rel` still holds the board fixture, byte for byte.
fn board_intact(d: &Path, rel: &str) {
    assert_eq!(
        std::fs::read(d.join(rel)).unwrap(),
        std::fs::read(fixture("board_samples.csv")).unwrap(),
        "{rel} changed"
    );
}

/// Run oneproxy in `d` as part of a case's setup; it must succeed.
fn setup_run(d: &Path, args: &[&str]) {
    oneproxy().current_dir(d).args(args).assert().success();
}

/// A report folder received from someone else whose marker lists paths outside it.
fn hostile_marker(d: &Path) {
    std::fs::write(d.join("victim.txt"), "precious\n").unwrap();
    std::fs::write(d.join("abs.txt"), "precious too\n").unwrap();
    let rep = d.join("rep");
    std::fs::create_dir(&rep).unwrap();
    std::fs::write(rep.join("report.json"), "{}").unwrap();
    let marker = serde_json::json!({
        "written_by": "oneproxy",
        "version": "0.1.0",
        "files": ["report.json", "../victim.txt", d.join("abs.txt").display().to_string()],
    });
    std::fs::write(rep.join(".oneproxy-report.json"), marker.to_string()).unwrap();
}

fn victims_intact(d: &Path) {
    assert_eq!(std::fs::read_to_string(d.join("victim.txt")).unwrap(), "precious\n");
    assert_eq!(std::fs::read_to_string(d.join("abs.txt")).unwrap(), "precious too\n");
    assert_eq!(std::fs::read_to_string(d.join("rep/report.json")).unwrap(), "{}");
}

/// `s.csv` (the board fixture) and a predictor adapted from it, `pred.json`.
fn predictor(d: &Path) {
    board(d, "s.csv");
    setup_run(d, &["adapt", "--proxy", "pixel3", "--samples", "s.csv", "--out", "pred.json"]);
}

/// A predictor whose proxy, `myproxy`, comes from a user file; then that file holds other numbers.
fn predictor_on_a_user_proxy(d: &Path) {
    // 60 planned architectures, measured (in this story) at 1 ms + 0.1 ms per row.
    setup_run(d, &["plan", "--budget", "60", "--proxy", "pixel3", "--device-name", "myproxy", "--out", "plan.csv"]);
    let planned = std::fs::read_to_string(d.join("plan.csv")).unwrap();
    let proxy = |scale: f64| -> String {
        let mut lines = planned.lines();
        let mut out = format!("{}\n", lines.next().unwrap());
        for (i, l) in lines.enumerate() {
            out.push_str(&format!("{}{}\n", l, scale * (1.0 + 0.1 * i as f64)));
        }
        out
    };
    std::fs::write(d.join("proxy.csv"), proxy(1.0)).unwrap();
    board(d, "s.csv");
    setup_run(
        d,
        &[
            "adapt",
            "--latency",
            "proxy.csv",
            "--proxy",
            "myproxy",
            "--form",
            "measured-counts",
            "--samples",
            "s.csv",
            "--out",
            "pred.json",
        ],
    );
    std::fs::write(d.join("proxy.csv"), proxy(2.0)).unwrap();
}

/// A measurement log written with batch 1.
fn log_at_batch_1(d: &Path) {
    setup_run(
        d,
        &[
            "measure",
            "--space",
            "nb201",
            "--arch",
            CELL,
            "--runner-cmd",
            "echo latency_ms: 1; : {model}",
            "--warmup",
            "0",
            "--runs",
            "1",
            "--device-name",
            "board",
            "--out",
            "m.csv",
        ],
    );
}

/// `plan` has written `p.csv` once already.
fn planned_once(d: &Path) {
    setup_run(d, &["plan", "--budget", "3", "--proxy", "pixel3", "--out", "p.csv"]);
}

fn fifo_named(d: &Path, name: &str) {
    let ok = std::process::Command::new("mkfifo").arg(d.join(name)).status().unwrap().success();
    assert!(ok, "mkfifo");
}

fn nothing_outside(d: &Path) {
    let parent = d.parent().unwrap();
    assert!(!parent.join("evil.csv").exists() && !d.join("evil.csv").exists(), "a file was written from a device name");
}

fn no_litter(d: &Path) {
    for e in std::fs::read_dir(d).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.contains("oneproxy-tmp") && !n.ends_with(".tmp"), "left behind: {n}");
    }
}

fn cases() -> Vec<Case> {
    let c = |name, args, files, code, stderr, keep| Case {
        name,
        args,
        files,
        setup: None,
        code,
        stderr,
        keep,
        after: None,
    };
    vec![
        // --- never destroy what we did not write ---
        c("run --out on a user's folder", &["run", "--targets", "raspi4", "--out", "{d}/results"], RESULTS, 1, "not written by oneproxy", RESULTS),
        c("run --out .", &["run", "--targets", "raspi4", "--out", "{d}"], NOTES, 1, "will not replace", NOTES),
        c("run --out ./sub/.. (is .)", &["run", "--targets", "raspi4", "--out", "{d}/sub/.."], &[("notes.txt", "my thesis\n"), ("sub/x", "y")], 1, "will not replace", NOTES),
        c("run --out on a file", &["run", "--targets", "raspi4", "--out", "{d}/notes.txt"], NOTES, 1, "notes.txt", NOTES),
        Case { setup: Some(fifo), ..c("plan --out a FIFO", &["plan", "--budget", "3", "--proxy", "pixel3", "--out", "{d}/pipe.csv"], &[], 1, "FIFO", &[]) },
        c("plan --out /dev/full", &["plan", "--budget", "3", "--proxy", "pixel3", "--out", "/dev/full"], &[], 1, "character device", &[]),
        Case {
            setup: Some(link_to_real),
            after: Some(link_still_a_link),
            ..c("plan --out a symlink writes through it when forced", &["plan", "--budget", "3", "--proxy", "pixel3", "--out", "{d}/link.csv", "--force"], &[], 0, "", &[])
        },
        Case {
            setup: Some(link_to_real),
            ..c("plan --out a symlink to a user's file is refused", &["plan", "--budget", "3", "--proxy", "pixel3", "--out", "{d}/link.csv"], &[], 1, "not written by oneproxy", &[("real.csv", "old\n")])
        },
        // A report folder from someone else: its marker may not name anything outside it.
        Case { setup: Some(hostile_marker), after: Some(victims_intact), ..c("a received report marker cannot delete outside its folder", &["nas", "--target", "pixel3", "--oracle", "table", "--max-measurements", "8", "--measurements", "{d}/p3.csv", "--out", "{d}/rep"], &[], 1, "not a plain file name", &[]) },
        // Outputs never land on an input, forced or not.
        Case { setup: Some(|d| board(d, "s.csv")), after: Some(|d| board_intact(d, "s.csv")), ..c("adapt --out onto its samples", &["adapt", "--proxy", "pixel3", "--samples", "{d}/s.csv", "--out", "{d}/s.csv", "--force"], &[], 1, "also an input", &[]) },
        Case { setup: Some(|d| { board(d, "s.csv"); std::fs::hard_link(d.join("s.csv"), d.join("h.csv")).unwrap(); }), after: Some(|d| board_intact(d, "s.csv")), ..c("adapt --out onto a hard link of its samples", &["adapt", "--proxy", "pixel3", "--samples", "{d}/s.csv", "--out", "{d}/h.csv"], &[], 1, "also an input", &[]) },
        Case { setup: Some(predictor), after: Some(|d| board_intact(d, "s.csv")), ..c("predict --out onto its --archs", &["predict", "--predictor", "{d}/pred.json", "--archs", "{d}/s.csv", "--out", "{d}/s.csv"], &[], 1, "also an input", &[]) },
        Case { setup: Some(|d| board(d, "my.csv")), after: Some(|d| board_intact(d, "my.csv")), ..c("plan --out onto its --latency", &["plan", "--budget", "5", "--latency", "{d}/my.csv", "--proxy", "pixel3", "--out", "{d}/my.csv"], &[], 1, "also an input", &[]) },
        Case { setup: Some(|d| board(d, "my.csv")), after: Some(|d| board_intact(d, "my.csv")), ..c("search --out-csv onto its --latency", &["search", "--latency", "{d}/my.csv", "--device", "pixel3", "--out-csv", "{d}/my.csv"], &[], 1, "also an input", &[]) },
        // An existing file oneproxy did not write is replaced only with --force; its own is.
        c("plan --out over a user's file", &["plan", "--budget", "3", "--proxy", "pixel3", "--out", "{d}/notes.txt"], NOTES, 1, "--force", NOTES),
        c("plan --out over a user's file with --force", &["plan", "--budget", "3", "--proxy", "pixel3", "--out", "{d}/notes.txt", "--force"], NOTES, 0, "", &[]),
        Case { setup: Some(planned_once), ..c("plan --out over its own earlier output", &["plan", "--budget", "4", "--proxy", "pixel3", "--out", "{d}/p.csv"], &[], 0, "", &[]) },
        c("export --out over a user's file", &["export", "--space", "nb201", "--arch", CELL, "--out", "{d}/notes.txt"], NOTES, 1, "not written by oneproxy", NOTES),
        Case { setup: Some(|d| board(d, "s.csv")), ..c("adapt --out over a user's file", &["adapt", "--proxy", "pixel3", "--samples", "{d}/s.csv", "--out", "{d}/notes.txt"], NOTES, 1, "--force", NOTES) },
        Case { setup: Some(predictor), ..c("predict --out over a user's file", &["predict", "--predictor", "{d}/pred.json", "--all", "--out", "{d}/notes.txt"], NOTES, 1, "--force", NOTES) },
        c("search --plot over a user's file", &["search", "--device", "pixel3", "--plot", "{d}/notes.svg"], &[("notes.svg", "my figure\n")], 1, "--plot", &[("notes.svg", "my figure\n")]),
        c("search --out-csv over a user's file", &["search", "--device", "pixel3", "--out-csv", "{d}/notes.txt"], NOTES, 1, "--out-csv", NOTES),
        c("monotonicity --plot over a user's file", &["monotonicity", "--plot", "{d}/notes.svg"], &[("notes.svg", "my figure\n")], 1, "--force", &[("notes.svg", "my figure\n")]),
        c("nas --manual --export-dir keeps a user's models.csv", &["nas", "--target", "board", "--manual", "--export-dir", "{d}/models", "--measurements", "{d}/b.csv"], &[("models/models.csv", "mine\n")], 1, "not written by oneproxy", &[("models/models.csv", "mine\n")]),
        // Inputs are regular files: no endless read, no hang.
        c("--latency /dev/zero", &["devices", "--latency", "/dev/zero"], &[], 1, "character device", &[]),
        Case { setup: Some(|d| fifo_named(d, "lat.csv")), ..c("--latency a FIFO", &["devices", "--latency", "{d}/lat.csv"], &[], 1, "FIFO", &[]) },
        c("--samples /dev/zero", &["adapt", "--proxy", "pixel3", "--samples", "/dev/zero"], &[], 1, "character device", &[]),
        c("--predictor /dev/zero", &["predict", "--predictor", "/dev/zero", "--all"], &[], 1, "character device", &[]),
        Case { setup: Some(|d| fifo_named(d, "acc.csv")), ..c("--accuracy-file a FIFO", &["search", "--device", "pixel3", "--accuracy-file", "{d}/acc.csv"], &[], 1, "FIFO", &[]) },
        Case { setup: Some(predictor), ..c("--archs /dev/zero", &["predict", "--predictor", "{d}/pred.json", "--archs", "/dev/zero"], &[], 1, "/dev/zero: is a character device", &[]) },
        Case { setup: Some(|d| fifo_named(d, "m.csv")), ..c("nas --measurements a FIFO", &["nas", "--target", "pixel3", "--oracle", "table", "--measurements", "{d}/m.csv"], &[], 1, "FIFO", &[]) },
        // One latency check wherever a latency enters.
        Case { setup: Some(|d| std::fs::copy(fixture("mixed_units.csv"), d.join("s.csv")).map(|_| ()).unwrap()), ..c("adapt --samples in mixed units warns", &["adapt", "--proxy", "pixel3", "--samples", "{d}/s.csv"], &[], 0, "different units", &[]) },
        c("nas --measurements with an implausible value warns", &["nas", "--target", "board", "--manual", "--measurements", "{d}/b.csv"], &[("b.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1e306\n")], 3, "implausibly slow", &[]),
        // A log keeps its settings.
        Case { setup: Some(log_at_batch_1), ..c("measure --resume at another batch", &["measure", "--space", "nb201", "--arch", CELL2, "--runner-cmd", "echo latency_ms: 1; : {model}", "--batch", "64", "--device-name", "board", "--resume", "--out", "{d}/m.csv"], &[], 1, "batch = 1 (now 64)", &[]) },
        Case { setup: Some(log_at_batch_1), ..c("measure --resume with --prune-dead", &["measure", "--space", "nb201", "--arch", CELL2, "--runner-cmd", "echo latency_ms: 1; : {model}", "--prune-dead", "--device-name", "board", "--resume", "--out", "{d}/m.csv"], &[], 1, "prune_dead = false (now true)", &[]) },
        Case { setup: Some(log_at_batch_1), ..c("measure --resume with another runner", &["measure", "--space", "nb201", "--arch", CELL2, "--runner-cmd", "echo latency_ms: 2; : {model}", "--device-name", "board", "--resume", "--out", "{d}/m.csv"], &[], 1, "(now external: echo latency_ms: 2", &[]) },
        Case { setup: Some(log_at_batch_1), ..c("nas on a log measured by another engine", &["nas", "--target", "board", "--oracle", "table", "--latency", "{d}/m.csv", "--measurements", "{d}/m.csv"], &[], 1, "engine = external", &[]) },
        // Smaller ones.
        c("nas with accuracies for fewer architectures than samples", &["nas", "--target", "pixel3", "--oracle", "table", "--accuracy-file", "{d}/a.csv", "--measurements", "{d}/p.csv"], &[("a.csv", "arch,accuracy\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10\n|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|,20\n")], 1, "can measure 2 architectures", &[]),
        Case { setup: Some(predictor_on_a_user_proxy), ..c("predict with another proxy file than it was fitted on", &["predict", "--predictor", "{d}/pred.json", "--latency", "{d}/proxy.csv", "--all"], &[], 1, "other measurements of 'myproxy'", &[]) },
        Case { after: Some(nothing_outside), ..c("a device name that is a path", &["nas", "--target", "../evil", "--manual"], &[], 1, "path separator", &[]) },
        c("a device name with an invisible character", &["plan", "--budget", "3", "--device-name", "my\u{200B}board"], &[], 2, "U+200B", &[]),
        c("an evolution population beyond reason", &["search", "--device", "pixel3", "--method", "evolution", "--population", "1000000000"], &[], 1, "at most 100000", &[]),

        c("measure --out a folder", &["measure", "--space", "nb201", "--arch", CELL, "--runner-cmd", "echo latency_ms: 1; : {model}", "--out", "{d}/results"], RESULTS, 1, "is a directory", RESULTS),
        Case {
            after: Some(no_litter),
            ..c("a failing run leaves no litter", &["run", "--targets", "nosuchdevice", "--out", "{d}/report"], NOTES, 1, "unknown device 'nosuchdevice'", NOTES)
        },
        // --- no panics, no hangs ---
        c("runner that hangs", &["measure", "--space", "nb201", "--arch", CELL, "--runner-cmd", "sleep 30; : {model}", "--runner-timeout", "1", "--warmup", "0", "--runs", "1", "--out", "{d}/m.csv"], &[], 1, "--runner-timeout", &[]),
        c("runner prints ms and FPS", &["measure", "--space", "nb201", "--arch", CELL, "--runner-cmd", "echo '4.20 ms, 238.1 FPS'; : {model}", "--warmup", "0", "--runs", "1", "--out", "{d}/m.csv"], &[], 1, "latency_ms", &[]),
        c("runner prints a thousands separator", &["measure", "--space", "nb201", "--arch", CELL, "--runner-cmd", "echo 1,234.5; : {model}", "--warmup", "0", "--runs", "1", "--out", "{d}/m.csv"], &[], 1, "1,234.5", &[]),
        c("runner prints an error with exit 0", &["measure", "--space", "nb201", "--arch", CELL, "--runner-cmd", "echo 'Error at node 17'; : {model}", "--warmup", "0", "--runs", "1", "--out", "{d}/m.csv"], &[], 1, "node 17", &[]),
        c("measure --resume with a non-number", &["measure", "--space", "nb201", "--arch", CELL, "--runner-cmd", "echo latency_ms: 1; : {model}", "--resume", "--device-name", "board", "--out", "{d}/m.csv"], &[("m.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,banana\n")], 1, "banana", &[("m.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,banana\n")]),
        // The warning comes before anything is measured; the folder as --out then stops it.
        c("measure --sample beyond the space", &["measure", "--space", "nb201", "--sample", "20000", "--runner-cmd", "exit 1; : {model}", "--out", "{d}/results", "--runs", "1"], RESULTS, 1, "15625", RESULTS),
        Case { setup: Some(|d| scaled(d, 1e-300)), ..c("adapt on latencies of 1e-300 ms", &["adapt", "--proxy", "pixel3", "--samples", "{d}/scaled.csv", "--json"], &[], 0, "", &[]) },
        Case { setup: Some(|d| scaled(d, 1e300)), ..c("adapt on latencies of 1e300 ms", &["adapt", "--proxy", "pixel3", "--samples", "{d}/scaled.csv", "--json"], &[], 0, "", &[]) },
        // --- no exit 0 with wrong or unusable output ---
        c("a device's own samples are not a score", &["evaluate", "adapt", "--latency", "{d}/s.csv", "--targets", "board", "--proxy", "pixel3", "--samples", "3"], &[("s.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1.0\n|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|,2.0\n|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|,3.0\n|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|,4.0\n")], 1, "cannot be scored", &[]),
        c("plan beyond the space is said", &["plan", "--budget", "20000", "--proxy", "pixel3", "--out", "{d}/p.csv"], &[], 0, "15625", &[]),
        c("implausible latency warned", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,2e-7\n")], 0, "warning", &[]),
        c("accuracy over 100", &["search", "--accuracy-file", "{d}/a.csv", "--device", "pixel3"], &[("a.csv", "arch,accuracy\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,140\n")], 1, "[0, 100]", &[]),
        c("header arch,arch", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,arch\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1\n")], 1, "arch", &[]),
        c("duplicate --targets", &["evaluate", "nas", "--targets", "raspi4,raspi4"], &[], 1, "twice", &[]),
        c("--threshold out of range", &["evaluate", "nas", "--targets", "raspi4", "--threshold", "2"], &[], 2, "[-1, 1]", &[]),
        c("--threshold NaN", &["evaluate", "nas", "--targets", "raspi4", "--threshold", "NaN"], &[], 2, "--threshold", &[]),
        c("--max-samples 0", &["evaluate", "nas", "--targets", "raspi4", "--max-samples", "0"], &[], 2, "at least 1", &[]),
        c("--layers 0", &["evaluate", "nas", "--targets", "raspi4", "--layers", "0"], &[], 2, "at least 1", &[]),
        c("device name with a comma", &["plan", "--budget", "3", "--device-name", "a,b"], &[], 2, "comma", &[]),
        c("empty device name", &["plan", "--budget", "3", "--device-name", ""], &[], 2, "device name", &[]),
        c("device name with a newline", &["plan", "--budget", "3", "--device-name", "a\nb"], &[], 2, "device name", &[]),
        // --- errors people can act on ---
        c("missing file: cause said once", &["adapt", "--proxy", "pixel3", "--samples", "{d}/nope.csv"], &[], 1, "nope.csv: No such file or directory (os error 2)", &[]),
        Case { setup: Some(huge_cell), ..c("a huge value is cut", &["devices", "--latency", "{d}/huge.csv"], &[], 1, "characters in all", &[]) },
        c("near-miss device name", &["monotonicity", "--devices", "pixel 3,raspi4"], &[], 1, "did you mean 'pixel3'", &[]),
        c("negative constraint", &["evaluate", "nas", "--targets", "raspi4", "--constraint", "-1"], &[], 2, "positive number of ms", &[]),
        c("the proxy as a target", &["run", "--proxy", "fpga", "--targets", "raspi4,fpga", "--out", "{d}/r"], &[], 1, "'fpga' is the proxy", &[]),
        c("unknown space", &["devices", "--space", "nb202"], &[], 2, "nb201", &[]),
        // --- the strict CSV cases ---
        c("non-numeric latency", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,fast\n")], 1, "b.csv:2: column 'board': invalid value 'fast'", &[]),
        c("NaN latency", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,NaN\n")], 1, "NaN", &[]),
        c("zero latency", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,0\n")], 1, "> 0", &[]),
        c("negative latency", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,-2\n")], 1, "> 0", &[]),
        c("malformed architecture", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,board\n|conv~0|,1\n")], 1, "b.csv:2", &[]),
        c("duplicate architecture", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,board\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,2\n")], 1, "duplicate row", &[]),
        c("duplicate device", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch,pixel3\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1\n")], 1, "already defined", &[]),
        c("no device column", &["devices", "--latency", "{d}/b.csv"], &[("b.csv", "arch\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")], 1, "no device column", &[]),
        c("unknown target", &["evaluate", "adapt", "--targets", "nosuch", "--proxy", "pixel3"], &[], 1, "unknown device 'nosuch'", &[]),
        c("two-device plan CSV as samples", &["adapt", "--proxy", "pixel3", "--samples", "{d}/s.csv"], &[("s.csv", "arch,a,b\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,2\n")], 1, "--target", &[]),
    ]
}

#[test]
fn hostile_input_matrix() {
    let _ = CELL2;
    let all = cases();
    let mut failures = Vec::new();
    for case in &all {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (rel, text) in case.files {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        if let Some(setup) = case.setup {
            setup(d);
        }
        let args: Vec<String> = case.args.iter().map(|a| a.replace("{d}", &d.display().to_string())).collect();
        let out = oneproxy().current_dir(d).args(&args).timeout(std::time::Duration::from_secs(60)).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut problems = Vec::new();
        if out.status.code() != Some(case.code) {
            problems.push(format!("exit {:?}, expected {}", out.status.code(), case.code));
        }
        if !stderr.contains(case.stderr) {
            problems.push(format!("stderr lacks '{}'", case.stderr));
        }
        if stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        for kind in ["invalid parameter:", "engine error:"] {
            if stderr.matches(kind).count() > 1 {
                problems.push(format!("'{kind}' said more than once"));
            }
        }
        if stderr.len() > 4000 {
            problems.push(format!("stderr is {} bytes", stderr.len()));
        }
        for (rel, text) in case.keep {
            match std::fs::read_to_string(d.join(rel)) {
                Ok(t) if t == *text => {}
                Ok(_) => problems.push(format!("{rel} was changed")),
                Err(e) => problems.push(format!("{rel} is gone: {e}")),
            }
        }
        if let Some(after) = case.after {
            if let Err(e) = std::panic::catch_unwind(|| after(d)) {
                problems.push(format!(
                    "check failed: {:?}",
                    e.downcast_ref::<String>().map(String::as_str).or(e.downcast_ref::<&str>().copied())
                ));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n    stderr: {}", case.name, problems.join("; "), stderr.trim()));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), all.len(), failures.join("\n"));
    eprintln!("{} hostile-input cases passed", all.len());
}
