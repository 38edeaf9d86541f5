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

#[test]
fn a_fleet_with_an_unknown_or_repeated_target_is_refused() {
    let err = stderr_of(&["evaluate", "fleet", "--targets", "pixel2,nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
    let err = stderr_of(&["evaluate", "fleet", "--targets", "pixel2,pixel2"]);
    assert!(err.contains("twice"), "{err}");
    let err = stderr_of(&["evaluate", "fleet", "--targets", "pixel2", "--concurrency", "0"]);
    assert!(err.contains("at least 1"), "{err}");
}
