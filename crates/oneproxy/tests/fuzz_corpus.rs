//! The fuzz corpus (`fuzz/corpus/<target>/`) replayed as a normal test, through the
//! same harness functions as the cargo-fuzz targets (`oneproxy::fuzzing`), so that a machine
//! without nightly Rust still checks every input the fuzzer kept: no panic, every invariant.

use oneproxy::fuzzing::{Verdict, TARGETS};
use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

/// Every file of the target's corpus through its harness; returns (accepted, rejected).
fn replay(target: &str) -> (usize, usize) {
    let run = TARGETS.iter().find(|(name, _)| *name == target).map(|(_, f)| *f).expect("a known target");
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{target}: only {} corpus files in {}", files.len(), dir.display());
    let (mut accepted, mut failures) = (0, Vec::new());
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        match std::panic::catch_unwind(|| run(&bytes)) {
            Ok(Verdict::Accepted) => accepted += 1,
            Ok(Verdict::Rejected) => {}
            Err(_) => failures.push(file.display().to_string()),
        }
    }
    assert!(failures.is_empty(), "{target}: harness panicked on {failures:#?}");
    (accepted, files.len() - accepted)
}

/// The corpus must hold valid inputs (so the invariants on accepted inputs ran) as well as
/// invalid ones (so the error paths ran).
fn replay_both_kinds(target: &str) {
    let (accepted, rejected) = replay(target);
    assert!(accepted > 0, "{target}: no corpus input was accepted");
    assert!(rejected > 0, "{target}: no corpus input was rejected");
}

#[test]
fn fuzz_corpus_latency_csv() {
    replay_both_kinds("latency_csv");
}

#[test]
fn fuzz_corpus_arch_string() {
    replay_both_kinds("arch_string");
}

#[test]
fn fuzz_corpus_predictor_json() {
    replay_both_kinds("predictor_json");
}

#[test]
fn fuzz_corpus_accuracy_csv() {
    replay_both_kinds("accuracy_csv");
}

#[test]
fn every_fuzz_target_has_a_corpus_and_a_harness() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut dirs: Vec<String> = std::fs::read_dir(fuzz.join("corpus"))
        .expect("fuzz/corpus exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut targets: Vec<String> = std::fs::read_dir(fuzz.join("fuzz_targets"))
        .expect("fuzz/fuzz_targets exists")
        .filter_map(|e| e.expect("entry").file_name().to_string_lossy().strip_suffix(".rs").map(str::to_string))
        .collect();
    targets.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(dirs, known, "corpus folders vs oneproxy::fuzzing::TARGETS");
    assert_eq!(targets, known, "fuzz/fuzz_targets vs oneproxy::fuzzing::TARGETS");
}
