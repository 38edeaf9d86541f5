//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;

/// The binary under test.
pub fn oneproxy() -> Command {
    Command::cargo_bin("oneproxy").unwrap()
}

/// Run with `args`, expect success, parse stdout as JSON.
pub fn json(args: &[&str]) -> Value {
    let out = oneproxy().args(args).assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("stdout is JSON")
}

/// Run with `args`, expect failure, return stderr.
pub fn stderr_of(args: &[&str]) -> String {
    let out = oneproxy().args(args).assert().failure().get_output().clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}
