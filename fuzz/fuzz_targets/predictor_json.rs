//! Fuzz target `predictor_json`: the harness and its invariants live in `oneproxy::fuzzing::predictor_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    oneproxy::fuzzing::predictor_json(data);
});
